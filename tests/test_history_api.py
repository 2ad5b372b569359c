"""The history over HTTP: search (GET and the CSV export), delete one row, delete what a filter
matches, with auth off (the local user may do everything) and on (a user only their own rows, an
admin everyone's; a session's delete needs its CSRF token).

Real servers on loopback with their own databases (deletes must not disturb the shared
`live_server`), on an SQLite file and on a real PostgreSQL server. Rows are made by real classify requests; a few are moved to known times through
the history store, as another process on the same file would.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import httpx
import pytest
from servers import LiveServer, users_with_keys

from localvision.config import Settings
from localvision.history import HistoryStore, recognitions, writer
from localvision.server.app import create_app

PASSWORDS = {"ada": "ada-password-1", "bob": "bob-password-1", "carol": "carol-password-1"}


def code(r: httpx.Response) -> str:
    return r.json()["error"]["code"]


def classify(client: httpx.Client, photos: dict, *names: str) -> None:
    """One request: a name with "cat" in it sends Chelsea the cat, any other the coffee cup."""
    files = []
    for name in names:
        photo = "chelsea" if "cat" in name.lower() else "coffee"
        files.append(("file", (name, photos[photo], "image/jpeg")))
    r = client.post("/api/v1/classify", files=files)
    assert r.status_code == 200, r.text


def move(db: str, filename: str, when: str) -> None:
    from datetime import datetime

    from sqlalchemy import update

    store = HistoryStore(db)
    with writer(store.engine).begin() as conn:
        conn.execute(update(recognitions).where(recognitions.c.filename == filename)
                     .values(created_at=datetime.fromisoformat(when)))  # fmt: skip
    store.close()


def names(client: httpx.Client, **params) -> list[str]:
    r = client.get("/api/v1/history", params={"limit": 1000, **params})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == len(body["items"])
    return sorted(i["filename"] for i in body["items"])


def ids(client: httpx.Client) -> dict[str, int]:
    items = client.get("/api/v1/history", params={"limit": 1000}).json()["items"]
    return {i["filename"]: i["id"] for i in items}


# --- auth off (loopback) ------------------------------------------------------------------------
@pytest.fixture
def local(db_url, lite0, photos):
    db = db_url
    settings = Settings(model="efficientnet_lite0", offline=True, db=db)
    with LiveServer(create_app(settings, classifier=lite0)) as live:
        with httpx.Client(base_url=live.url, timeout=60) as client:
            classify(client, photos, "cat-january.jpg", "Cat-February.jpg", "coffee-morning.jpg",
                     "coffee-100%.jpg")  # fmt: skip
            r = client.post("/api/v1/classify", files={"file": ("notes.txt", b"hello", "text/plain")})
            assert r.status_code == 200
            move(db, "cat-january.jpg", "2026-01-15T10:00:00+00:00")
            move(db, "Cat-February.jpg", "2026-02-10T10:00:00+00:00")
            move(db, "coffee-morning.jpg", "2026-02-28T23:30:00+00:00")
            move(db, "coffee-100%.jpg", "2026-03-05T08:00:00+00:00")
            move(db, "notes.txt", "2026-03-06T08:00:00+00:00")
            yield client


def test_search_by_label_file_name_and_dates(local):
    assert names(local, label="Tiger") == ["Cat-February.jpg", "cat-january.jpg"]
    assert names(local, label="espresso", filename="100%") == ["coffee-100%.jpg"]
    assert names(local, filename="CAT") == ["Cat-February.jpg", "cat-january.jpg"]
    assert names(local, **{"from": "2026-02-01", "to": "2026-02-28"}) == [
        "Cat-February.jpg", "coffee-morning.jpg"]  # fmt: skip
    assert names(local, **{"to": "2026-02-28T23:30:00Z"}) == ["Cat-February.jpg", "cat-january.jpg"]
    # an offset in a query string, written as %2B (httpx encodes the +): 23:29 UTC on Feb 28
    assert names(local, **{"from": "2026-03-01T00:29:00+01:00"}) == [
        "coffee-100%.jpg", "coffee-morning.jpg", "notes.txt"]  # fmt: skip
    assert names(local, label="", filename=" ") == names(local)  # blank: no filter
    assert len(names(local)) == 5
    page = local.get("/api/v1/history", params={"label": "cat", "limit": 1}).json()
    assert page["total"] == 2 and len(page["items"]) == 1


def test_the_csv_export_honours_the_same_filter(local):
    r = local.get("/api/v1/history.csv", params={"label": "tiger cat", "from": "2026-02-01"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["filename"] for row in rows] == ["Cat-February.jpg"]
    assert rows[0]["label_1"] == "tiger cat"
    everything = list(csv.DictReader(io.StringIO(local.get("/api/v1/history.csv").text)))
    assert len(everything) == 5


@pytest.mark.parametrize("params", [{"from": "last week"}, {"to": "2026-02-30"},
                                    {"from": "2026-03-01", "to": "2026-02-01"}])  # fmt: skip
def test_a_bad_date_is_a_typed_422(local, params):
    for path in ("/api/v1/history", "/api/v1/history.csv"):
        r = local.get(path, params=params)
        assert r.status_code == 422 and code(r) == "invalid_argument", r.text
        assert "Traceback" not in r.text
    r = local.delete("/api/v1/history", params=params)
    assert r.status_code == 422 and len(names(local)) == 5


def test_delete_one_row(local):
    row = ids(local)["coffee-morning.jpg"]
    r = local.delete(f"/api/v1/history/{row}")
    assert r.status_code == 200 and r.json() == {"deleted": 1}
    assert "coffee-morning.jpg" not in names(local)
    r = local.delete(f"/api/v1/history/{row}")  # already gone
    assert r.status_code == 404 and code(r) == "not_found"
    assert set(r.json()["error"]) == {"code", "message"}
    assert local.delete("/api/v1/history/999999").status_code == 404
    r = local.delete("/api/v1/history/abc")
    assert r.status_code == 422 and code(r) == "invalid_argument"
    assert len(names(local)) == 4


def test_delete_what_a_filter_matches_and_everything_only_when_confirmed(local):
    r = local.delete("/api/v1/history")  # no filter: that would be everything, so it is refused
    assert r.status_code == 422 and code(r) == "confirmation_required"
    assert "all=true" in r.json()["error"]["message"]
    r = local.delete("/api/v1/history", params={"label": "  "})  # a blank field is no filter
    assert r.status_code == 422
    r = local.delete("/api/v1/history", params={"label": "cat", "all": "true"})  # which one?
    assert r.status_code == 422
    assert len(names(local)) == 5

    r = local.delete("/api/v1/history", params={"label": "tiger", "to": "2026-02-01"})
    assert r.status_code == 200 and r.json() == {"deleted": 1}
    assert names(local, label="tiger") == ["Cat-February.jpg"]
    r = local.delete("/api/v1/history", params={"all": "true"})
    assert r.status_code == 200 and r.json() == {"deleted": 4}
    assert names(local) == []


# --- auth on ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def guarded(new_db, lite0):
    db = new_db()
    keys = users_with_keys(
        db, {n: (p, "admin" if n == "ada" else "user") for n, p in PASSWORDS.items()}
    )  # fmt: skip
    settings = Settings(model="efficientnet_lite0", offline=True, db=db, auth="on")
    with LiveServer(create_app(settings, classifier=lite0)) as live:
        yield SimpleNamespace(url=live.url, keys=keys)


def as_key(server, name: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {server.keys[name]}"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=60)


@contextmanager
def signed_in(server, name: str) -> Iterator[httpx.Client]:
    """A client holding a web session (cookies), as a browser would after signing in."""
    with httpx.Client(base_url=server.url, timeout=60) as client:
        form = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        data = {"username": name, "password": PASSWORDS[name], "csrf_token": token, "next": "/"}
        assert client.post("/login", data=data).status_code == 303
        yield client


@pytest.fixture
def rows(guarded, photos):
    """bob and carol each with two rows of their own; the ids by file name."""
    with as_key(guarded, "ada") as ada:
        ada.delete("/api/v1/history", params={"all": "true"})
    for name in ("bob", "carol"):
        with as_key(guarded, name) as client:
            classify(client, photos, f"{name}-cat.jpg", f"{name}-coffee.jpg")
    with as_key(guarded, "ada") as ada:
        return ids(ada)


def test_without_credentials_nothing_is_deleted(guarded, rows):
    for method, path in [("DELETE", f"/api/v1/history/{rows['bob-cat.jpg']}"),
                         ("DELETE", "/api/v1/history?all=true")]:  # fmt: skip
        r = httpx.request(method, guarded.url + path)
        assert r.status_code == 401 and code(r) == "unauthorized"
    with as_key(guarded, "ada") as ada:
        assert len(names(ada)) == 4


def test_a_user_searches_and_deletes_only_their_own_rows(guarded, rows):
    with as_key(guarded, "bob") as bob:
        assert names(bob, label="tiger") == ["bob-cat.jpg"]  # carol's cat is not bob's to see
        r = bob.delete(f"/api/v1/history/{rows['carol-cat.jpg']}")
        assert r.status_code == 404 and code(r) == "not_found"  # not "forbidden": no hint it exists
        assert "carol" not in r.text
        assert bob.delete(f"/api/v1/history/{rows['bob-cat.jpg']}").json() == {"deleted": 1}
        # "everything" is everything of bob's
        assert bob.delete("/api/v1/history", params={"all": "true"}).json() == {"deleted": 1}
        assert names(bob) == []
    with as_key(guarded, "carol") as carol:
        assert names(carol) == ["carol-cat.jpg", "carol-coffee.jpg"]
        assert carol.delete("/api/v1/history", params={"filename": "cat"}).json() == {"deleted": 1}
        assert names(carol) == ["carol-coffee.jpg"]


def test_an_admin_deletes_anyones_rows(guarded, rows):
    with as_key(guarded, "ada") as ada:
        assert ada.delete(f"/api/v1/history/{rows['bob-cat.jpg']}").json() == {"deleted": 1}
        r = ada.delete("/api/v1/history", params={"label": "espresso"})
        assert r.json() == {"deleted": 2}  # bob's coffee and carol's
        assert names(ada) == ["carol-cat.jpg"]


def test_a_session_delete_needs_the_pages_csrf_token(guarded, rows):
    with signed_in(guarded, "bob") as bob:
        path = f"/api/v1/history/{rows['bob-coffee.jpg']}"
        r = bob.delete(path)
        assert r.status_code == 403 and code(r) == "csrf_failed"
        r = bob.delete("/api/v1/history", params={"all": "true"})
        assert r.status_code == 403 and code(r) == "csrf_failed"
        assert len(names(bob)) == 2
        token = {"X-CSRF-Token": bob.cookies["localvision_csrf"]}
        assert bob.delete(path, headers=token).json() == {"deleted": 1}
        assert names(bob) == ["bob-cat.jpg"]
