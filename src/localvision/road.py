"""The road every input walks, written once: sources -> decode -> preprocess -> infer -> top-k.

    items ──► Decode (a preparer, in the caller's pool) ──► Infer (passed in) ──► near-tie
    re-check ──► softmax, top-k, labels ──► [Read: the text in it] ──► Results, chunk by chunk

What differs between entry points is only *how* the two slow steps run: the CLI and the Python
API decode in a thread pool and call the backend directly; the server decodes in its thread pool
and hands arrays to the micro-batcher (with its deadline); a Ray replica, a video loop or a
training evaluation pass their own. So the road is written as a generator of steps (`Decode`,
`Infer`, `Chunk`) and two small drivers run it, `run` (blocking) and `run_async` (asyncio):
the logic (chunking, per-row errors, the re-check, top-k) exists once, whichever way it is
driven, and a driver cannot change what the answer is.

Reading the text in a photo (Answer.text) is one more step on the same road, for the rows that
decoded: `Read` hands the inputs' bytes to the text reader (text/reader.py) in the driver's pool,
which decodes them again in full with the same safe decoder and limits (the classifier's decode
may be a reduced one) and answers the lines, or a typed error for that row only.

Memory is bounded by the chunk: inputs are pulled from the iterable `chunk` at a time, and a
chunk's arrays are dropped before the next chunk is decoded.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Generator, Iterable, Iterator, Sequence

import numpy as np

from .errors import InferenceFailed, InputError, LocalVisionError, TextReadingUnavailable
from .imaging import ImageSource, read_source
from .models.groups import group_map, top_groups
from .prepare import Prepared
from .results import Answer, GroupPrediction, Result, TextLine, softmax, top_predictions


@dataclass
class Item:
    """One input: what to call it in the results, the source, and an error found before the
    road (a file over the upload limit, a damaged ZIP member), which is then its answer."""

    name: str
    source: ImageSource | None
    error: LocalVisionError | None = None


# --- the steps the road asks its driver for -----------------------------------------------------
@dataclass(frozen=True)
class Decode:
    """Prepare these sources (exact=True: a full decode, for a re-check). The driver runs the
    jobs (`Road.jobs`) and sends back one (Prepared | InputError, sha256 | None) per source."""

    sources: list
    exact: bool | None = None
    digest: bool = False
    keep: bool = False  # keep each input's bytes in its Prepared (for a Read step after)


@dataclass(frozen=True)
class Infer:
    """The model's probabilities, (N, classes), for these prepared arrays."""

    arrays: list


@dataclass(frozen=True)
class Read:
    """Read the text in these inputs (bytes or images, as read by Decode). The driver runs the
    jobs (`Road.jobs`) and sends back one list[TextLine] | LocalVisionError per input."""

    sources: list


@dataclass(frozen=True)
class Chunk:
    """A chunk's results are final (for progress bars, streaming output)."""

    results: list[Result]


Walk = Generator["Decode | Infer | Read | Chunk", Any, list[Result]]
Job = Callable[[], Any]  # a Decode job answers (Prepared | InputError, sha256 | None)


@contextmanager
def backend_failures(what: str) -> Iterator[None]:
    """Around a backend call: a typed error passes as it is; the framework failing in a way of
    its own (an OpenVINO or ONNX Runtime exception) becomes InferenceFailed, `what` saying what
    was being done, never a traceback. Every surface that calls a backend directly uses it."""
    try:
        yield
    except LocalVisionError:
        raise
    except Exception as exc:
        raise InferenceFailed(f"{what} ({type(exc).__name__}: {str(exc)[:200]}).") from exc


def probabilities(backend, batch, num_classes: int, chunk: int) -> np.ndarray:
    """(N, 3, H, W) -> (N, num_classes) probabilities, chunk rows per backend call, with the batch
    contract checked (one row of num_classes scores per input). A backend failing in a way of its
    own (a framework exception) becomes InferenceFailed: typed, never a traceback."""
    out = []
    for start in range(0, len(batch), chunk):
        part = batch[start : start + chunk]
        with backend_failures(f"The model failed on a batch of {len(part)}"):
            logits = np.asarray(backend.infer(part))
        expected = (len(part), num_classes)
        if logits.shape != expected:
            raise InferenceFailed(f"The model returned shape {logits.shape}, expected {expected}.")
        out.append(softmax(logits))
    return np.concatenate(out) if out else np.zeros((0, num_classes), np.float32)


def near_ties(probs: np.ndarray, prepared: Sequence[Prepared], margin: float) -> list[int]:
    """Rows decoded at a reduced scale whose top two probabilities are closer than `margin`.

    A reduced-scale decode is a slightly blurred copy of the full one; on a near-tie that is
    enough to swap the top two labels (1-5% of tie-heavy photo sets, all within 2.5 points).
    Decoding those rows again in full makes the fast path agree with --exact-decode."""
    reduced = [i for i, p in enumerate(prepared) if p.recheck is not None]
    if not margin or not reduced:
        return []
    top = np.partition(probs[reduced], -2, axis=1)  # [:, -1] is the largest, [:, -2] next
    close = top[:, -1] - top[:, -2] < margin
    return [i for i, c in zip(reduced, close) if c]


# How many groups an answer lists (the summed probability of each group's classes).
GROUPS_SHOWN = 3


class Road:
    """The road for one model: its preparer, its spec (labels in every language, groups), the
    chunk size and the re-check margin; `reader`: what reads text (text/reader.py), for the
    answers that ask for it (None: this road cannot, and says so with a typed error)."""

    def __init__(self, preparer, spec, *, chunk: int, recheck_margin: float, reader=None):
        self.preparer = preparer
        self.spec = spec
        self.chunk = chunk
        self.recheck_margin = recheck_margin
        self.reader = reader

    def answer(self, result: Result, probs: np.ndarray, answer: Answer) -> None:
        """The last step: top-k in the language asked for (with the English labels), "not
        sure" under the confidence floor, and the groups when asked."""
        spec = self.spec
        labels = spec.labels_in(answer.lang)
        english = spec.labels if labels is not spec.labels else None
        result.predictions = top_predictions(probs, labels, answer.top_k, english)
        result.uncertain = result.predictions[0].probability < answer.min_confidence
        if answer.probabilities:
            result.probabilities = probs
        if answer.groups:
            groups = group_map(spec.groups) if spec.groups else ()
            result.groups = [
                GroupPrediction(g.id, g.names.get(answer.lang, g.names["en"]), g.names["en"], p)
                for g, p in top_groups(probs, groups, GROUPS_SHOWN)
            ]

    # --- the road itself ---
    def walk(self, items: Iterable[Item], answer: Answer, *, digest: bool = False) -> Walk:
        """The steps for these items; returns one Result per item, in order."""
        results: list[Result] = []
        it = iter(items)
        while chunk := list(itertools.islice(it, self.chunk)):
            rows = [Result(item.name, error=item.error) for item in chunk]
            todo = [i for i, item in enumerate(chunk) if item.error is None]
            outcomes = yield Decode([chunk[i].source for i in todo], digest=digest,
                                    keep=answer.text)  # fmt: skip
            kept: list[tuple[int, Prepared]] = []
            for i, (value, sha) in zip(todo, outcomes):
                rows[i].sha256 = sha
                if isinstance(value, InputError):
                    rows[i].error = value
                else:
                    kept.append((i, value))
            if kept:
                probs = yield Infer([p.array for _, p in kept])
                yield from self._recheck(probs, [p for _, p in kept])
                for (i, _), p in zip(kept, probs):
                    self.answer(rows[i], p, answer)
                if answer.text:
                    read = yield Read([p.data for _, p in kept])
                    for (i, _), lines in zip(kept, read):
                        _add_text(rows[i], lines)
            yield Chunk(rows)
            results += rows
        return results

    def _recheck(self, probs: np.ndarray, prepared: list[Prepared]):
        """Replace the answers of near-tie reduced decodes with their full decode's, in place.
        A full decode that fails leaves the fast answer standing."""
        redo = near_ties(probs, prepared, self.recheck_margin)
        if not redo:
            return
        again = yield Decode([prepared[j].recheck for j in redo], exact=True)
        fixed = [(j, v.array) for j, (v, _) in zip(redo, again) if not isinstance(v, InputError)]
        if fixed:
            probs[[j for j, _ in fixed]] = yield Infer([a for _, a in fixed])

    def jobs(self, step: Decode | Read) -> list[Job]:
        """One callable per source of a Decode or Read step, for the driver's pool."""
        if isinstance(step, Read):
            return [lambda s=s: self._read(s) for s in step.sources]
        prepare = self.preparer.prepare

        def job(source) -> tuple[Prepared | InputError, str | None]:
            sha = None
            if step.digest and isinstance(source, (bytes, bytearray, memoryview)):
                sha = hashlib.sha256(source).hexdigest()  # here: off the event loop, in the pool
            try:
                if not step.keep:
                    return prepare(source, step.exact), sha
                data = read_source(source)  # read once: a file object cannot be read again
                return prepare(data, step.exact)._replace(data=data), sha
            except InputError as exc:
                return exc, sha

        batch = getattr(self.preparer, "prepare_batch", None)
        if batch is not None and not step.keep:  # a device decoder: one call for the step
            return [lambda: batch(step.sources, step.exact, step.digest)]
        return [lambda s=s: job(s) for s in step.sources]

    def _read(self, data) -> list[TextLine] | LocalVisionError:
        """One input's text lines, or the typed error that is its row's answer."""
        if self.reader is None:
            return TextReadingUnavailable("This model's road has no text reader.")
        try:
            return self.reader.read(data)
        except LocalVisionError as exc:
            return exc

    # --- the drivers ---
    def run(
        self,
        items: Iterable[Item],
        answer: Answer,
        infer: Callable[[list], np.ndarray],
        *,
        workers: int | None = None,
        on_chunk: Callable[[list[Result]], None] | None = None,
        digest: bool = False,
    ) -> list[Result]:
        """Drive the road in this thread: decode in a thread pool, `infer(arrays)` directly."""
        walk = self.walk(items, answer, digest=digest)
        with ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1)) as pool:
            reply = None
            while True:
                try:
                    step = walk.send(reply)
                except StopIteration as done:
                    return done.value
                if isinstance(step, (Decode, Read)):
                    reply = self._outcomes(step, list(pool.map(_call, self.jobs(step))))
                elif isinstance(step, Infer):
                    reply = infer(step.arrays)
                else:
                    reply = on_chunk(step.results) if on_chunk else None

    async def run_async(
        self,
        items: Iterable[Item],
        answer: Answer,
        infer: Callable[[list], Awaitable[np.ndarray]],
        run_jobs: Callable[[list[Job]], Awaitable[list]],
        *,
        on_chunk: Callable[[list[Result]], None] | None = None,
        digest: bool = False,
        run_reads: Callable[[list[Job]], Awaitable[list]] | None = None,
    ) -> list[Result]:
        """Drive the road on an event loop: `run_jobs` runs decode jobs off the loop (the server
        counts them, so its batcher knows more images are due), `infer` awaits the model;
        `run_reads` runs text-reading jobs off the loop (default: as run_jobs)."""
        walk = self.walk(items, answer, digest=digest)
        reply = None
        while True:
            try:
                step = walk.send(reply)
            except StopIteration as done:
                return done.value
            if isinstance(step, Decode):
                reply = self._outcomes(step, await run_jobs(self.jobs(step)))
            elif isinstance(step, Read):
                reply = await (run_reads or run_jobs)(self.jobs(step))
            elif isinstance(step, Infer):
                reply = await infer(step.arrays)
            else:
                reply = on_chunk(step.results) if on_chunk else None

    def _outcomes(self, step: Decode | Read, done: list) -> list:
        """The jobs' answers, one per source (a device decoder answers the step in one job)."""
        batch = getattr(self.preparer, "prepare_batch", None)
        if isinstance(step, Decode) and batch is not None and not step.keep:
            return done[0] if done else []
        return done


def _call(job: Job):
    return job()


def _add_text(row: Result, lines: list[TextLine] | LocalVisionError) -> None:
    """A row's text, or the reader's typed error as the row's answer (never both)."""
    if isinstance(lines, LocalVisionError):
        row.error, row.predictions, row.groups, row.uncertain = lines, [], None, False
        row.probabilities = None
    else:
        row.text = lines
