"""Sampled frames down the road, in batches: a video's frames -> (frame, Result) in order.

The frames are passed to the road as decoded PIL images (the road takes them as it takes any
image: no second preprocess, no second top-k); the answer keeps each frame's whole
distribution (`Answer.probabilities`), which smoothing.py averages and votes on.

A batch goes to the model when it holds `batch` sampled frames, or when `hold` frames (sampled
or not) are waiting for it: a caller that wants every frame (annotate.py draws each one with the
label of the latest sample) keeps them until their sample is answered, and `hold` bounds that
memory (64 decoded 1080p frames are about 200 MB). A live source sends each sample at once
(`batch=1`), since waiting for a batch to fill would delay the label by the batch's span.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from ..results import Answer, Result
from ..road import Item
from .sources import Frame

HOLD = 64


def classify_frames(
    clf,
    frames: Iterable[Frame],
    *,
    answer: Answer | None = None,
    batch: int | None = None,
    every_frame: bool = False,
    hold: int = HOLD,
) -> Iterator[tuple[Frame, Result | None]]:
    """(frame, its Result) for each sampled frame in order; with every_frame, also the others,
    as (frame, None), in their place. `clf`: a classifier.Classifier (its road, its infer)."""
    answer = answer or clf.answer(probabilities=True)
    batch = batch or clf.settings.batch_size
    waiting: list[Frame] = []
    sampled = 0

    def flush():
        todo = [f for f in waiting if f.sampled]
        results = iter(
            clf.road.run(
                (Item(f"frame {f.index}", f.image) for f in todo), answer, clf.infer
            )
            if todo
            else ()
        )
        out = [(f, next(results) if f.sampled else None) for f in waiting]
        waiting.clear()
        return out

    for frame in frames:
        if not (frame.sampled or every_frame):
            continue
        waiting.append(frame)
        sampled += frame.sampled
        if sampled >= batch or len(waiting) >= hold:
            yield from flush()
            sampled = 0
    yield from flush()


def frame_row(frame: Frame, result: Result) -> dict:
    """One sampled frame as the CLI writes it: time (s), frame index, then the answer."""
    return {"time": round(frame.time, 3), "frame": frame.index, **result.to_dict()}
