"""The history store: real SQLite files, concurrent writers, whole-or-nothing batches."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from localvision.history import HistoryStore, Record, recognitions


def record(name: str, label: str = "espresso") -> Record:
    preds = [{"label": label, "index": 967, "probability": 0.9}]
    return Record(name, "ab" * 32, "efficientnet_lite0", preds, 12.5, "127.0.0.1")


def test_sqlite_file_uses_wal(tmp_path):
    store = HistoryStore(f"sqlite:///{tmp_path}/h.db")
    store.add_batch([record("a.jpg")])
    with sqlite3.connect(tmp_path / "h.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_creates_the_parent_directory(tmp_path):
    store = HistoryStore(f"sqlite:///{tmp_path}/deep/er/h.db")
    store.add_batch([record("a.jpg")])
    assert store.count() == 1


def test_newest_first_and_round_trip(tmp_path):
    store = HistoryStore(f"sqlite:///{tmp_path}/h.db")
    store.add_batch([record("old.jpg")])
    store.add_batch([record("new.jpg", "tabby")])
    first, second = store.page(limit=10)
    assert (first["filename"], second["filename"]) == ("new.jpg", "old.jpg")
    assert first["predictions"][0]["label"] == "tabby"
    assert first["created_at"].endswith("+00:00")


def test_a_batch_is_recorded_whole_or_not_at_all(tmp_path):
    store = HistoryStore(f"sqlite:///{tmp_path}/h.db")
    store.add_batch([record("ok.jpg")])
    broken = record("broken.jpg")
    broken.model = None  # violates NOT NULL: the whole transaction must roll back
    with pytest.raises(Exception):
        store.add_batch([record("first.jpg"), broken, record("third.jpg")])
    assert [i["filename"] for i in store.page()] == ["ok.jpg"]


def test_twenty_concurrent_writers_never_see_database_is_locked(tmp_path):
    """Two stores (two engines, like two server processes) and 20 threads on one file."""
    url = f"sqlite:///{tmp_path}/h.db"
    stores = [HistoryStore(url), HistoryStore(url)]
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for j in range(10):
                stores[n % 2].add_batch([record(f"w{n}-{j}-{k}.jpg") for k in range(5)])
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert stores[0].count() == 20 * 10 * 5


def test_csv_flattens_predictions(tmp_path):
    store = HistoryStore(f"sqlite:///{tmp_path}/h.db")
    store.add_batch([record("a.jpg")])
    bad = record("b.txt")
    bad.predictions, bad.error = [], {"code": "unsupported_format", "message": "Not an image."}
    store.add_batch([bad])
    lines = store.to_csv().splitlines()
    assert lines[0].startswith("created_at,filename,sha256,model,label_1,index_1,probability_1")
    assert "b.txt" in lines[1] and lines[1].endswith("unsupported_format,Not an image.")
    assert ",espresso,967,0.900000," in lines[2]


def test_a_long_read_does_not_hold_up_writers(tmp_path):
    """A read transaction left open (a long history export, a page being read) must not take
    the write lock: another process's writer goes ahead at once. Before, every transaction
    began with BEGIN IMMEDIATE and this writer waited out the 30 s busy timeout."""
    from sqlalchemy import func, select

    url = f"sqlite:///{tmp_path}/h.db"
    reader, other = HistoryStore(url), HistoryStore(url)
    reader.add_batch([record("a.jpg")])
    done = threading.Event()
    with reader.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(recognitions)).scalar_one() == 1
        # the read transaction is still open here
        writer = threading.Thread(target=lambda: (other.add_batch([record("b.jpg")]), done.set()))
        writer.start()
        writer.join(timeout=10)
        assert done.is_set(), "the writer was blocked by a reader"
    assert reader.count() == 2


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x")&.jpg', "+1.jpg", "-2.jpg", "@SUM(A1).jpg",
                                  "\tcmd.jpg", "\rcmd.jpg"])
def test_csv_cells_that_look_like_formulas_stay_text(tmp_path, name):
    store = HistoryStore(f"sqlite:///{tmp_path}/h.db")
    store.add_batch([record(name)])
    import csv
    import io

    (row,) = list(csv.DictReader(io.StringIO(store.to_csv())))
    assert row["filename"] == "'" + name
    assert row["probability_1"] == "0.900000"  # numbers are left alone
