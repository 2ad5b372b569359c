"""A history database that is not there yet, or goes away while the service runs (issue 14 §3).

All real: `localvision serve` as a subprocess for the wait at start, the service on a real
uvicorn on loopback (conftest.LiveServer) for the outage, a real PostgreSQL server of this
module's own (tests/pgserver.py) that is stopped, killed and started again under the running
service, real Chromium for the page, and a closed loopback port for a server that never comes.

- At start, serve waits for the database with backoff (one log line per try) and, when it never
  answers, exits 2 with one line naming its host and port, never its password nor a traceback;
  one that comes up during the wait is served.
- While running, a lost database answers 503 `history_unavailable` with Retry-After wherever a
  request must be recorded (every classify route, each in its protocol's shape) or its API key
  looked up; the history routes answer the same; /readyz says why, /healthz stays 200; once the
  database is back the service recovers by itself and what it records is there.
- The admin commands (keys, users) on a database that cannot be reached: one line, exit 2.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import subprocess
import sys
import threading
import time

import httpx
import pytest
from chromium import SLOW, check_clean, launched, watched_page
from servers import LiveServer, free_port, users_with_keys

from localvision import dbwait
from localvision.config import Settings
from localvision.server.app import create_app

pgserver = pytest.importorskip("pgserver")  # tests/pgserver.py

PASSWORD = "s3cret-not-for-logs"
WAITING = "waiting for the history database"


def closed_url() -> tuple[str, int]:
    port = free_port()  # bound and released: nothing listens there
    return f"postgresql+psycopg://lv:{PASSWORD}@127.0.0.1:{port}/lv", port


def run_cli(*args: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "localvision", *args], capture_output=True, text=True,
        timeout=timeout, **kw,
    )  # fmt: skip


def assert_clean(text: str, *secrets: str) -> None:
    assert "Traceback" not in text, text
    for secret in secrets:
        assert secret not in text, text


# --- at start: a server that never comes --------------------------------------------------------
def test_serve_waits_then_exits_with_one_line_naming_host_and_port():
    url, port = closed_url()
    started = time.monotonic()
    done = run_cli("serve", "--db", url, "--db-wait-s", "2", "--port", str(free_port()),
                   "--model", "efficientnet_lite0", "--offline")  # fmt: skip
    took = time.monotonic() - started
    assert done.returncode == 2, done.stderr
    assert_clean(done.stderr, PASSWORD)
    lines = done.stderr.strip().splitlines()
    tries = [json.loads(line) for line in lines if WAITING in line]  # piped: JSON log lines
    assert len(tries) >= 2, lines  # 0.5 s, 1 s, then the 2 s are up
    assert all(t["level"] == "WARNING" and f"127.0.0.1:{port}" in t["message"] for t in tries)
    assert [t["try"] for t in tries] == list(range(1, len(tries) + 1))
    errors = [line for line in lines if line.startswith("error:")]
    assert errors == [
        f"error: Cannot reach the history database, PostgreSQL at 127.0.0.1:{port} (database lv, "
        f"user lv): connection refused (gave up after {len(tries) + 1} tries in 2 s)."
    ], lines
    assert lines[-1].startswith("  to fix: start the database server")
    assert took < 30  # bounded: 2 s of waiting (plus the interpreter's start)


def test_no_wait_means_one_try():
    url, port = closed_url()
    done = run_cli("serve", "--db", url, "--port", str(free_port()),
                   env={**_env(), "LOCALVISION_DB_WAIT_S": "0"})  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert WAITING not in done.stderr
    said = f"error: Cannot reach the history database, PostgreSQL at 127.0.0.1:{port}"
    assert said in done.stderr
    assert_clean(done.stderr, PASSWORD)


def test_an_sqlite_file_that_cannot_be_opened_is_one_line_not_a_bug_report(tmp_path):
    """Not an outage (nothing to wait for), but no traceback and no 'this is a bug' either: a
    folder that cannot be made, a file that is not a database; with auth on and off."""
    (tmp_path / "notes.db").write_text("not a database\n" * 10)
    (tmp_path / "file").write_text("")
    for db, said, auth in [
        (f"sqlite:///{tmp_path}/file/sub/history.db", "Cannot open the database SQLite file", []),
        (f"sqlite:///{tmp_path}/notes.db", "file is not a database", []),
        (f"sqlite:///{tmp_path}/notes.db", "file is not a database", ["--auth", "on"]),
    ]:
        done = run_cli("serve", "--db", db, "--port", str(free_port()), *auth,
                       "--model", "efficientnet_lite0", "--offline")  # fmt: skip
        assert done.returncode == 2, done.stderr
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and said in errors[0], done.stderr
        assert_clean(done.stderr)
        assert "bug in localvision" not in done.stderr, done.stderr


@pytest.mark.parametrize(
    "command",
    [["keys", "list"], ["keys", "create", "--name", "ci"], ["users", "remove", "bob"]],
    ids=" ".join,
)  # fmt: skip
def test_admin_commands_on_a_closed_port_say_one_line(command):
    url, port = closed_url()
    done = run_cli(*command, "--db", url)
    assert done.returncode == 2, done.stderr
    assert_clean(done.stderr + done.stdout, PASSWORD)
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith(f"error: Cannot reach the history database, PostgreSQL at "
                               f"127.0.0.1:{port} (database lv, user lv): connection refused")
    assert len(lines) == 2 and lines[1].startswith("  to fix:"), lines


def test_what_counts_as_unreachable_is_the_server_not_a_statement(tmp_path):
    """Real failures: a refused connection is an outage (named without the password); an
    SQLite error, or a bad statement on a server that answers, is not."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    url, port = closed_url()
    with pytest.raises(OperationalError) as refused:
        create_engine(url).connect()
    typed = dbwait.unavailable(refused.value, url)
    assert typed is not None and typed.code == "history_unavailable" and typed.status == 503
    assert f"127.0.0.1:{port}" in typed.message and PASSWORD not in typed.message
    assert dbwait.where(url) == f"PostgreSQL at 127.0.0.1:{port} (database lv, user lv)"

    sqlite = f"sqlite:///{tmp_path}/h.db"
    with pytest.raises(OperationalError) as no_table:
        with create_engine(sqlite).connect() as conn:
            conn.execute(text("SELECT * FROM nowhere"))
    assert dbwait.unavailable(no_table.value, sqlite) is None
    assert dbwait.unavailable(no_table.value) is None  # told apart without the URL too


# --- a real PostgreSQL server of this module's own ----------------------------------------------
@pytest.fixture(scope="module")
def pg():
    """Not started: the first test starts it while serve is waiting for it."""
    server = pgserver.PostgresServer()
    yield server
    server.cleanup()


def _env() -> dict:
    import os

    env = {**os.environ, "LOCALVISION_AUTH": "off", "LOCALVISION_LOG_FORMAT": "json"}
    env.pop("LOCALVISION_DB_WAIT_S", None)
    return env


class Served:
    """`localvision serve` in a subprocess, its stderr lines collected as they come."""

    def __init__(self, db: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "localvision", "serve", "--model", "efficientnet_lite0",
             "--offline", "--backend", "torch", "--db", db, "--db-wait-s", "120",
             "--port", str(self.port), "--rate-limit", "off"],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=_env(), text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._new: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)
            self._new.put(line)

    def wait_for(self, text: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._new.get(timeout=max(0.05, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no line with {text!r}; stderr: {''.join(self.lines)}")
            if text in line:
                return json.loads(line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_until(check, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_serve_waits_for_a_server_that_comes_up(pg):
    """serve started before its database: it waits; the database comes up during the wait and
    serve goes on to listen. (The model is not waited for: the outage tests below use it.)"""
    if pg.pid() is not None:
        pg.stop()
    served = Served(pg.url("postgres"))
    try:
        first = served.wait_for(WAITING, 60)
        assert first["level"] == "WARNING" and first["try"] == 1
        assert f"PostgreSQL at 127.0.0.1:{pg.port} (database postgres" in first["message"]
        pg.start()
        served.wait_for("answers (after", 60)
        served.wait_for("Uvicorn running on", 60)
        assert httpx.get(served.url + "/healthz").status_code == 200
    finally:
        served.stop()
    assert served.proc.returncode is not None
    assert_clean("".join(served.lines), pg.password)


class Logged(logging.Handler):
    """What the service logs (on its own logger: it may not propagate to pytest's)."""

    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def live(pg, lite0):
    """The service (auth off) on a real uvicorn on loopback, its history on the module's
    PostgreSQL server."""
    if pg.pid() is None:
        pg.start()
    settings = Settings(model="efficientnet_lite0", offline=True, db=pg.create_database(),
                        rate_limit="off")  # fmt: skip
    logged, logger = Logged(), logging.getLogger("localvision.server")
    level = logger.level
    logger.addHandler(logged)
    logger.setLevel(logging.INFO)
    try:
        with LiveServer(create_app(settings, classifier=lite0)) as server:
            server.logged = logged
            yield server
    finally:
        logger.removeHandler(logged)
        logger.setLevel(level)


def _classify(url: str, photo: bytes, **kw) -> httpx.Response:
    return httpx.post(url + "/api/v1/classify", files={"file": ("coffee.jpg", photo)}, **kw)


def test_a_lost_database_is_503_history_unavailable_and_the_service_recovers(live, pg, photos):
    url, coffee = live.url, photos["coffee"]
    before = _classify(url, coffee)
    assert before.status_code == 200, before.text
    assert before.json()["results"][0]["predictions"][0]["label"] == "espresso"

    pg.stop()  # mid-run: pooled connections die with it
    lost = _classify(url, coffee)  # found out while recording: the recorder's refusal
    assert lost.status_code == 503, lost.text
    assert lost.json()["error"]["code"] == "history_unavailable"
    assert int(lost.headers["Retry-After"]) >= 1
    again = _classify(url, coffee)  # known: refused before the model runs
    assert (again.status_code, again.json()["error"]["code"]) == (503, "history_unavailable")
    ready = httpx.get(url + "/readyz")
    assert ready.status_code == 503
    assert "history database cannot be reached" in ready.json()["reason"]
    assert httpx.get(url + "/healthz").status_code == 200  # alive: no restart wanted
    for method, path in [("GET", "/api/v1/history"), ("GET", "/api/v1/history.csv"),
                         ("DELETE", "/api/v1/history/1"), ("DELETE", "/api/v1/history?all=true")]:
        r = httpx.request(method, url + path)
        assert (r.status_code, r.json()["error"]["code"]) == (503, "history_unavailable"), path
        assert "Retry-After" in r.headers
    classic = httpx.post(url + "/predict", files={"file": ("c.jpg", coffee)})
    assert (classic.status_code, classic.json()["error"]["code"]) == (503, "history_unavailable")
    # the other protocols, each in its own error shape
    torchserve = httpx.put(url + "/predictions/efficientnet_lite0", content=coffee)
    assert torchserve.status_code == 503
    assert torchserve.json()["type"] == "ServiceUnavailableException"
    assert httpx.get(url + "/ping").status_code != 200
    v2 = httpx.get(url + "/v2/health/ready")
    assert v2.status_code == 503 and "history database" in v2.json()["error"]
    down = [line for line in live.logged.lines if "cannot be reached" in line]
    assert len(down) == 1 and f"PostgreSQL at 127.0.0.1:{pg.port}" in down[0]  # once, named

    pg.start()  # back: no restart of the service
    wait_until(lambda: httpx.get(url + "/readyz").status_code == 200)
    after = _classify(url, coffee, params={"lang": "zh"})
    assert after.status_code == 200, after.text
    rows = httpx.get(url + "/api/v1/history").json()
    assert rows["total"] == 2  # before and after; nothing of what was refused
    assert [r["predictions"][0]["label"] for r in rows["items"]] == ["意式浓缩咖啡", "espresso"]
    assert any("is reachable again" in line for line in live.logged.lines)
    assert_clean("\n".join(live.logged.lines), pg.password)


def _form_token(client: httpx.Client) -> str:
    """Open the sign-in page (it sets the form's cookie); the form's CSRF token."""
    page = client.get("/login")
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def sign_in(client: httpx.Client, username: str, password: str) -> httpx.Response:
    data = {"username": username, "password": password, "csrf_token": _form_token(client)}
    return client.post("/login", data=data)


def test_with_auth_a_key_that_cannot_be_checked_is_503_not_401(pg, lite0, photos):
    """The gate needs the database for every key and session: while it is gone (the server
    killed, as in a crash), a request with either is 503 history_unavailable, one without is
    still 401, and the sign-in page says why; all of it works again once the database is back."""
    if pg.pid() is None:  # this test alone: the module's server is not started yet
        pg.start()
    db = pg.create_database()
    key = users_with_keys(db, {"ann": ("correct horse battery", "user")})["ann"]
    settings = Settings(model="efficientnet_lite0", offline=True, db=db, auth="on",
                        rate_limit="off")  # fmt: skip
    with LiveServer(create_app(settings, classifier=lite0)) as server:
        headers = {"Authorization": f"Bearer {key}"}
        ok = _classify(server.url, photos["coffee"], headers=headers)
        assert ok.status_code == 200, ok.text

        browser = httpx.Client(base_url=server.url)  # a web sign-in, and a second one's form
        assert sign_in(browser, "ann", "correct horse battery").status_code == 303
        other = httpx.Client(base_url=server.url, headers={"Accept": "text/html"})
        token = _form_token(other)

        pg.kill()
        for path in ("/api/v1/models", "/api/v1/history"):
            r = httpx.get(server.url + path, headers=headers)
            assert (r.status_code, r.json()["error"]["code"]) == (503, "history_unavailable"), path
            assert "Retry-After" in r.headers
        r = _classify(server.url, photos["coffee"], headers=headers)
        assert (r.status_code, r.json()["error"]["code"]) == (503, "history_unavailable")
        r = browser.get("/api/v1/history")  # the session cannot be looked up either
        assert (r.status_code, r.json()["error"]["code"]) == (503, "history_unavailable")
        assert httpx.get(server.url + "/api/v1/models").status_code == 401  # no key: no lookup
        assert httpx.get(server.url + "/readyz").status_code == 503
        # the sign-in page says so (its script puts the code's sentence in the reader's language)
        form = {"username": "ann", "password": "correct horse battery", "csrf_token": token}
        page = other.post("/login", data=form)
        assert page.status_code == 503 and "Retry-After" in page.headers
        assert 'data-code="history_unavailable"' in page.text

        pg.start()  # crash recovery, then the service finds it by itself
        wait_until(lambda: httpx.get(server.url + "/readyz").status_code == 200)
        again = _classify(server.url, photos["coffee"], headers=headers)
        assert again.status_code == 200, again.text
        rows = httpx.get(server.url + "/api/v1/history", headers=headers).json()
        assert rows["total"] == 2 and {r["user"] for r in rows["items"]} == {"ann"}
        assert browser.get("/api/v1/history").status_code == 200  # the session lived through it
        again = {**form, "csrf_token": _form_token(other)}  # the 503 page gave a new form
        assert other.post("/login", data=again).status_code == 303  # signing in works again


def test_the_page_says_it_in_the_readers_language(live, pg, photos, tmp_path):
    """The Recognize page in real Chromium, the database stopped: the 503 is the sentence for
    history_unavailable (Chinese from i18n.js; English: the server's own message)."""
    from playwright.sync_api import expect

    coffee = tmp_path / "coffee.jpg"
    coffee.write_bytes(photos["coffee"])
    expected = {
        "zh-CN": "服务器暂时无法连接历史记录数据库，所以这次没有识别也没有保存。请过几秒再试。",
        "en-US": "The history database cannot be reached, so nothing that must be recorded or "
        "checked against it can be done now. Try again in a few seconds.",
    }
    pg.stop()
    try:
        with launched() as browser:
            for locale, sentence in expected.items():
                context, page = watched_page(browser, locale=locale)
                page.goto(live.url + "/")
                expect(page.locator("#banner-model")).to_be_visible(timeout=SLOW)
                page.set_input_files("#file-input", coffee)
                page.click("#recognize")
                expect(page.locator("#message")).to_have_text(sentence, timeout=SLOW)
                context.close()
                check_clean(page)
    finally:
        pg.start()
    wait_until(lambda: httpx.get(live.url + "/readyz").status_code == 200)
