"""Smooth the answers of sampled frames over a window, and cut them into labelled segments.

Two rules, over the last `window` samples:
- consensus (the default; the rule Frigate uses for its object labels): a sample votes for its
  top-1 label (no vote when it is under `min_confidence`); a label is assigned only when at
  least `agree` of the window's votes are for it, and it stays until another label reaches
  that count. One odd frame, however confident it is, never flips the answer, and a stretch
  where nothing agrees keeps the last label rather than flickering.
- average: the top-1 of the moving average of the window's probabilities. It follows gradual
  changes sooner, but a single very confident odd frame can outweigh several modest right
  ones, which is why it is not the default.
- off: every sample's own top-1.

A segment is a stretch where the smoothed top-1 is the same label: `label`, `start`, `end`
(seconds) and the mean probability of that label over the segment's samples. Smoothing decides
late (after `agree` samples), so a new segment's start is dated back to the first sample of the
run that decided it (the first sample after the old label's last vote), and the old segment
ends there: boundaries land on the sample where the picture changed, not where the smoother
caught up.

`Smoother.push(time, probs)` is incremental and returns the events it caused (a segment
started / ended) for a live stream; `finish(end)` closes the last segment at the end of a file,
or when a live stream is stopped.
"""

from __future__ import annotations

from collections import deque
from copy import copy
from dataclasses import dataclass, field
from typing import Iterable, Literal, Sequence

import numpy as np

from ..errors import InvalidArgument

Method = Literal["consensus", "average", "off"]
METHODS = ("consensus", "average", "off")


@dataclass
class Segment:
    """A stretch of a video with one smoothed label. `end` is None while it is still open."""

    label: str
    index: int  # the class index in the model's labels
    start: float
    end: float | None = None
    confidence: float = 0.0  # the mean probability of `index` over the segment's samples
    samples: int = 0
    english: str | None = None  # the English label, when `label` is in another language
    _sum: float = field(default=0.0, repr=False)

    def _add(self, p: float, n: int = 1) -> None:
        self._sum += p
        self.samples += n
        self.confidence = self._sum / self.samples if self.samples else 0.0

    def to_dict(self) -> dict:
        out = {
            "label": self.label,
            "index": self.index,
            "start": round(self.start, 3),
            "end": None if self.end is None else round(self.end, 3),
            "confidence": round(float(self.confidence), 4),
            "samples": self.samples,
        }
        if self.english is not None:
            out["label_en"] = self.english
        return out


@dataclass(frozen=True)
class Event:
    """A segment started (`kind` "start", at its backdated start) or ended ("end")."""

    kind: Literal["start", "end"]
    segment: Segment

    def to_dict(self) -> dict:
        return {"event": f"segment_{self.kind}", **self.segment.to_dict()}


@dataclass
class _Sample:
    time: float
    top: int  # the sample's own top-1 class index
    vote: int | None  # top, or None under the confidence floor
    probs: np.ndarray
    counted: Segment | None = None  # the segment whose mean confidence includes this sample


class Smoother:
    """Smoothed labels and segments for one stream of sampled answers."""

    def __init__(
        self,
        labels: Sequence[str],
        *,
        method: Method = "consensus",
        window: int = 5,
        agree: int = 3,
        min_confidence: float = 0.0,
        english: Sequence[str] | None = None,
    ):
        if method not in METHODS:
            raise InvalidArgument(f"Smoothing must be one of {', '.join(METHODS)}, not {method!r}.")
        if window < 1:
            raise InvalidArgument(f"The smoothing window must be 1 or more, not {window}.")
        if method == "consensus" and not 1 <= agree <= window:
            raise InvalidArgument(
                f"Consensus needs 1 <= agree <= window; got agree {agree}, window {window}.",
                hint="lower --agree or widen --window",
            )
        self.labels = labels
        self.english = english if english is not None and english is not labels else None
        self.method = method
        self.window = 1 if method == "off" else window
        self.agree = 1 if method == "off" else agree
        self.min_confidence = min_confidence
        self.recent: deque[_Sample] = deque(maxlen=self.window)
        self._sum: np.ndarray | None = None  # the window's summed probabilities (average)
        self.current: Segment | None = None
        self.segments: list[Segment] = []  # closed segments, in order
        self.last_time: float | None = None
        self._step: float | None = None  # the last gap between samples

    @classmethod
    def for_model(cls, spec, settings, lang: str, **given) -> "Smoother":
        """The smoother of a model's answers in `lang` (its English labels beside), with the
        settings' method, window and agreement; `given` overrides them."""
        options = dict(
            method=settings.video_smoothing,
            window=settings.video_window,
            agree=settings.video_agree,
            english=spec.labels,
        )
        options.update(given)
        return cls(spec.labels_in(lang), **options)

    def take(self, time: float, result) -> list[Event]:
        """One frame's answer from the road (a Result with its whole distribution): its
        events; a frame that failed moves nothing (it is the stream's error, not a vote)."""
        if not result.ok or result.probabilities is None:
            return []
        return self.push(time, result.probabilities)

    @property
    def label(self) -> str | None:
        """The smoothed label now (None before the first decision)."""
        return self.current.label if self.current else None

    def push(self, time: float, probs: np.ndarray) -> list[Event]:
        """Add one sampled answer (its time and its (classes,) probabilities); the events it
        caused, in order (an "end" before the "start" that replaced it)."""
        probs = np.asarray(probs, dtype=np.float64)
        top = int(np.argmax(probs))
        vote = top if probs[top] >= self.min_confidence else None
        if self.last_time is not None and time > self.last_time:
            self._step = time - self.last_time
        self.last_time = time
        if self.method == "average":
            if len(self.recent) == self.window:
                self._sum -= self.recent[0].probs
            self._sum = probs.copy() if self._sum is None else self._sum + probs
        sample = _Sample(time, top, vote, probs)
        self.recent.append(sample)
        decided = self._decide()
        events: list[Event] = []
        cur = self.current
        if cur is not None and decided in (None, cur.index):  # the label holds
            cur._add(float(probs[cur.index]))
            sample.counted = cur
        elif decided is not None:
            events += self._switch(decided)
        return events

    def _decide(self) -> int | None:
        """The label the window decides on, or None to keep the current one."""
        if self.method == "average":
            mean = self._sum / len(self.recent)
            best = int(np.argmax(mean))
            return best if mean[best] >= self.min_confidence else None
        votes: dict[int, int] = {}
        for s in self.recent:
            if s.vote is not None:
                votes[s.vote] = votes.get(s.vote, 0) + 1
        if not votes:
            return None
        if self.current is not None and votes.get(self.current.index, 0) >= self.agree:
            return self.current.index  # the current label holds while it still has consensus
        best = max(votes, key=lambda k: (votes[k], self._last_vote_at(k)))
        return best if votes[best] >= self.agree else None

    def _last_vote_at(self, index: int) -> int:
        for i in range(len(self.recent) - 1, -1, -1):
            if self.recent[i].vote == index:
                return i
        return -1

    def _switch(self, index: int) -> list[Event]:
        """End the current segment and start one for `index`, dated back to the first sample
        after the old label's last vote (within the window, after the old segment began)."""
        old = self.current
        window = list(self.recent)
        first = 0
        if old is not None:
            for i, s in enumerate(window):
                if s.top == old.index or s.time <= old.start:
                    first = i + 1
            first = min(first, len(window) - 1)
        start = window[first].time
        new = Segment(
            self.labels[index], index, start,
            english=self.english[index] if self.english is not None else None,
        )  # fmt: skip
        events: list[Event] = []
        for s in window[first:]:
            if old is not None and s.counted is old:  # it now belongs to the new segment
                old._add(-float(s.probs[old.index]), -1)
            new._add(float(s.probs[index]))
            s.counted = new
        if old is not None:
            old.end = start
            self.segments.append(old)
            events.append(Event("end", old))
        self.current = new
        events.append(Event("start", new))
        return events

    def finish(self, end: float | None = None, *, short: bool = False) -> list[Event]:
        """Close the open segment at `end` (default: the last sample's time plus one sampling
        step); the events (the "end" of the open segment, if there was one).

        `short`: a recording too short for consensus (fewer samples than `agree`, so nothing
        was ever decided: a one-second clip) gets one segment for its samples' most common
        vote, rather than none at all."""
        events: list[Event] = []
        if short and self.current is None and not self.segments and len(self.recent) < self.agree:
            votes = [s.vote for s in self.recent if s.vote is not None]
            if votes:
                best = max(set(votes), key=lambda k: (votes.count(k), self._last_vote_at(k)))
                # the start as it was (still open), not the segment finish() is about to close
                events += [Event(e.kind, copy(e.segment)) for e in self._switch(best)]
        cur = self.current
        if cur is None:
            return events
        if end is None:
            end = (self.last_time or cur.start) + (self._step or 0.0)
        cur.end = max(end, cur.start)
        self.segments.append(cur)
        self.current = None
        return [*events, Event("end", cur)]

    def all_segments(self) -> list[Segment]:
        """The closed segments and the open one (its end None), in order."""
        return self.segments + ([self.current] if self.current else [])


def segments_of(
    samples: Iterable[tuple[float, np.ndarray]],
    labels: Sequence[str],
    *,
    end: float | None = None,
    **options,
) -> list[Segment]:
    """The segments of a whole recording: (time, probabilities) samples in time order."""
    smoother = Smoother(labels, **options)
    for t, probs in samples:
        smoother.push(t, probs)
    smoother.finish(end)
    return smoother.segments
