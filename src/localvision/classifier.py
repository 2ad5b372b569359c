"""A model loaded once and reused: the Python API's Classifier, and how one is loaded.

`Classifier.predict` walks the road (road.py) with the backend called directly, in this thread;
the server walks the same road through its micro-batcher (server/state.py). Nothing here knows
whether it was called from HTTP, the CLI or a notebook.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from . import weights as weights_mod
from .config import Settings
from .engine.base import Backend
from .engine.factory import make_backend
from .errors import WeightsDownloadFailed, WeightsMissing
from .imaging import ImageSource
from .models import ModelSpec, get_spec
from .prepare import Preparer
from .results import Result, source_name
from .road import Item, Road, probabilities


class Classifier:
    """`predict(inputs, top_k)` for any mix of paths, bytes, file objects and PIL images."""

    def __init__(
        self,
        spec: ModelSpec,
        backend: Backend,
        settings: Settings,
        *,
        weights: weights_mod.Located | None = None,
        notice: str | None = None,
        preparer=None,
    ):
        self.spec = spec
        self.backend = backend
        self.settings = settings
        self.weights_path = weights.path if weights else None
        self.weights_origin = weights.origin if weights else None
        self.notice = notice  # e.g. why `auto` fell back to another model
        self.preparer = preparer or Preparer(
            spec.preprocess, max_pixels=settings.max_pixels, exact_decode=settings.exact_decode
        )
        self.road = Road(
            self.preparer,
            spec.labels,
            chunk=settings.batch_size,
            recheck_margin=settings.recheck_margin,
        )

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def labels(self) -> tuple[str, ...]:
        return self.spec.labels

    def prepare(self, source: ImageSource, exact: bool | None = None) -> np.ndarray:
        """One input to the model's (3, H, W) input array, or an InputError."""
        return self.preparer.prepare(source, exact).array

    def probabilities(self, batch) -> np.ndarray:
        """(N, 3, H, W) -> (N, num_classes) probabilities, in backend calls of batch_size."""
        return probabilities(self.backend, batch, self.spec.num_classes, self.settings.batch_size)

    def infer(self, arrays: Sequence) -> np.ndarray:
        """The road's inference step, called directly: prepared arrays -> probabilities."""
        return self.probabilities(self.preparer.stack(arrays))

    def predict(
        self,
        inputs: ImageSource | Iterable[ImageSource],
        top_k: int | None = None,
        *,
        names: Sequence[str] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[Result]:
        """One Result per input, in order. One bad input fails only its own Result."""
        if isinstance(inputs, (str, Path, bytes, bytearray)) or hasattr(inputs, "read") or hasattr(
            inputs, "getpixel"
        ):
            inputs = [inputs]
        items = (
            Item(names[i] if names else source_name(src, i), src) for i, src in enumerate(inputs)
        )
        return self.road.run(
            items,
            top_k or self.settings.top_k,
            self.infer,
            on_chunk=(lambda rows: progress(len(rows))) if progress else None,
        )

    def warm_up(self, max_batch: int) -> None:
        """Run every batch shape the server will use (powers of two up to max_batch) once, so
        the backend allocates its working memory before the first request, not during traffic."""
        crop = self.spec.preprocess.crop
        size = 1
        while size <= max_batch:
            self.backend.infer(np.zeros((size, 3, crop, crop), np.float32))
            size *= 2

    def info(self) -> dict:
        return {
            "name": self.spec.name,
            "title": self.spec.title,
            "num_labels": self.spec.num_classes,
            "backend": self.backend.name,
            "device": self.backend.device,
            "precision": self.backend.precision,
            "weights": {"path": str(self.weights_path), "origin": self.weights_origin},
            "preprocess": self.spec.preprocess.to_dict(),
            "notice": self.notice,
        }


def select_model(
    model: str, weights_file: Path | None, offline: bool
) -> tuple[ModelSpec, weights_mod.Located, str | None]:
    """Pick the model and its weights. `auto` is resnet18 when its weights are here or can be
    downloaded, else efficientnet_lite0 with a notice saying why; a named model never falls back."""
    if model != "auto":
        spec = get_spec(model)
        return spec, weights_mod.resolve(spec, weights_file, offline), None
    spec = get_spec("resnet18")
    try:
        return spec, weights_mod.resolve(spec, weights_file, offline), None
    except (WeightsMissing, WeightsDownloadFailed):
        if weights_file is not None:
            raise
        fallback = get_spec("efficientnet_lite0")
        why = "offline, not in the cache" if offline else "the download failed"
        notice = (
            f"ResNet-18's weights are unavailable ({why}), so the bundled efficientnet_lite0 "
            f"answers. Get them with: localvision weights fetch resnet18"
        )
        return fallback, weights_mod.resolve(fallback, None, offline), notice


def from_settings(settings: Settings) -> Classifier:
    """The classifier a Settings object describes (the CLI and the server both start here)."""
    spec, located, notice = select_model(settings.model, settings.weights, settings.offline)
    backend = make_backend(spec, located.path, settings)
    preparer = None
    if backend.name == "torch" and settings.decodes_on_device:
        from .engine.gpu_decode import DevicePreparer

        cpu = Preparer(spec.preprocess, max_pixels=settings.max_pixels, exact_decode=True)
        preparer = DevicePreparer(
            spec.preprocess, settings.device, max_pixels=settings.max_pixels, cpu=cpu
        )
    return Classifier(spec, backend, settings, weights=located, notice=notice, preparer=preparer)


def load_classifier(model: str | None = None, weights: Path | str | None = None, **options) -> Classifier:
    """Load a model for the Python API. `options` are Settings fields (backend, device,
    precision, exact_decode, batch_size, ...); what is not given comes from the LOCALVISION_*
    environment, then the defaults in config.Settings.

        >>> clf = load_classifier("efficientnet_lite0", precision="fp32")
    """
    given = {"model": model, "weights": Path(weights) if weights is not None else None, **options}
    return from_settings(Settings(**{k: v for k, v in given.items() if v is not None}))

