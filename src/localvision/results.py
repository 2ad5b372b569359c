"""What the road returns, at the bottom of the house: Prediction, Result, softmax and top-k.

Everything above (the road, the engine, the server, the CLI) imports from here; this module
imports nothing of localvision but the errors, so no layer has to reach up for its results.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .errors import LocalVisionError


@dataclass(frozen=True)
class Prediction:
    label: str
    index: int
    probability: float

    def to_dict(self) -> dict:
        return {"label": self.label, "index": self.index, "probability": self.probability}


@dataclass
class Result:
    """The outcome for one input: predictions, or an error; never both.

    sha256: of the input's bytes, when the caller asked for it (the service records it in the
    history, so a photo can be found again without keeping it)."""

    source: str
    predictions: list[Prediction] = field(default_factory=list)
    error: LocalVisionError | None = None
    sha256: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        return {
            "predictions": [p.to_dict() for p in self.predictions],
            "error": self.error.to_dict() if self.error else None,
        }


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (then float32), stable for any logit scale."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z, dtype=np.float64)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def top_predictions(probs: np.ndarray, labels: Sequence[str], k: int) -> list[Prediction]:
    """The k most probable classes, most probable first (ties keep class order)."""
    k = max(1, min(int(k), len(labels)))
    idx = np.argpartition(-probs, k - 1)[:k] if k < len(probs) else np.arange(len(probs))
    idx = idx[np.argsort(-probs[idx], kind="stable")]
    return [Prediction(labels[i], int(i), float(probs[i])) for i in idx]


def source_name(source: object, position: int) -> str:
    """How a result names its input: the path, a file object's name, else its position."""
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    name = getattr(source, "name", None) or getattr(source, "filename", None)
    return str(name) if name else f"<input {position}>"

