"""Micro-batching: however requests are grouped, each caller gets the row computed from its own
input, batches never exceed max_batch, and a full queue answers at once."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pytest

from localvision.engine.batcher import Batcher
from localvision.errors import Overloaded


def tag_rows(batch: np.ndarray) -> np.ndarray:
    """A model whose output row names its input: row i = the constant that input i was filled
    with, so any mix-up between callers shows."""
    return batch.reshape(len(batch), -1)[:, :1] * np.ones((1, 4), np.float32)


def test_each_caller_gets_its_own_row():
    async def main():
        b = Batcher(tag_rows, max_batch=8, max_wait_ms=20, queue_size=256)
        b.start()
        values = list(range(50))
        outs = await asyncio.gather(
            *(b.submit([np.full((3, 2, 2), v, np.float32)]) for v in values)
        )
        multi = await b.submit([np.full((3, 2, 2), v, np.float32) for v in (7, 8, 9)])
        await b.stop()
        return outs, multi, b.stats

    outs, multi, stats = asyncio.run(main())
    assert [int(o[0][0]) for o in outs] == list(range(50))
    assert [int(m[0]) for m in multi] == [7, 8, 9]
    assert stats.largest <= 8 and stats.batches < 53  # requests really were merged
    assert stats.images == 53


def test_full_queue_fails_fast():
    async def main():
        b = Batcher(tag_rows, max_batch=4, max_wait_ms=1, queue_size=4)
        b.start()
        with pytest.raises(Overloaded):
            await b.submit([np.zeros((3, 2, 2), np.float32)] * 5)
        ok = await b.submit([np.zeros((3, 2, 2), np.float32)] * 4)
        await b.stop()
        return ok

    assert len(asyncio.run(main())) == 4


def test_a_failing_batch_fails_its_callers_and_the_batcher_keeps_serving():
    calls = {"n": 0}

    def flaky(batch):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")
        return tag_rows(batch)

    async def main():
        b = Batcher(flaky, max_batch=4, max_wait_ms=1, queue_size=256)
        b.start()
        with pytest.raises(RuntimeError):
            await b.submit([np.ones((3, 2, 2), np.float32)])
        out = await b.submit([np.full((3, 2, 2), 5, np.float32)])
        await b.stop()
        return out

    assert int(asyncio.run(main())[0][0]) == 5


def test_inputs_that_cannot_be_stacked_fail_their_batch_only():
    """Arrays of different shapes cannot form one batch: that batch's callers get the error,
    and the next batch is served (this used to happen outside the loop's try, and stopped
    batching for good)."""

    async def main():
        b = Batcher(tag_rows, max_batch=4, max_wait_ms=50, queue_size=256)
        b.start()
        with pytest.raises(ValueError):
            await b.submit([np.ones((3, 2, 2), np.float32), np.ones((3, 4, 4), np.float32)])
        out = await b.submit([np.full((3, 2, 2), 6, np.float32)])
        await b.stop()
        return out

    assert int(asyncio.run(main())[0][0]) == 6


def test_the_loop_is_restarted_if_it_ever_dies():
    """Whatever kills the batching loop itself (here: an `expected` callback that raises while a
    batch is being collected), the supervisor logs it and starts the loop again."""
    state = {"raised": False}

    def expected() -> int:
        if not state["raised"]:
            state["raised"] = True
            raise RuntimeError("expected() broke")
        return 0

    async def main():
        b = Batcher(tag_rows, max_batch=4, max_wait_ms=50, queue_size=256, expected=expected)
        b.start()
        with pytest.raises(RuntimeError, match="expected"):  # the item in hand fails, at once
            await b.submit([np.full((3, 2, 2), 1, np.float32)], timeout=5)
        out = await b.submit([np.full((3, 2, 2), 2, np.float32)], timeout=5)
        await b.stop()
        return out, b.stats.restarts

    out, restarts = asyncio.run(main())
    assert int(out[0][0]) == 2 and restarts == 1


def test_a_wait_past_its_deadline_is_a_typed_timeout():
    import time

    from localvision.errors import DeadlineExceeded

    def slow(batch):
        time.sleep(0.5)
        return tag_rows(batch)

    async def main():
        b = Batcher(slow, max_batch=4, max_wait_ms=1, queue_size=256)
        b.start()
        with pytest.raises(DeadlineExceeded):
            await b.submit([np.ones((3, 2, 2), np.float32)], timeout=0.05)
        await b.stop()

    asyncio.run(main())


def test_concurrent_http_requests_get_their_own_labels(live_server, photos):
    """Real model, real server: 24 requests of 3 different photos at once; no mix-ups."""
    expected = {"coffee": "espresso", "camera": "tripod", "rocket": "missile"}

    async def main():
        async with httpx.AsyncClient(base_url=live_server, timeout=120) as client:

            async def one(name):
                r = await client.post(
                    "/api/v1/classify", files={"file": (f"{name}.jpg", photos[name])}
                )
                row = r.json()["results"][0]
                return name, row["filename"], row["predictions"][0]["label"]

            names = list(expected) * 8
            return await asyncio.gather(*(one(n) for n in names))

    for name, filename, label in asyncio.run(main()):
        assert filename == f"{name}.jpg" and label == expected[name]
