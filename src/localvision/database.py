"""The database connection as every part of localvision opens it: SQLite (WAL, writers take the
lock up front and wait for it) or PostgreSQL through psycopg 3, and one write transaction that is
run again when PostgreSQL aborts it to break a conflict.

Below the history (history.py), the accounts (auth.py) and the migrations (migrate.py), which all
write through `writer` / `write_transaction`.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import DBAPIError


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Take transactions into our own hands (pysqlite's implicit BEGIN is deferred).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        # The wait first: switching a new file to WAL takes a lock another process opening it
        # at the same moment may hold.
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # A transaction that will write takes the lock now, and waits for it; one that only
        # reads must not (a deferred read that later writes could fail at once with SQLITE_BUSY,
        # which busy_timeout does not retry: so every writer goes through writer()).
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


WRITE_OPTION = "localvision_write"


def writer(engine: Engine) -> Engine:
    """The engine to open write transactions on (`with writer(engine).begin() as conn`)."""
    return engine.execution_options(**{WRITE_OPTION: True})


# PostgreSQL's "serialization failure" and "deadlock detected": the transaction was aborted as a
# whole and may simply be run again (SQLite has neither: its writers queue for one lock).
_RETRY_SQLSTATES = {"40001", "40P01"}


def write_transaction(engine: Engine, work, attempts: int = 5):
    """`work(conn)` in one write transaction, committed when it returns; run again (from a new
    transaction) when the database aborted it to resolve a conflict with another writer."""
    for attempt in range(attempts):
        try:
            with writer(engine).begin() as conn:
                return work(conn)
        except DBAPIError as exc:
            state = getattr(exc.orig, "sqlstate", None)
            if state not in _RETRY_SQLSTATES or attempt == attempts - 1:
                raise
            time.sleep(0.01 * 2**attempt)


def canonical_url(url: str) -> URL:
    """The URL as SQLAlchemy should read it: `postgres://...` (the form hosted databases and
    DATABASE_URL variables hand out) and a plain `postgresql://...` mean PostgreSQL through
    psycopg 3, the driver localvision installs; SQLAlchemy would look for psycopg2 instead."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def open_engine(url: str) -> Engine:
    """The engine for a database URL, set up as every part of localvision uses it (SQLite: WAL,
    waits for the lock, its folder made). Connects to nothing yet."""
    parsed = canonical_url(url)
    url = parsed.render_as_string(hide_password=False)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    # A server database may drop idle connections, so they are checked before use; an SQLite
    # file cannot, and the check would cost a query on every request's write.
    engine = create_engine(url, future=True, pool_pre_ping=not is_sqlite)
    if is_sqlite:
        _sqlite_pragmas(engine)
    return engine
