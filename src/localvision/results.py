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


# How an answer under the confidence floor is called (the CLI's table, --sort-into's folder).
NOT_SURE = {"en": "not sure", "zh": "不确定"}


@dataclass(frozen=True)
class Prediction:
    label: str  # in the language asked for
    index: int
    probability: float
    label_en: str | None = None  # the English label (None: `label` is English)

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "label_en": self.label_en or self.label,
            "index": self.index,
            "probability": self.probability,
        }


@dataclass(frozen=True)
class GroupPrediction:
    """A common group (dog, bird, car, ...) and the summed probability of its classes."""

    id: str
    label: str
    label_en: str
    probability: float

    def to_dict(self) -> dict:
        return {"id": self.id, "label": self.label, "label_en": self.label_en,
                "probability": self.probability}  # fmt: skip


@dataclass(frozen=True)
class TextLine:
    """A line of text read in a photo: its string, the reader's confidence, and its box as four
    (x, y) points in the upright photo's pixels (clockwise from the line's top-left, as the photo
    is shown: EXIF orientation applied), so a page can draw it over the preview as it is."""

    text: str
    confidence: float
    box: tuple[tuple[float, float], ...]

    def to_dict(self) -> dict:
        return {"text": self.text, "confidence": self.confidence,
                "box": [[x, y] for x, y in self.box]}  # fmt: skip


def text_of(lines: Sequence[TextLine] | None, sep: str = "\n") -> str:
    """The lines read in a photo as one string, in reading order (a CSV cell, an XMP field)."""
    return sep.join(line.text for line in lines or ())


@dataclass(frozen=True)
class Answer:
    """What a caller wants back for each input: how many labels, in which language, the
    confidence floor below which an answer is marked uncertain, whether to add groups, and
    whether to keep the whole distribution (the KServe v2 routes answer it as a tensor), and
    whether to read the text in the photo as well (text.py)."""

    top_k: int
    lang: str
    min_confidence: float
    groups: bool
    probabilities: bool = False
    text: bool = False

    @classmethod
    def from_settings(cls, settings, **given) -> "Answer":
        """The settings' defaults, overridden by what is given (None: not given)."""
        values = {
            "top_k": settings.top_k,
            "lang": settings.lang,
            "min_confidence": settings.min_confidence,
            "groups": settings.groups,
            "text": settings.text,
        }
        values.update({k: v for k, v in given.items() if v is not None})
        return cls(**values)


@dataclass
class Result:
    """The outcome for one input: predictions, or an error; never both.

    sha256: of the input's bytes, when the caller asked for it (the service records it in the
    history, so a photo can be found again without keeping it)."""

    source: str
    predictions: list[Prediction] = field(default_factory=list)
    error: LocalVisionError | None = None
    sha256: str | None = None
    # The top label's probability is below the confidence floor: "not sure", and the top
    # guesses are still given. Never set on an error row.
    uncertain: bool = False
    groups: list[GroupPrediction] | None = None  # asked for with Answer.groups
    probabilities: np.ndarray | None = None  # (classes,) float32, asked for with Answer.probabilities
    text: list[TextLine] | None = None  # asked for with Answer.text; in reading order

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        out = {
            "predictions": [p.to_dict() for p in self.predictions],
            "uncertain": self.uncertain,
            "error": self.error.to_dict() if self.error else None,
        }
        if self.groups is not None:
            out["groups"] = [g.to_dict() for g in self.groups]
        if self.text is not None:
            out["text"] = [line.to_dict() for line in self.text]
        return out


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (then float32), stable for any logit scale."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z, dtype=np.float64)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def top_predictions(
    probs: np.ndarray, labels: Sequence[str], k: int, english: Sequence[str] | None = None
) -> list[Prediction]:
    """The k most probable classes, most probable first (ties keep class order); `english`:
    the English labels when `labels` are another language's."""
    k = max(1, min(int(k), len(labels)))
    idx = np.argpartition(-probs, k - 1)[:k] if k < len(probs) else np.arange(len(probs))
    idx = idx[np.argsort(-probs[idx], kind="stable")]
    return [
        Prediction(labels[i], int(i), float(probs[i]), english[i] if english else None)
        for i in idx
    ]


def source_name(source: object, position: int) -> str:
    """How a result names its input: the path, a file object's name, else its position."""
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    name = getattr(source, "name", None) or getattr(source, "filename", None)
    return str(name) if name else f"<input {position}>"

