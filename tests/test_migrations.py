"""The database's schema by Alembic migrations (localvision.migrate, src/localvision/migrations).

SQLite files made by earlier releases (no alembic_version table; the first release's history
table had no `user` and no `top_label_local` column and there were no users or keys yet) upgrade
in place and keep their rows; the migrated schema is exactly what the code's tables say (on
both backends); processes starting at the same moment on one database all succeed; a database
from a newer localvision is refused; `localvision db upgrade` and `db current`.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from localvision.cli import app as cli
from localvision.history import HistoryStore, metadata, open_engine
from localvision.migrate import head, status

# The DDL the first release's `metadata.create_all` wrote (commit 43ad229), and the one after
# auth came (ab721fa: `user`, users, api_keys, sessions, auth_secrets), as SQLite stored it.
FIRST_RELEASE = """
CREATE TABLE recognitions (
    id INTEGER NOT NULL, created_at DATETIME NOT NULL, batch_id VARCHAR(36) NOT NULL,
    filename VARCHAR(512) NOT NULL, sha256 VARCHAR(64), model VARCHAR(64) NOT NULL,
    predictions TEXT NOT NULL, top_label VARCHAR(128), top_probability FLOAT,
    error_code VARCHAR(64), error_message TEXT, latency_ms FLOAT NOT NULL, client VARCHAR(128),
    PRIMARY KEY (id));
CREATE INDEX ix_recognitions_batch_id ON recognitions (batch_id);
CREATE INDEX ix_recognitions_created_at ON recognitions (created_at);
"""
WITH_AUTH = FIRST_RELEASE + """
ALTER TABLE recognitions ADD COLUMN user VARCHAR(64);
CREATE INDEX ix_recognitions_user ON recognitions (user);
CREATE TABLE users (
    id INTEGER NOT NULL, username VARCHAR(64) NOT NULL, password_hash VARCHAR(255),
    role VARCHAR(16) NOT NULL, created_at DATETIME NOT NULL, PRIMARY KEY (id), UNIQUE (username));
CREATE TABLE api_keys (
    id INTEGER NOT NULL, name VARCHAR(128), username VARCHAR(64) NOT NULL,
    prefix VARCHAR(16) NOT NULL, key_hash VARCHAR(64) NOT NULL, created_at DATETIME NOT NULL,
    last_used_at DATETIME, revoked_at DATETIME, PRIMARY KEY (id), UNIQUE (key_hash));
CREATE INDEX ix_api_keys_username ON api_keys (username);
CREATE TABLE sessions (
    token_hash VARCHAR(64) NOT NULL, username VARCHAR(64) NOT NULL, csrf VARCHAR(64) NOT NULL,
    created_at DATETIME NOT NULL, expires_at DATETIME NOT NULL, PRIMARY KEY (token_hash));
CREATE INDEX ix_sessions_expires_at ON sessions (expires_at);
CREATE INDEX ix_sessions_username ON sessions (username);
CREATE TABLE auth_secrets (
    name VARCHAR(64) NOT NULL, value VARCHAR(255) NOT NULL, PRIMARY KEY (name));
"""
OLD_ROW = (
    "INSERT INTO recognitions (id, created_at, batch_id, filename, sha256, model, predictions, "
    "top_label, top_probability, error_code, error_message, latency_ms, client) VALUES "
    "({id}, '2025-06-01 12:00:00.000000', 'batch-{id}', 'old-{id}.jpg', NULL, 'resnet18', "
    """'[{{"label": "espresso", "index": 967, "probability": 0.8}}]', 'espresso', 0.8, NULL, """
    "NULL, 3.5, '127.0.0.1')"
)


def old_file(path, schema: str, rows: int = 3) -> str:
    with sqlite3.connect(path) as conn:
        conn.executescript(schema)
        for i in range(1, rows + 1):
            conn.execute(OLD_ROW.format(id=i))
    conn.close()
    return f"sqlite:///{path}"


def columns(engine, table: str) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns(table)}


def test_a_file_from_the_first_release_upgrades_in_place_and_keeps_its_rows(tmp_path):
    url = old_file(tmp_path / "history.db", FIRST_RELEASE)
    store = HistoryStore(url)
    try:
        assert status(store.engine).current == head()
        assert {"user", "top_label_local"} <= columns(store.engine, "recognitions")
        items = store.page(limit=None)
        assert sorted(i["filename"] for i in items) == ["old-1.jpg", "old-2.jpg", "old-3.jpg"]
        assert all(i["user"] is None and i["predictions"][0]["label"] == "espresso" for i in items)
        assert items[0]["created_at"] == "2025-06-01T12:00:00+00:00"
        # the tables that came later are there and work
        from localvision.auth import AuthStore

        auth = AuthStore(store.engine)
        auth.add_user("ada", "ada-password-1", role="admin")
        _, key = auth.create_key("ada")
        assert auth.verify_key(key).user == "ada"
        from localvision.history import Filter, Record

        store.add_batch([Record("new.jpg", None, "efficientnet_lite0", [], 1.0, None, user="ada")])
        assert store.count() == 4 and store.count(user="ada") == 1
        assert store.count(where=Filter.parse(label="espresso")) == 3
    finally:
        store.close()


def test_a_file_with_users_and_keys_from_before_migrations_keeps_them(tmp_path):
    from localvision.auth import AuthStore, hash_api_key

    path = tmp_path / "localvision.db"
    url = old_file(path, WITH_AUTH)
    key = "lv_an-old-key-made-before-migrations"
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO users VALUES (1, 'bob', NULL, 'user', '2025-06-01 00:00:00')")
        conn.execute(
            "INSERT INTO api_keys (id, name, username, prefix, key_hash, created_at) VALUES "
            f"(7, 'ci', 'bob', 'lv_an-ol', '{hash_api_key(key)}', '2025-06-01 00:00:00')"
        )
        conn.execute("UPDATE recognitions SET user = 'bob' WHERE id = 2")
        conn.execute("INSERT INTO auth_secrets VALUES ('session', 'the-old-secret')")
    conn.close()
    r = CliRunner().invoke(cli, ["db", "upgrade", "--db", url])
    assert r.exit_code == 0, r.output
    assert f"from revision none (a new database, or one made before migrations) to {head()}" in (
        " ".join(r.stdout.split())
    )
    store = AuthStore.open(url)
    try:
        assert store.verify_key(key).user == "bob"
        assert store.secret() == "the-old-secret"  # sessions signed before still check out
        assert [u["username"] for u in store.list_users()] == ["bob"]
        history = store._owner
        assert [i["filename"] for i in history.page(user="bob")] == ["old-2.jpg"]
        assert "top_label_local" in columns(store.engine, "recognitions")
    finally:
        store.close()


def test_the_migrated_schema_is_what_the_code_describes(db_url):
    """Alembic's own comparison of the live schema with the tables the code queries: a column
    or index added to a Table without a migration fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    import localvision.auth  # noqa: F401  (its tables are in the same metadata)
    import localvision.rules  # noqa: F401

    HistoryStore(db_url).close()
    engine = open_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
        assert set(inspect(engine).get_table_names()) == {
            "alembic_version", "recognitions", "users", "api_keys", "sessions", "auth_secrets",
            "rules",
        }  # fmt: skip
    finally:
        engine.dispose()


def start_at_once(db_url: str, folder, processes: int = 3) -> None:
    """Several processes opening one database at the same moment, as several servers started
    together on one database do (each then makes the session secret): all must succeed."""
    import time

    go = folder / "go"
    script = (
        "import os, sys, time\n"
        "from localvision.history import HistoryStore\n"
        "from localvision.auth import AuthStore\n"
        "open(sys.argv[3], 'w').close()\n"  # imported: ready
        "while not os.path.exists(sys.argv[2]): time.sleep(0.002)\n"  # all start together
        "s = HistoryStore(sys.argv[1]); AuthStore(s.engine).secret(); s.close()\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    ready = [folder / f"ready-{n}" for n in range(processes)]
    procs = [
        subprocess.Popen([sys.executable, "-c", script, db_url, str(go), str(r)], env=env,
                         stderr=subprocess.PIPE, text=True)  # fmt: skip
        for r in ready
    ]
    deadline = time.monotonic() + 60
    while not all(r.exists() for r in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * processes, errors
    engine = open_engine(db_url)
    try:
        assert status(engine).up_to_date
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
            secrets = conn.execute(text("SELECT count(*) FROM auth_secrets")).scalar_one()
        assert versions == [(head(),)] and secrets == 1  # one secret: every process signs alike
    finally:
        engine.dispose()


def test_processes_starting_at_once_on_a_new_database_all_succeed(db_url, tmp_path):
    start_at_once(db_url, tmp_path)


def test_processes_starting_at_once_on_a_file_from_the_first_release_all_succeed(tmp_path):
    url = old_file(tmp_path / "old.db", FIRST_RELEASE)
    start_at_once(url, tmp_path)
    store = HistoryStore(url)
    assert sorted(i["filename"] for i in store.page()) == ["old-1.jpg", "old-2.jpg", "old-3.jpg"]
    store.close()


def test_a_database_from_a_newer_localvision_is_refused(db_url):
    from localvision.errors import DatabaseTooNew

    HistoryStore(db_url).close()
    engine = open_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(DatabaseTooNew) as info:
        HistoryStore(db_url)
    assert "9999" in info.value.message and info.value.code == "database_too_new"
    assert "password" not in info.value.message.lower()
    r = CliRunner().invoke(cli, ["db", "current", "--db", db_url])
    assert r.exit_code != 0 and "newer than this localvision knows" in " ".join(r.stderr.split())
    password = make_url(db_url).password
    assert password is None or password not in r.stderr


def test_db_current_and_upgrade(db_url):
    runner = CliRunner()
    r = runner.invoke(cli, ["db", "current", "--db", db_url])
    assert r.exit_code == 0 and "needs `localvision db upgrade`" in " ".join(r.stdout.split())
    file = make_url(db_url).database if db_url.startswith("sqlite") else None
    assert file is None or not os.path.exists(file)  # `db current` looks, it makes nothing
    r = runner.invoke(cli, ["db", "upgrade"], env={"LOCALVISION_DB": db_url})
    assert r.exit_code == 0 and f"to {head()}" in r.stdout
    assert file is None or "Created the database" in r.stdout
    r = runner.invoke(cli, ["db", "upgrade", "--db", db_url])
    assert r.exit_code == 0 and f"is up to date (revision {head()})" in " ".join(r.stdout.split())
    r = runner.invoke(cli, ["db", "current", "--db", db_url])
    assert r.exit_code == 0 and "up to date" in r.stdout
    password = make_url(db_url).password
    assert password is None or password not in r.stdout  # the URL is shown without it


def test_an_unreachable_database_is_one_clear_line_without_the_password(free_pg_url):
    r = CliRunner().invoke(cli, ["db", "upgrade", "--db", free_pg_url])
    assert r.exit_code == 2
    # the same line as every command's on a server that cannot be reached (dbwait.unavailable)
    port = make_url(free_pg_url).port
    assert r.stderr.startswith("error: Cannot reach the history database, PostgreSQL at "
                               f"127.0.0.1:{port} (database nothing, user localvision): "
                               "connection refused.")
    assert "s3cret-pw" not in r.stderr and "Traceback" not in r.output


@pytest.fixture
def free_pg_url():
    from servers import free_port

    return f"postgresql+psycopg://localvision:s3cret-pw@127.0.0.1:{free_port()}/nothing"


def test_a_database_at_0004_gains_the_text_columns_and_keeps_its_rows(db_url):
    """0005: the text read in each photo. A database from the release before it (0004) keeps
    its rows, which read as "text not asked for" (null); rows written after carry their text and
    are found by it; and 0005 goes down again to exactly 0004's columns."""
    from alembic import command

    from localvision.history import Filter, Record
    from localvision.migrate import _config

    engine = open_engine(db_url)
    try:
        with engine.begin() as conn:
            command.upgrade(_config(conn), "0004")
        assert "text" not in columns(engine, "recognitions")
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO recognitions (created_at, batch_id, filename, model, predictions, "
                "top_label, top_probability, latency_ms) VALUES ('2026-12-24 12:00:00', 'b', "
                "'before.jpg', 'm', :predictions, 'espresso', 0.8, 3.5)"
            ), {"predictions": '[{"label": "espresso", "index": 967, "probability": 0.8}]'})
    finally:
        engine.dispose()
    store = HistoryStore(db_url)
    try:
        assert status(store.engine).current == head() == "0005"
        assert {"text", "text_lines"} <= columns(store.engine, "recognitions")
        (old,) = store.page()
        assert old["filename"] == "before.jpg" and old["text"] is None
        line = {"text": "禁止吸烟", "confidence": 0.99, "box": [[1, 2], [3, 2], [3, 4], [1, 4]]}
        store.add_batch([Record("after.jpg", None, "m", [], 1.0, None, text=[line])])
        (found,) = store.page(where=Filter.parse(text="吸烟"))
        assert found["filename"] == "after.jpg" and found["text"] == [line]
        with store.engine.begin() as conn:
            command.downgrade(_config(conn), "0004")
        assert not {"text", "text_lines"} & columns(store.engine, "recognitions")
    finally:
        store.close()
