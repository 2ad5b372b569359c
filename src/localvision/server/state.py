"""What the running service holds: the model (or why it has none), the batcher, the history.

`Service.recognize` drives the road (road.py) on the event loop, with decoding in the thread pool
and inference through the micro-batcher; the road itself lives in one place for every entry point.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from starlette.concurrency import run_in_threadpool

from ..classifier import Classifier
from ..config import Settings
from ..engine.batcher import Batcher
from ..errors import ModelNotReady
from ..history import HistoryStore, Record
from ..results import Result
from ..road import Item, Job
from .recorder import Recorder


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
class Service:
    settings: Settings
    history: HistoryStore
    model: ModelState = field(default_factory=ModelState)
    batcher: Batcher | None = None
    decoding: int = 0  # images being decoded now: the batcher waits for them only
    # Images classified by outcome ("ok", "error"), read by the /metrics collector.
    classified: Counter = field(default_factory=Counter)
    recorder: Recorder | None = None

    def __post_init__(self) -> None:
        self.recorder = Recorder(self.history)

    def attach(self, clf: Classifier) -> None:
        self.model = ModelState(clf, "ready")
        self.batcher = Batcher(
            clf.probabilities,
            max_batch=self.settings.max_batch,
            max_wait_ms=self.settings.max_wait_ms,
            queue_size=self.settings.queue_size,
            expected=lambda: self.decoding,
            stack=clf.preparer.stack,
        )
        self.batcher.start()

    async def recognize(
        self, items: Sequence[Item], top_k: int, client: str | None, user: str | None = None
    ) -> list[Result]:
        """The road for these items (decode in the pool, infer through the batcher), then the
        request's records, whole, in the history (group-committed with other requests')."""
        clf = self.model.require()
        started = time.perf_counter()
        results = await clf.road.run_async(items, top_k, self._infer, self._run_jobs, digest=True)
        self.classified.update("error" if r.error else "ok" for r in results)
        elapsed_ms = (time.perf_counter() - started) * 1000
        records = [
            Record(
                filename=r.source,
                sha256=r.sha256,
                model=clf.name,
                predictions=[p.to_dict() for p in r.predictions],
                latency_ms=elapsed_ms,
                client=client,
                user=user,
                error=r.error.to_dict() if r.error else None,
            )
            for r in results
        ]
        await self.recorder.record(records)  # group commit with concurrent requests
        return results

    async def _run_jobs(self, jobs: list[Job]) -> list:
        """Decode jobs in the thread pool; meanwhile the batcher knows more images are due."""
        self.decoding += len(jobs)
        try:
            return await asyncio.gather(*(run_in_threadpool(job) for job in jobs))
        finally:
            self.decoding -= len(jobs)

    async def _infer(self, arrays: list) -> np.ndarray:
        """The model's answer through the batcher, within the per-wait deadline (503 timeout)."""
        rows = await self.batcher.submit(arrays, self.settings.request_timeout_s)
        return np.stack(rows)
