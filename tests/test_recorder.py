"""Group commit (server/service/recorder.py): concurrent requests' batches share a transaction, each
keeps its own batch id and is written whole, and a batch that cannot be written fails only its
own request. On an SQLite file and on PostgreSQL (`db_url`)."""

from __future__ import annotations

import asyncio

from localvision.history import HistoryStore, Record
from localvision.server.service.recorder import Recorder


def record(name: str, model: str | None = "efficientnet_lite0") -> Record:
    preds = [{"label": "espresso", "index": 967, "probability": 0.9}]
    return Record(name, None, model, preds, 1.0, "127.0.0.1")


def test_concurrent_batches_are_each_recorded_whole_with_their_own_id(db_url):
    store = HistoryStore(db_url)

    async def main():
        recorder = Recorder(store)
        await asyncio.gather(
            *(recorder.record([record(f"r{i}-{j}.jpg") for j in range(3)]) for i in range(20))
        )

    asyncio.run(main())
    rows = store.page(limit=None)
    assert len(rows) == 60
    batches = {}
    for row in rows:
        batches.setdefault(row["batch_id"], set()).add(row["filename"].split("-")[0])
    assert len(batches) == 20 and all(len(owners) == 1 for owners in batches.values())


def test_a_batch_that_cannot_be_written_fails_only_its_own_request(db_url):
    store = HistoryStore(db_url)

    async def main():
        recorder = Recorder(store)
        good = [recorder.record([record(f"ok{i}.jpg")]) for i in range(5)]
        bad = recorder.record([record("fine.jpg"), record("broken.jpg", model=None)])
        return await asyncio.gather(*good, bad, return_exceptions=True)

    outcomes = asyncio.run(main())
    assert outcomes[:5] == [None] * 5
    assert isinstance(outcomes[5], Exception)
    names = sorted(r["filename"] for r in store.page(limit=None))
    assert names == [f"ok{i}.jpg" for i in range(5)]  # nothing of the failed batch


def test_nothing_to_record_is_a_no_op(db_url):
    store = HistoryStore(db_url)
    asyncio.run(Recorder(store).record([]))
    assert store.count() == 0
