"""The one road: inputs -> decode -> preprocess -> batch -> backend -> softmax, top-k -> Results.

Nothing here knows whether it was called from HTTP or the CLI.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, NamedTuple, Sequence

import numpy as np

from . import weights as weights_mod
from .engine.base import Backend, check_outputs
from .engine.factory import make_backend
from .errors import CorruptImage, InputError, LocalVisionError, WeightsDownloadFailed, WeightsMissing
from .imaging import ImageSource, decode_picture, read_source
from .models import ModelSpec, get_spec
from .transforms import to_array


@dataclass(frozen=True)
class Prediction:
    label: str
    index: int
    probability: float

    def to_dict(self) -> dict:
        return {"label": self.label, "index": self.index, "probability": self.probability}


@dataclass
class Result:
    """The outcome for one input: predictions, or an error; never both."""

    source: str
    predictions: list[Prediction] = field(default_factory=list)
    error: LocalVisionError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        return {
            "predictions": [p.to_dict() for p in self.predictions],
            "error": self.error.to_dict() if self.error else None,
        }


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z, dtype=np.float64)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def top_predictions(probs: np.ndarray, labels: Sequence[str], k: int) -> list[Prediction]:
    k = max(1, min(int(k), len(labels)))
    idx = np.argpartition(-probs, k - 1)[:k] if k < len(probs) else np.arange(len(probs))
    idx = idx[np.argsort(-probs[idx], kind="stable")]
    return [Prediction(labels[i], int(i), float(probs[i])) for i in idx]


def source_name(source: ImageSource, position: int) -> str:
    if isinstance(source, (str, Path)):
        return str(source)
    name = getattr(source, "name", None) or getattr(source, "filename", None)
    return str(name) if name else f"<input {position}>"


class Prepared(NamedTuple):
    """A preprocessed input. The fast path decodes big JPEGs at a reduced scale (DCT-domain,
    >= 1.5x the resize target) and lets the antialiased resize finish; `recheck` then keeps the
    bytes, so a near-tie answer can be checked against the full decode (Classifier.near_ties)."""

    array: np.ndarray
    recheck: bytes | None = None


class Classifier:
    """A model loaded once and reused: `predict(inputs, top_k)` for any mix of paths, bytes, file
    objects and PIL images."""

    def __init__(
        self,
        spec: ModelSpec,
        backend: Backend,
        *,
        weights_path: Path | None = None,
        weights_origin: str | None = None,
        notice: str | None = None,
        max_pixels: int = 50_000_000,
        max_bytes: int | None = None,
        exact_decode: bool = False,
        recheck_margin: float = 0.05,
        batch_size: int = 16,
    ):
        self.spec = spec
        self.backend = backend
        self.weights_path = weights_path
        self.weights_origin = weights_origin
        self.notice = notice  # e.g. why `auto` fell back to another model
        self.max_pixels = max_pixels
        self.max_bytes = max_bytes
        self.batch_size = batch_size
        # exact: torchvision's arithmetic bit for bit; else the fast path (transforms, imaging).
        self.exact_decode = exact_decode
        self.recheck_margin = recheck_margin

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def labels(self) -> tuple[str, ...]:
        return self.spec.labels

    def prepare(self, source: ImageSource, exact: bool | None = None) -> np.ndarray:
        """One input to a (3, H, W) float32 array, or an InputError."""
        return self._prepare(source, exact).array

    def try_prepare(
        self, source: ImageSource, exact: bool | None = None
    ) -> Prepared | InputError:
        """prepare(), with an input error returned rather than raised (for batch callers)."""
        try:
            return self._prepare(source, exact)
        except InputError as exc:
            return exc

    def _prepare(self, source: ImageSource, exact: bool | None) -> Prepared:
        exact = self.exact_decode if exact is None else exact
        data = read_source(source, self.max_bytes)
        try:
            pic = decode_picture(
                data,
                max_pixels=self.max_pixels,
                draft_min_side=None if exact else self.spec.preprocess.draft_side,
            )
            array = to_array(pic.image, self.spec.preprocess, box=pic.box, exact=exact)
        except LocalVisionError:
            raise
        except Exception as exc:  # an odd file tripping Pillow or numpy fails its own row only
            raise CorruptImage(f"The image could not be processed ({type(exc).__name__}).") from None
        return Prepared(array, data if pic.reduced else None)

    def full_decode(self, prepared: Prepared) -> np.ndarray | None:
        """The exact array for a reduced-scale input (None if the full decode fails, which leaves
        the fast answer standing)."""
        item = self.try_prepare(prepared.recheck, exact=True)
        return None if isinstance(item, InputError) else item.array

    def near_ties(self, probs: np.ndarray, prepared: Sequence[Prepared]) -> list[int]:
        """Rows decoded at a reduced scale whose top two probabilities are closer than
        recheck_margin: the caller decodes them again in full and uses that answer instead.

        A reduced-scale decode is a slightly blurred copy of the full one; on a near-tie that is
        enough to swap the top two labels (1-5% of tie-heavy photo sets, all within 2.5 points).
        Re-checking those rows makes the fast path agree with --exact-decode."""
        reduced = [i for i, p in enumerate(prepared) if p.recheck is not None]
        if not self.recheck_margin or not reduced:
            return []
        top = np.partition(probs[reduced], -2, axis=1)  # [:, -1] is the largest, [:, -2] next
        close = top[:, -1] - top[:, -2] < self.recheck_margin
        return [i for i, c in zip(reduced, close) if c]

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """(N, 3, H, W) -> (N, num_classes) probabilities, in chunks of batch_size."""
        out = []
        for start in range(0, len(batch), self.batch_size):
            chunk = batch[start : start + self.batch_size]
            logits = check_outputs(chunk, self.backend.infer(chunk), self.spec.num_classes)
            out.append(softmax(logits))
        return np.concatenate(out) if out else np.zeros((0, self.spec.num_classes), np.float32)

    def predict(
        self,
        inputs: ImageSource | Iterable[ImageSource],
        top_k: int = 3,
        *,
        names: Sequence[str] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[Result]:
        """One Result per input, in order. One bad input fails only its own Result."""
        if isinstance(inputs, (str, Path, bytes, bytearray)) or hasattr(inputs, "read") or hasattr(
            inputs, "getpixel"
        ):
            inputs = [inputs]
        inputs = list(inputs)
        results = [
            Result(names[i] if names else source_name(src, i)) for i, src in enumerate(inputs)
        ]
        # Decoding (Pillow releases the GIL) overlaps across threads; the model batches.
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            for start in range(0, len(inputs), self.batch_size):
                self._predict_chunk(inputs, results, start, top_k, pool)
                if progress:
                    progress(min(start + self.batch_size, len(inputs)) - start)
        return results

    def _predict_chunk(self, inputs, results, start, top_k, pool) -> None:
        stop = min(start + self.batch_size, len(inputs))
        prepared, rows = [], []
        for i, item in zip(range(start, stop), pool.map(self.try_prepare, inputs[start:stop])):
            if isinstance(item, InputError):
                results[i].error = item
            else:
                prepared.append(item)
                rows.append(i)
        if not prepared:
            return
        probs = self.probabilities(np.stack([p.array for p in prepared]))
        redo = self.near_ties(probs, prepared)
        if redo:
            exact = pool.map(lambda j: self.full_decode(prepared[j]), redo)
            rows_arrays = [(j, a) for j, a in zip(redo, exact) if a is not None]
            if rows_arrays:
                probs[[j for j, _ in rows_arrays]] = self.probabilities(
                    np.stack([a for _, a in rows_arrays])
                )
        for row, p in zip(rows, probs):
            results[row].predictions = top_predictions(p, self.labels, top_k)

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


def load_classifier(
    model: str = "auto",
    weights: Path | str | None = None,
    *,
    offline: bool = False,
    backend: str = "auto",
    device: str = "cpu",
    precision: str = "auto",
    max_pixels: int = 50_000_000,
    max_bytes: int | None = None,
    exact_decode: bool = False,
    recheck_margin: float = 0.05,
    batch_size: int = 16,
) -> Classifier:
    weights_file = Path(weights) if weights is not None else None
    spec, located, notice = select_model(model, weights_file, offline)
    return Classifier(
        spec,
        make_backend(spec, located.path, backend, device, precision),
        weights_path=located.path,
        weights_origin=located.origin,
        notice=notice,
        max_pixels=max_pixels,
        max_bytes=max_bytes,
        exact_decode=exact_decode,
        recheck_margin=recheck_margin,
        batch_size=batch_size,
    )


def from_settings(settings) -> Classifier:
    """The classifier a Settings object describes (the CLI and the server both start here)."""
    return load_classifier(
        settings.model,
        settings.weights,
        offline=settings.offline,
        backend=settings.backend,
        device=settings.device,
        precision=settings.precision,
        max_pixels=settings.max_pixels,
        max_bytes=settings.max_upload_bytes,
        exact_decode=settings.exact_decode,
        recheck_margin=settings.recheck_margin,
        batch_size=settings.batch_size,
    )
