"""A slot of one for "the latest frame wins": a newer item replaces the one still waiting.

Used on the event loop by the live camera's WebSocket (server/camera.py) and by the cameras the
service watches (streams/cameras.py): whatever arrives while the model is busy waits here, and
only the newest is worked on next, so nothing queues behind a slow model and memory holds at
most one waiting frame. Not thread-safe: a thread hands items over with
loop.call_soon_threadsafe(latest.put, item).
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

T = TypeVar("T")


class Latest(Generic[T]):
    def __init__(self) -> None:
        self.item: T | None = None
        self.waiting = False
        self.put_count = 0  # items put so far
        self.dropped = 0  # items replaced before anyone took them
        self._filled = asyncio.Event()

    def put(self, item: T) -> None:
        self.put_count += 1
        if self.waiting:
            self.dropped += 1
        self.item, self.waiting = item, True
        self._filled.set()

    async def take(self) -> T:
        """The newest item, once there is one."""
        await self._filled.wait()
        self._filled.clear()
        item, self.item, self.waiting = self.item, None, False
        return item
