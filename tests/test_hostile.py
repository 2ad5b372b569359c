"""The hostile-input corpus (tests/hostile.py) against the real service on loopback.

For every case: the documented status and error code (or, for the classify endpoints, the
documented code on the bad row), no 5xx and no traceback in any answer, and the server is still
up and right afterwards: a real photo sent next is still an espresso. The servers keep their
history, users and keys in an SQLite file, then on a real PostgreSQL server (the module runs
once on each).
"""

from __future__ import annotations

import io
import json
import logging
import re
import zipfile

import httpx
import pytest
from hostile import (
    CLASSIFY,
    PREDICT,
    SLOW_CLIENT_SETTINGS,
    AuthContext,
    HostileCase,
    Reply,
    cases_by_family,
    image_payloads,
    run_case,
    send,
    upload,
)
from servers import LiveServer

from localvision.errors import LocalVisionError

TRACEBACK_MARKERS = ("Traceback (most recent call last)", 'File "/', "site-packages", '.py", line')


class ErrorLog(logging.Handler):
    """Collects ERROR records: an unhandled exception in the app or in uvicorn is logged there."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture(scope="module")
def error_log():
    handler = ErrorLog()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


def serve(new_db, lite0, **overrides):
    """A real server, served the way `localvision serve` serves (the same uvicorn options):
    default size limits, short slow-client deadlines (so those cases take a second, not ten),
    rate limiting off (this module sends a few hundred requests a minute from one address)."""
    from localvision.config import Settings
    from localvision.server.app import create_app
    from localvision.server.guards.protocol import uvicorn_options

    settings = Settings(  # a fresh database on the module's backend (SQLite, then PostgreSQL)
        model="efficientnet_lite0", offline=True, db=new_db(), rate_limit="off",
        **SLOW_CLIENT_SETTINGS, **overrides,
    )  # fmt: skip
    return LiveServer(create_app(settings, classifier=lite0), **uvicorn_options(settings)), settings


@pytest.fixture(scope="module")
def server(new_db, lite0, error_log):
    live, _ = serve(new_db, lite0, auth="off")
    with live:
        yield live


@pytest.fixture(scope="module")
def auth_server(new_db, lite0, error_log):
    """A second server, with auth on: users and keys made with the store the CLI uses, a session
    from a real sign-in; `auth_server.context` holds the credentials the auth cases use."""
    from localvision.auth import AuthStore

    live, settings = serve(new_db, lite0, auth="on")
    store = AuthStore.open(settings.db)
    store.add_user("ada", "ada-password-1", role="admin")
    store.add_user("eve", "eve-password-1")
    _, key = store.create_key("ada", "hostile tests")
    revoked_id, revoked = store.create_key("ada", "revoked")
    store.revoke_key(revoked_id)
    _, removed = store.create_key("eve", "removed with eve")
    store.remove_user("eve")
    store.close()
    with live:
        with httpx.Client(base_url=live.url, timeout=30) as browser:
            page = browser.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            form = {"username": "ada", "password": "ada-password-1", "csrf_token": token}
            assert browser.post("/login", data=form).status_code == 303
            live.context = AuthContext(
                key=key, revoked_key=revoked, removed_user_key=removed,
                session=browser.cookies["localvision_session"],
                csrf=browser.cookies["localvision_csrf"],
            )  # fmt: skip
        yield live


def body_json(reply: Reply) -> dict | list:
    return json.loads(reply.body)


def assert_clean(reply: Reply) -> None:
    """No server error, and nothing in the answer that looks like a traceback."""
    assert reply.status < 500, reply.body[:500]
    text = reply.body.decode("utf-8", "replace")
    for marker in TRACEBACK_MARKERS:
        assert marker not in text, text[:500]


def assert_still_serving(server, *headers: tuple[str, str]) -> None:
    reply = send("127.0.0.1", server.port, upload(CLASSIFY, "coffee.jpg", _coffee(), headers))
    assert reply.status == 200, reply.body[:300]
    (row,) = body_json(reply)["results"]
    assert row["predictions"][0]["label"] == "espresso"


def _coffee() -> bytes:
    from corpus import real_photo_bytes

    return real_photo_bytes("coffee")


def check(case: HostileCase, reply: Reply) -> None:
    assert_clean(reply)
    assert reply.status == case.expect_status, (case.note, reply.body[:300])
    if case.early:
        assert reply.sent < reply.total, "the refusal came only after the whole body was sent"
    if case.expect_code is not None:
        error = body_json(reply)["error"]
        codes = case.expect_code if isinstance(case.expect_code, tuple) else (case.expect_code,)
        assert error["code"] in codes and error["message"], error
    if case.row_code is not None:
        rows = body_json(reply)["results"]
        assert rows, "a 200 with no rows"
        for row in rows:
            if row["filename"] == "coffee.jpg":  # the good member next to a bad one
                assert row["predictions"][0]["label"] == "espresso"
            elif case.row_code == "ok":
                assert row["error"] is None and row["predictions"], row
            else:
                assert row["predictions"] == [] and row["error"]["code"] == case.row_code, row
                assert row["error"]["message"]


def _ids(cases):
    return [c.name for c in cases]


IMAGE_CASES = cases_by_family("image")
ZIP_CASES = cases_by_family("zip")
HTTP_CASES = cases_by_family("http")
AUTH_CASES = cases_by_family("auth")


def test_the_corpus_is_large_and_named_uniquely():
    from hostile import hostile_cases

    cases = hostile_cases()
    assert len(cases) >= 60
    assert len({c.name for c in cases}) == len(cases)


@pytest.mark.parametrize("case", IMAGE_CASES, ids=_ids(IMAGE_CASES))
def test_hostile_image_fails_only_its_row(server, case):
    check(case, run_case(case, "127.0.0.1", server.port))
    assert_still_serving(server)


@pytest.mark.parametrize("case", ZIP_CASES, ids=_ids(ZIP_CASES))
def test_hostile_zip(server, case):
    check(case, run_case(case, "127.0.0.1", server.port))
    assert_still_serving(server)


@pytest.mark.parametrize("case", HTTP_CASES, ids=_ids(HTTP_CASES))
def test_hostile_http(server, case):
    check(case, run_case(case, "127.0.0.1", server.port))
    assert_still_serving(server)


@pytest.mark.parametrize("case", AUTH_CASES, ids=_ids(AUTH_CASES))
def test_hostile_auth(auth_server, case):
    reply = run_case(case, "127.0.0.1", auth_server.port, auth_server.context)
    check(case, reply)
    if reply.status == 401:
        assert reply.headers.get("www-authenticate", "").startswith("Bearer")
    assert_still_serving(auth_server, auth_server.context.bearer())


def test_predict_answers_each_bad_image_with_its_status_and_code(server):
    """/predict has one image and no rows: the image's error is the answer."""
    for name, (data, code) in image_payloads().items():
        reply = send("127.0.0.1", server.port, upload(PREDICT, f"{name}.img", data))
        assert_clean(reply)
        if name == "type_zip":  # the classify routes open a ZIP; /predict says where to send it
            code = "unsupported_format"
            assert "/api/v1/classify/zip" in body_json(reply)["error"]["message"]
        if code == "ok":
            assert reply.status == 200 and len(body_json(reply)) == 3, name
        else:
            status = LocalVisionError.from_dict({"code": code}).status
            assert (reply.status, body_json(reply)["error"]["code"]) == (status, code), name
    assert_still_serving(server)


class _Unseekable(io.RawIOBase):
    """A write-only stream zipfile cannot seek back in: it writes data descriptors."""

    def __init__(self):
        self.buf = io.BytesIO()

    def writable(self):
        return True

    def write(self, b):
        return self.buf.write(b)


def test_ordinary_zips_are_not_mistaken_for_overlapping():
    """The overlap check refuses no ZIP a normal tool makes: streamed members (data descriptors
    after the data), ZIP64 records, deflated members, and bytes prepended (self-extractors)."""
    from localvision.archive import read_zip

    coffee = _coffee()
    streamed = _Unseekable()
    with zipfile.ZipFile(streamed, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(3):
            with zf.open(f"{i}.jpg", "w") as f:
                f.write(coffee)
    zip64 = io.BytesIO()
    with zipfile.ZipFile(zip64, "w", allowZip64=True) as zf:
        for i in range(3):
            with zf.open(f"{i}.jpg", "w", force_zip64=True) as f:
                f.write(coffee)
    for data in (
        streamed.buf.getvalue(),
        zip64.getvalue(),
        b"#!/bin/sh\nexit 0\n" + zip64.getvalue(),
    ):
        members = read_zip(data, max_members=1000, max_total_bytes=200 * 1024 * 1024,
                           max_member_bytes=10 * 1024 * 1024)
        assert [m.name for m in members] == ["0.jpg", "1.jpg", "2.jpg"]
        assert all(m.error is None and m.data == coffee for m in members)


def test_nothing_was_logged_as_an_unhandled_error(error_log):
    """Runs last: across every case above, no exception escaped to the logs."""
    bad = [r.getMessage() for r in error_log.records if r.exc_info or "nhandled" in r.getMessage()]
    assert bad == []
