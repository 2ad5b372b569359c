"""What the running service holds: the model (or why it has none), the batcher, the history."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Sequence

import numpy as np
from starlette.concurrency import run_in_threadpool

from ..classifier import Classifier, Result, top_predictions
from ..config import Settings
from ..engine.batcher import Batcher
from ..errors import LocalVisionError, ModelNotReady
from ..history import HistoryStore, Record
from .limits import within_deadline


@dataclass
class ModelState:
    classifier: Classifier | None = None
    status: str = "loading"  # loading | ready | failed
    reason: str | None = None
    hint: str | None = None

    def require(self) -> Classifier:
        if self.classifier is not None:
            return self.classifier
        if self.status == "loading":
            raise ModelNotReady("The model is still loading; try again in a few seconds.")
        raise ModelNotReady(f"The model is not available: {self.reason}", hint=self.hint)


@dataclass
class Upload:
    filename: str
    data: bytes | None
    error: LocalVisionError | None = None


@dataclass
class Service:
    settings: Settings
    history: HistoryStore
    model: ModelState = field(default_factory=ModelState)
    batcher: Batcher | None = None
    decoding: int = 0  # images being decoded now: the batcher waits for them only
    # Images classified by outcome ("ok", "error"), read by the /metrics collector.
    classified: Counter = field(default_factory=Counter)

    def attach(self, clf: Classifier) -> None:
        self.model = ModelState(clf, "ready")
        self.batcher = Batcher(
            clf.probabilities,
            max_batch=self.settings.max_batch,
            max_wait_ms=self.settings.max_wait_ms,
            queue_size=self.settings.queue_size,
            expected=lambda: self.decoding,
        )
        self.batcher.start()

    async def recognize(
        self, uploads: Sequence[Upload], top_k: int, client: str | None, user: str | None = None
    ) -> list[Result]:
        """Decode (thread pool) -> batch -> model -> top-k, then one history transaction."""
        clf = self.model.require()
        started = time.perf_counter()
        results = [Result(u.filename, error=u.error) for u in uploads]
        todo = [u.data for u in uploads if u.error is None]
        prepared = await self._decode([partial(clf.try_prepare, d) for d in todo])
        kept, rows = [], []
        for i, item in zip([i for i, u in enumerate(uploads) if u.error is None], prepared):
            if isinstance(item, LocalVisionError):
                results[i].error = item
            else:
                kept.append(item)
                rows.append(i)
        if kept:
            # The per-request deadline (decode + queue + model): 503 `timeout`, never a hang.
            probs = await self._infer([p.array for p in kept], started)
            if redo := clf.near_ties(probs, kept):  # near-ties of a reduced decode: decode in full
                exact = await self._decode([partial(clf.full_decode, kept[j]) for j in redo])
                if again := [(j, a) for j, a in zip(redo, exact) if a is not None]:
                    fixed = await self._infer([a for _, a in again], started)
                    for (j, _), p in zip(again, fixed):
                        probs[j] = p
            for i, p in zip(rows, probs):
                results[i].predictions = top_predictions(p, clf.labels, top_k)
        self.classified.update("error" if r.error else "ok" for r in results)
        elapsed_ms = (time.perf_counter() - started) * 1000
        records = [
            Record(
                filename=u.filename,
                sha256=hashlib.sha256(u.data).hexdigest() if u.data is not None else None,
                model=clf.name,
                predictions=[p.to_dict() for p in r.predictions],
                latency_ms=elapsed_ms,
                client=client,
                user=user,
                error=r.error.to_dict() if r.error else None,
            )
            for u, r in zip(uploads, results)
        ]
        await run_in_threadpool(self.history.add_batch, records)
        return results

    async def _decode(self, jobs: list[Callable[[], Any]]) -> list[Any]:
        """Run decode jobs in the thread pool; meanwhile the batcher knows more images are due."""
        self.decoding += len(jobs)
        try:
            return await asyncio.gather(*(run_in_threadpool(job) for job in jobs))
        finally:
            self.decoding -= len(jobs)

    async def _infer(self, arrays: list[np.ndarray], started: float) -> np.ndarray:
        left = self.settings.request_timeout_s - (time.perf_counter() - started)
        return np.stack(await within_deadline(self.batcher.submit(arrays), left))
