"""A model loaded once and reused: the Python API's Classifier, and how one is loaded.

`Classifier.predict` walks the road (road.py) with the backend called directly, in this thread;
the server walks the same road through its micro-batcher (server/service/state.py). Nothing here knows
whether it was called from HTTP, the CLI or a notebook.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from .config import Settings
from .engine.base import Backend
from .engine.factory import make_backend
from .imaging import ImageSource
from .models import ModelSpec
from .models.resolve import Resolved, resolve
from .prepare import Preparer
from .results import Answer, Result, source_name
from .road import Item, Road, probabilities
from .text.reader import TextReader


class Classifier:
    """`predict(inputs, top_k)` for any mix of paths, bytes, file objects and PIL images."""

    def __init__(
        self,
        spec: ModelSpec,
        backend: Backend,
        settings: Settings,
        *,
        resolved: Resolved | None = None,
        preparer=None,
    ):
        self.spec = spec
        self.backend = backend
        self.settings = settings
        self.package = resolved.package if resolved else None
        self.weights_path = self.package.weights_file if self.package else None
        self.weights_origin = resolved.origin if resolved else None
        self.notice = resolved.notice if resolved else None  # e.g. why `auto` fell back
        self.notice_code = resolved.notice_code if resolved else None
        self.preparer = preparer or Preparer(
            spec.preprocess, max_pixels=settings.max_pixels, exact_decode=settings.exact_decode
        )
        self.road = Road(
            self.preparer, spec, chunk=settings.batch_size, recheck_margin=settings.recheck_margin,
            reader=TextReader.of(settings),
        )  # fmt: skip

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

    def answer(self, **given) -> Answer:
        """What predict returns for each input: the settings' top_k, lang, min_confidence and
        groups, unless given."""
        return Answer.from_settings(self.settings, **given)

    def predict(
        self,
        inputs: ImageSource | Iterable[ImageSource],
        top_k: int | None = None,
        *,
        lang: str | None = None,
        min_confidence: float | None = None,
        groups: bool | None = None,
        text: bool | None = None,
        names: Sequence[str] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[Result]:
        """One Result per input, in order. One bad input fails only its own Result. lang: the
        labels' language (en, zh); min_confidence: below it an answer is marked uncertain;
        groups: add the common groups (dog, bird, ...) with their summed probability; text: read
        the text in each photo too (Result.text)."""
        if isinstance(inputs, (str, Path, bytes, bytearray)) or hasattr(inputs, "read") or hasattr(
            inputs, "getpixel"
        ):
            inputs = [inputs]
        items = (
            Item(names[i] if names else source_name(src, i), src) for i, src in enumerate(inputs)
        )
        answer = self.answer(
            top_k=top_k, lang=lang, min_confidence=min_confidence, groups=groups, text=text
        )
        return self.road.run(
            items,
            answer,
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
            "languages": list(self.spec.languages),
            "groups": self.spec.groups is not None,
            "metrics": dict(self.spec.metrics) if self.spec.metrics else None,
            "notice": self.notice,
            "notice_code": self.notice_code,
        }


def from_settings(settings: Settings, name: str | None = None) -> Classifier:
    """The classifier a Settings object describes (the CLI and the server both start here):
    the store resolves the name to a package, the engine loads it. `name`: another model than
    settings.model (the server loads each of --models this way)."""
    resolved = resolve(settings, name)
    spec = resolved.spec
    backend = make_backend(resolved.package, spec, settings)
    preparer = None
    if backend.name == "torch" and settings.decodes_on_device:
        from .prepare.device import DevicePreparer

        cpu = Preparer(spec.preprocess, max_pixels=settings.max_pixels, exact_decode=True)
        preparer = DevicePreparer(
            spec.preprocess, settings.device, max_pixels=settings.max_pixels, cpu=cpu
        )
    return Classifier(spec, backend, settings, resolved=resolved, preparer=preparer)


def load_classifier(model: str | None = None, weights: Path | str | None = None, **options) -> Classifier:
    """Load a model for the Python API. `options` are Settings fields (backend, device,
    precision, exact_decode, batch_size, ...); what is not given comes from the LOCALVISION_*
    environment, then the defaults in config.Settings.

        >>> clf = load_classifier("efficientnet_lite0", precision="fp32")
    """
    given = {"model": model, "weights": Path(weights) if weights is not None else None, **options}
    return from_settings(Settings(**{k: v for k, v in given.items() if v is not None}))

