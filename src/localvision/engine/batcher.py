"""Dynamic micro-batching for the server: requests arriving close together share one model call.

Each image waits at most `max_wait_ms` for company (or until `max_batch` images are queued), then
the batch runs on one dedicated inference thread, off the event loop. It waits only while more
images are known to be on their way (`expected()`: images still being decoded), so a lone request
never pays the wait. Each caller gets back the
row computed from its own image: rows are matched to futures by position, and the batch contract
(one output row per input) is checked before any future is resolved. The queue is bounded:
when it is full, `submit` fails fast with Overloaded instead of letting latency grow without end.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import Overloaded


@dataclass
class BatchStats:
    batches: int = 0
    images: int = 0
    largest: int = 0
    sizes: dict[int, int] = field(default_factory=dict)

    def record(self, n: int) -> None:
        self.batches += 1
        self.images += n
        self.largest = max(self.largest, n)
        self.sizes[n] = self.sizes.get(n, 0) + 1


class Batcher:
    def __init__(
        self,
        infer: Callable[[np.ndarray], np.ndarray],
        *,
        max_batch: int = 16,
        max_wait_ms: float = 5.0,
        queue_size: int = 256,
        expected: Callable[[], int] | None = None,
    ):
        self._infer = infer
        self._expected = expected or (lambda: 1)
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.queue_size = queue_size
        self.stats = BatchStats()
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        # One thread: the backend already uses every core for one batch.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="localvision-infer")

    @property
    def depth(self) -> int:
        return self._queue.qsize() if self._queue else 0

    def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="batcher")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        while self._queue and not self._queue.empty():
            _, fut = self._queue.get_nowait()
            if not fut.done():
                fut.set_exception(Overloaded("The server is shutting down."))
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def submit(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """One output row per input array, in order."""
        assert self._queue is not None, "Batcher.start() was not called"
        if self._queue.qsize() + len(arrays) > self.queue_size:
            raise Overloaded("The server is busy; try again in a moment.")
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in arrays]
        for array, fut in zip(arrays, futures):
            self._queue.put_nowait((array, fut))
        return list(await asyncio.gather(*futures))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        queue = self._queue
        while True:
            items = [await queue.get()]
            deadline = time.monotonic() + self.max_wait
            while len(items) < self.max_batch:
                if not queue.empty():
                    items.append(queue.get_nowait())
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._expected() == 0:
                    break
                try:
                    items.append(await asyncio.wait_for(queue.get(), remaining))
                except asyncio.TimeoutError:
                    break
            items = [(a, f) for a, f in items if not f.cancelled()]
            if not items:
                continue
            batch = np.stack([a for a, _ in items])
            try:
                out = await loop.run_in_executor(self._pool, self._infer, batch)
                if len(out) != len(items):
                    raise RuntimeError(f"{len(out)} outputs for {len(items)} inputs")
            except Exception as exc:  # fail this batch's callers, keep serving
                for _, fut in items:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            self.stats.record(len(items))
            for row, (_, fut) in zip(out, items):
                if not fut.done():
                    fut.set_result(row)
