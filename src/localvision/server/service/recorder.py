"""The history as the service writes it: group commit.

Each request's records must be in the history before its answer goes out (a client that reads
/api/v1/history right after its answer finds its rows), and a request's batch is recorded whole
or not at all. Written one transaction per request, that is a thread hop and a commit per
request; under load most of them wait for each other anyway. So requests queue their batches and
one writer turn commits everything queued in one transaction (each batch keeps its own batch id),
then wakes every request it wrote. If that transaction fails, each batch is written on its own,
so a batch that cannot be written fails only its own request; unless the database itself cannot
be reached (HistoryUnavailable, service/dbhealth.py): then every request of the group is refused
at once, none of them written.
"""

from __future__ import annotations

import asyncio

from starlette.concurrency import run_in_threadpool

from ...errors import HistoryUnavailable
from ...history import HistoryStore, Record


class Recorder:
    def __init__(self, store: HistoryStore):
        self.store = store
        self._pending: list[tuple[list[Record], asyncio.Future]] = []
        self._writing: asyncio.Task | None = None

    async def record(self, records: list[Record]) -> None:
        """Return once these records are committed (raises what writing them raised)."""
        if not records:
            return
        future = asyncio.get_running_loop().create_future()
        self._pending.append((records, future))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_all(), name="history-writer")
        await future

    async def _write_all(self) -> None:
        while self._pending:
            group, self._pending = self._pending, []
            try:
                await run_in_threadpool(self.store.add_batches, [records for records, _ in group])
            except HistoryUnavailable as exc:  # no batch's fault: trying each again cannot help
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                continue
            except Exception:
                await self._one_by_one(group)
                continue
            for _, future in group:
                if not future.done():
                    future.set_result(None)

    async def _one_by_one(self, group) -> None:
        for records, future in group:
            try:
                await run_in_threadpool(self.store.add_batch, records)
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(None)
