"""The history store: real SQLite files, concurrent writers, whole-or-nothing batches."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from localvision.history import HistoryStore, Record


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
