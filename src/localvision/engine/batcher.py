"""Dynamic micro-batching for the server: requests arriving close together share one model call.

Each image waits at most `max_wait_ms` for company (or until `max_batch` images are queued), then
the batch runs on one dedicated inference thread, off the event loop. It waits only while more
images are known to be on their way (`expected()`: images still being decoded), so a lone request
never pays the wait. Each caller gets back the row computed from its own image: rows are matched
to futures by position, and the batch contract (one output row per input) is checked before any
future is resolved. The queue is bounded: when it is full, `submit` fails fast with Overloaded
instead of letting latency grow without end, and every wait has a deadline (503 `timeout`).

The loop is supervised: whatever goes wrong in one batch fails that batch's callers only, and if
the loop itself ever dies it is logged and started again, so batching never stops for good while
the server stays up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Sequence, TypeVar

import numpy as np

from ..errors import DeadlineExceeded, Overloaded

log = logging.getLogger("localvision.batcher")
T = TypeVar("T")


@dataclass
class BatchStats:
    batches: int = 0
    images: int = 0
    largest: int = 0
    sizes: dict[int, int] = field(default_factory=dict)
    restarts: int = 0  # times the loop died and was started again

    def record(self, n: int) -> None:
        self.batches += 1
        self.images += n
        self.largest = max(self.largest, n)
        self.sizes[n] = self.sizes.get(n, 0) + 1


class Batcher:
    def __init__(
        self,
        infer: Callable[[object], np.ndarray],
        *,
        max_batch: int,
        max_wait_ms: float,
        queue_size: int,
        expected: Callable[[], int] | None = None,
        stack: Callable[[Sequence], object] = np.stack,
    ):
        """infer: a stacked batch -> one output row per input; stack: the inputs of one batch
        -> that batch (numpy here; torch.stack for arrays already on a GPU)."""
        self._infer = infer
        self._stack = stack
        self._expected = expected or (lambda: 1)
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.queue_size = queue_size
        self.stats = BatchStats()
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._stopping = False
        # One thread: the backend already uses every core for one batch.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="localvision-infer")

    @property
    def depth(self) -> int:
        return self._queue.qsize() if self._queue else 0

    def start(self) -> None:
        self._queue = asyncio.Queue()
        self._spawn()

    def _spawn(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="batcher")
        self._task.add_done_callback(self._supervise)

    def _supervise(self, task: asyncio.Task) -> None:
        if self._stopping or task.cancelled():
            return
        exc = task.exception()
        log.error("the batching loop stopped (%r); starting it again", exc, exc_info=exc)
        self.stats.restarts += 1
        self._spawn()

    async def stop(self) -> None:
        self._stopping = True
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        while self._queue and not self._queue.empty():
            _, fut = self._queue.get_nowait()
            if not fut.done():
                fut.set_exception(Overloaded("The server is shutting down."))
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def submit(self, arrays: Sequence, timeout: float | None = None) -> list[np.ndarray]:
        """One output row per input array, in order; 503 `timeout` after `timeout` seconds."""
        assert self._queue is not None, "Batcher.start() was not called"
        if self._queue.qsize() + len(arrays) > self.queue_size:
            raise Overloaded("The server is busy; try again in a moment.")
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in arrays]
        for array, fut in zip(arrays, futures):
            self._queue.put_nowait((array, fut))
        gathered = asyncio.gather(*futures)
        if timeout is None:
            return list(await gathered)
        return list(await within_deadline(gathered, timeout))

    async def _run(self) -> None:
        queue = self._queue
        while True:
            items: list = []
            try:
                await self._collect(queue, items)
            except BaseException as exc:  # the loop is dying: don't leave these callers waiting
                why = Overloaded("The server is shutting down.") if isinstance(
                    exc, asyncio.CancelledError
                ) else exc
                for _, fut in items:
                    if not fut.done():
                        fut.set_exception(why)
                raise
            items = [(a, f) for a, f in items if not f.cancelled()]
            if items:
                await self._run_batch(items)

    async def _collect(self, queue: asyncio.Queue, items: list) -> None:
        """Fill `items` with one batch's (array, future) pairs."""
        items.append(await queue.get())
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

    async def _run_batch(self, items: list) -> None:
        loop = asyncio.get_running_loop()
        try:
            batch = self._stack([a for a, _ in items])
            out = await loop.run_in_executor(self._pool, self._infer, batch)
            if len(out) != len(items):
                raise RuntimeError(f"{len(out)} outputs for {len(items)} inputs")
        except Exception as exc:  # fail this batch's callers, keep serving
            for _, fut in items:
                if not fut.done():
                    fut.set_exception(exc)
            return
        self.stats.record(len(items))
        for row, (_, fut) in zip(out, items):
            if not fut.done():
                fut.set_result(row)


async def within_deadline(awaitable: Awaitable[T], seconds: float) -> T:
    """Await, but give up after `seconds` with 503 `timeout` (the awaited work is cancelled)."""
    try:
        async with asyncio.timeout(max(seconds, 0)):
            return await awaitable
    except TimeoutError:
        raise DeadlineExceeded(
            "The server is too busy to answer in time; try again in a moment."
        ) from None
