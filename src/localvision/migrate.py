"""The database's schema: Alembic migrations (src/localvision/migrations), applied in place.

Every start of anything that opens the database (the service, `localvision keys ...`) brings it
to the newest revision, and so does `localvision db upgrade`. A database made before migrations
existed (no alembic_version table, perhaps without columns added since) is brought up too: the
first revisions create only what it lacks, so its rows stay.

Two processes starting at once on the same database must not both migrate: the migration runs
in one transaction that first takes a lock the other waits for (PostgreSQL: an advisory lock;
SQLite: the write lock, BEGIN IMMEDIATE), and looks at the version again once it holds it, so
the second finds the work done. DDL is transactional on both, so a migration that fails (or a
server killed midway) leaves the database as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from .database import writer
from .errors import DatabaseTooNew

MIGRATIONS = Path(__file__).parent / "migrations"
# pg_advisory_xact_lock's key: any number of our own, the same in every process
_LOCK_KEY = 0x6C76_6462  # "lvdb"


def _config(connection: Connection | None = None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


@lru_cache(maxsize=1)
def _scripts():
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The newest revision this version of localvision knows."""
    return _scripts().get_current_head()


def _revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


@dataclass(frozen=True)
class Status:
    current: str | None  # None: never migrated (new, or made before migrations existed)
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def status(engine: Engine) -> Status:
    with engine.connect() as conn:
        current = _revision(conn)
    _known(current, engine)
    return Status(current, head())


def upgrade(engine: Engine) -> Status:
    """Bring the database to the newest revision; returns where it was before (`current`).
    Cheap when it is already there: one read, no lock."""
    from alembic import command

    before = status(engine)
    if before.up_to_date:
        return before
    with writer(engine).begin() as conn:  # SQLite: BEGIN IMMEDIATE, the write lock
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        current = _revision(conn)  # again: another process may have done it while we waited
        _known(current, engine)
        if current != before.head:
            command.upgrade(_config(conn), "head")
    return Status(current, before.head)


def _known(revision: str | None, engine: Engine) -> None:
    """A revision this code does not have was written by a newer localvision: refuse to touch
    the database rather than guess at a schema we have never seen."""
    from alembic.util import CommandError

    if revision is None:
        return
    try:
        if _scripts().get_revision(revision) is not None:
            return
    except CommandError:  # alembic's ResolutionError: no such revision
        pass
    where = engine.url.render_as_string(hide_password=True)
    raise DatabaseTooNew(
        f"The database {where} is at schema revision {revision}, newer than this localvision "
        f"knows (newest: {head()}).",
        hint="upgrade localvision, or point --db at another database",
    )
