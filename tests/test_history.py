"""The history store: concurrent writers, whole-or-nothing batches, search and delete; each test
on an SQLite file and on a real PostgreSQL server (`db_url`, tests/pgserver.py)."""

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


def test_newest_first_and_round_trip(db_url):
    store = HistoryStore(db_url)
    store.add_batch([record("old.jpg")])
    store.add_batch([record("new.jpg", "tabby")])
    first, second = store.page(limit=10)
    assert (first["filename"], second["filename"]) == ("new.jpg", "old.jpg")
    assert first["predictions"][0]["label"] == "tabby"
    assert first["created_at"].endswith("+00:00")


def test_a_batch_is_recorded_whole_or_not_at_all(db_url):
    store = HistoryStore(db_url)
    store.add_batch([record("ok.jpg")])
    broken = record("broken.jpg")
    broken.model = None  # violates NOT NULL: the whole transaction must roll back
    with pytest.raises(Exception):
        store.add_batch([record("first.jpg"), broken, record("third.jpg")])
    assert [i["filename"] for i in store.page()] == ["ok.jpg"]


def test_long_text_and_nul_characters_are_kept_alike_on_every_backend(db_url):
    """PostgreSQL refuses what SQLite takes (a string over its VARCHAR, a NUL): a file name, a
    label from a user's label file, an error message must not fail the batch on either."""
    store = HistoryStore(db_url)
    r = record("a\x00b" + "x" * 600 + ".jpg", label="L" * 300 + "\x00")
    r.error = {"code": "invalid_input", "message": "bad\x00byte " * 100}
    r.client = "c" * 200
    store.add_batch([r])
    (item,) = store.page()
    assert item["filename"] == ("a\ufffdb" + "x" * 600)[:512]
    assert item["error"]["message"].startswith("bad\ufffdbyte bad")
    assert item["client"] == "c" * 128
    assert item["predictions"][0]["label"] == "L" * 300 + "\x00"  # JSON keeps it exactly
    from localvision.history import Filter

    assert store.count(where=Filter.parse(label="LLL")) == 1  # the clipped top label
    assert store.count(where=Filter.parse(filename="a\x00b")) == 1  # a search for a NUL, too
    assert store.delete_matching(Filter.parse(label="\x00")) == 0
    store.close()


def test_twenty_concurrent_writers_never_see_database_is_locked(db_url):
    """Two stores (two engines, like two server processes) and 20 threads on one database: none
    fails, no row is lost."""
    stores = [HistoryStore(db_url), HistoryStore(db_url)]
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


def test_csv_flattens_predictions(db_url):
    store = HistoryStore(db_url)
    store.add_batch([record("a.jpg")])
    bad = record("b.txt")
    bad.predictions, bad.error = [], {"code": "unsupported_format", "message": "Not an image."}
    store.add_batch([bad])
    lines = store.to_csv().splitlines()
    assert lines[0].startswith("created_at,filename,sha256,model,label_1,index_1,probability_1")
    assert "b.txt" in lines[1] and lines[1].endswith("unsupported_format,Not an image.")
    assert ",espresso,967,0.900000," in lines[2]


def test_a_long_read_does_not_hold_up_writers(db_url):
    """A read transaction left open (a long history export, a page being read) must not take
    the write lock: another process's writer goes ahead at once. Before, every transaction
    began with BEGIN IMMEDIATE and this writer waited out the 30 s busy timeout."""
    from sqlalchemy import func, select

    reader, other = HistoryStore(db_url), HistoryStore(db_url)
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
def test_csv_cells_that_look_like_formulas_stay_text(db_url, name):
    store = HistoryStore(db_url)
    store.add_batch([record(name)])
    import csv
    import io

    (row,) = list(csv.DictReader(io.StringIO(store.to_csv())))
    assert row["filename"] == "'" + name
    assert row["probability_1"] == "0.900000"  # numbers are left alone


# --- searching and deleting ---------------------------------------------------------------------
def _at(store: HistoryStore, filename: str, when: str) -> None:
    """Move a row to a known time (add_batch stamps "now")."""
    from datetime import datetime

    from sqlalchemy import update

    from localvision.history import writer

    moment = datetime.fromisoformat(when)
    with writer(store.engine).begin() as conn:
        conn.execute(update(recognitions).where(recognitions.c.filename == filename)
                     .values(created_at=moment))  # fmt: skip


@pytest.fixture
def searchable(db_url):
    store = HistoryStore(db_url)
    rows = [("IMG_001.jpg", "Egyptian cat", "bob", "2026-01-30T23:59:59+00:00"),
            ("img_002.JPG", "tabby cat", "bob", "2026-01-31T00:00:00+00:00"),
            ("beach.png", "seashore", "carol", "2026-01-31T12:00:00+00:00"),
            ("100%_sure.jpg", "espresso", "carol", "2026-01-31T23:59:59.999999+00:00"),
            ("coffee.jpg", "espresso", None, "2026-02-01T00:00:00+00:00")]  # fmt: skip
    for name, label, user, when in rows:
        r = record(name, label)
        r.user = user
        store.add_batch([r])
        _at(store, name, when)
    bad = record("notes.txt")
    bad.predictions, bad.error = [], {"code": "unsupported_format", "message": "Not an image."}
    store.add_batch([bad])
    _at(store, "notes.txt", "2026-01-31T08:00:00+00:00")
    yield store
    store.close()


def _names(store, user=None, **query) -> list[str]:
    from localvision.history import Filter

    where = Filter.parse(**query)
    names = [i["filename"] for i in store.page(limit=None, user=user, where=where)]
    assert store.count(user, where) == len(names)
    return sorted(names)


def test_filter_by_top_label_and_file_name_ignores_case(searchable):
    assert _names(searchable, label="CAT") == ["IMG_001.jpg", "img_002.JPG"]
    assert _names(searchable, label="tabby cat") == ["img_002.JPG"]
    assert _names(searchable, filename="img_") == ["IMG_001.jpg", "img_002.JPG"]
    assert _names(searchable, label="cat", filename=".jpg") == ["IMG_001.jpg", "img_002.JPG"]
    assert _names(searchable, label="espresso", filename="coffee") == ["coffee.jpg"]
    # LIKE's wildcards are plain characters here
    assert _names(searchable, filename="%") == ["100%_sure.jpg"]
    assert _names(searchable, filename="_") == ["100%_sure.jpg", "IMG_001.jpg", "img_002.JPG"]
    # a failed row has no top label: a label search never matches it
    assert "notes.txt" not in _names(searchable, label="e")
    assert _names(searchable, label="  ", filename="") == _names(searchable)  # blank: no filter
    assert len(_names(searchable)) == 6


def test_filter_by_date_range(searchable):
    # a date alone is a whole UTC day, from its first microsecond through its last
    assert _names(searchable, start="2026-01-31", end="2026-01-31") == [
        "100%_sure.jpg", "beach.png", "img_002.JPG", "notes.txt"]  # fmt: skip
    assert _names(searchable, end="2026-01-30") == ["IMG_001.jpg"]
    assert _names(searchable, start="2026-02-01") == ["coffee.jpg"]
    # a date-time: `from` is included, `to` is not; no offset means UTC
    assert _names(searchable, start="2026-01-31T12:00:00", end="2026-02-01T00:00:00Z") == [
        "100%_sure.jpg", "beach.png"]  # fmt: skip
    # an offset is honoured: 13:00 at +01:00 is 12:00 UTC
    assert _names(searchable, start="2026-01-31T13:00:00+01:00", end="2026-01-31T13:00:01+01:00") == [
        "beach.png"]  # fmt: skip
    assert _names(searchable, label="cat", start="2026-01-31") == ["img_002.JPG"]


@pytest.mark.parametrize(("query", "says"), [
    ({"start": "yesterday"}, "`from` must be a date"),
    ({"end": "2026-13-01"}, "`to` must be a date"),
    ({"start": "2026-01-31T10:00:00 01:00"}, "%2B"),  # a "+" that a query string turned into a space
    ({"start": "2026-02-01", "end": "2026-01-31"}, "`from` must be before `to`"),
    ({"start": "2026-02-01T00:00:00Z", "end": "2026-02-01T00:00:00Z"}, "must be before"),
])  # fmt: skip
def test_a_bad_date_is_a_typed_error(query, says):
    from localvision.errors import InvalidArgument
    from localvision.history import Filter

    with pytest.raises(InvalidArgument) as info:
        Filter.parse(**query)
    assert says in info.value.message and info.value.code == "invalid_argument"


def test_csv_export_honours_the_filter(searchable):
    import csv
    import io

    from localvision.history import Filter

    rows = list(csv.DictReader(io.StringIO(searchable.to_csv(where=Filter.parse(label="cat")))))
    assert sorted(r["filename"] for r in rows) == ["IMG_001.jpg", "img_002.JPG"]
    rows = list(csv.DictReader(io.StringIO(searchable.to_csv("carol", Filter.parse(label="e")))))
    assert sorted(r["filename"] for r in rows) == ["100%_sure.jpg", "beach.png"]


def test_delete_one_row_within_the_users_scope(searchable):
    from localvision.errors import NotFound

    ids = {i["filename"]: i["id"] for i in searchable.page(limit=None)}
    with pytest.raises(NotFound) as info:  # carol's row, asked for by bob: as if it did not exist
        searchable.delete_row(ids["beach.png"], user="bob")
    assert info.value.status == 404 and "beach" not in info.value.message
    searchable.delete_row(ids["IMG_001.jpg"], user="bob")
    searchable.delete_row(ids["beach.png"])  # everyone's scope (an admin, or auth off)
    with pytest.raises(NotFound):
        searchable.delete_row(ids["beach.png"])  # gone
    with pytest.raises(NotFound):
        searchable.delete_row(10_000)
    assert "IMG_001.jpg" not in _names(searchable) and "beach.png" not in _names(searchable)
    assert len(_names(searchable)) == 4


def test_delete_matching_deletes_what_the_same_filter_lists(searchable):
    from localvision.history import Filter

    cats = Filter.parse(label="cat")
    assert searchable.delete_matching(Filter.parse(label="espresso"), user="bob") == 0  # cats only
    assert searchable.delete_matching(Filter.parse(filename=".jpg"), user="carol") == 1
    assert _names(searchable, user="carol") == ["beach.png"]
    assert searchable.delete_matching(cats) == 2
    assert _names(searchable) == ["beach.png", "coffee.jpg", "notes.txt"]


def test_deleting_everything_needs_an_explicit_confirmation(searchable):
    from localvision.errors import InvalidArgument
    from localvision.history import Filter

    with pytest.raises(InvalidArgument) as info:
        searchable.delete_matching(Filter.parse(label=" "))  # blank fields: no filter at all
    assert "all=true" in info.value.message
    with pytest.raises(InvalidArgument):  # a filter and "everything": which one was meant?
        searchable.delete_matching(Filter.parse(label="cat"), everything=True)
    assert len(_names(searchable)) == 6
    assert searchable.delete_matching(Filter(), user="bob", everything=True) == 2
    assert len(_names(searchable)) == 4
    assert searchable.delete_matching(Filter(), everything=True) == 4
    assert searchable.count() == 0


def test_deletes_and_writes_from_two_stores_never_see_database_is_locked(db_url):
    """Deletes are writes: they take the lock up front (writer()) and queue behind other writers,
    like add_batch, instead of failing with SQLITE_BUSY."""
    from localvision.history import Filter

    stores = [HistoryStore(db_url), HistoryStore(db_url)]
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            store = stores[n % 2]
            for j in range(10):
                store.add_batch([record(f"t{n}-{j}-{k}.jpg") for k in range(3)])
                assert store.delete_matching(Filter.parse(filename=f"t{n}-{j}-0.")) == 1
                (row,) = store.page(limit=1, where=Filter.parse(filename=f"t{n}-{j}-1."))
                store.delete_row(row["id"])
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert stores[0].count() == 12 * 10
