"""A history database that is not there yet, or cannot be reached: named, explained, waited for.

A database server (PostgreSQL) is often still starting beside the service (a compose file, a
machine booting), so `localvision serve` waits for it at start (`open_history`): it retries with
backoff for up to `db_wait_s` seconds, logging one line per try, and then gives up with one clear
line (a typed `HistoryUnavailable`) naming the server's host and port, never its password. An
SQLite file is opened at once: there is nothing to wait for.

`unavailable(exc, url)` is the one test of "this is the database being unreachable" (the server
refused or dropped the connection, a name that does not resolve, a sign-in it refuses), shared by
the start-up wait, the admin commands (cli/admin.py) and the running service (server/dbhealth.py).
Any other database error (a bad statement, a constraint) is not an outage and stays what it is.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError

from .errors import HistoryUnavailable, InvalidArgument, LocalVisionError

if TYPE_CHECKING:  # pragma: no cover
    from .history import HistoryStore

log = logging.getLogger("localvision.serve")

# Each wait doubles, from half a second up to 5 s between tries: a server that comes up within a
# second or two is met at once, and one that takes a minute is asked a dozen times, not 120.
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 5.0
# A server that does not answer at all (a host that drops packets) would hold each try for the
# system's TCP timeout (about two minutes on Linux); 5 s is plenty for any reachable server.
CONNECT_TIMEOUT_S = 5
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306, "mssql": 1433}
BACKEND_NAMES = {"postgresql": "PostgreSQL", "mysql": "MySQL", "mariadb": "MariaDB"}
# What a server says when it is there but will never let us in as configured: waiting is futile.
_PERMANENT = re.compile(
    r"password authentication failed|authentication failed|does not exist|no pg_hba\.conf entry"
    r"|Access denied",
    re.IGNORECASE,
)  # fmt: skip
# Statements that fail because the server went away: it is shutting down, crashed, or does not
# take connections yet (57P01-3); too many connections (53300). Class 08 is checked as a class.
_OUTAGE_SQLSTATES = ("57P01", "57P02", "57P03", "53300")


def is_server(url: str) -> bool:
    """A database server (reached over the network), as opposed to an SQLite file."""
    try:
        return make_url(url).get_backend_name() != "sqlite"
    except ArgumentError:
        return False


def where(url: str) -> str:
    """The database as the logs and the CLI name it: backend, host and port, database, user;
    never the password. e.g. "PostgreSQL at 127.0.0.1:5432 (database lv, user lv)"."""
    from .database import canonical_url

    u = canonical_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        return f"SQLite file {u.database}" if u.database else "SQLite in memory"
    name = BACKEND_NAMES.get(backend, backend)
    port = u.port or DEFAULT_PORTS.get(backend)
    host = u.host or "localhost"
    host = f"[{host}]" if ":" in host else host
    extra = ", ".join(
        [f"database {u.database}"] * bool(u.database) + [f"user {u.username}"] * bool(u.username)
    )
    return f"{name} at {host}" + (f":{port}" if port else "") + (f" ({extra})" if extra else "")


def connect_url(url: str) -> str:
    """The URL the service connects with: a PostgreSQL URL gains a connect timeout (unless it
    names its own), so a try against a host that never answers ends in seconds."""
    from .database import canonical_url

    u = canonical_url(url)
    if u.get_backend_name() == "postgresql" and "connect_timeout" not in u.query:
        u = u.update_query_dict({"connect_timeout": str(CONNECT_TIMEOUT_S)})
    return u.render_as_string(hide_password=False)


def reason(exc: BaseException, url: str | None = None) -> str:
    """What the driver said, short and on one line, e.g. "connection refused", "the database
    system is starting up", 'password authentication failed for user "lv"'. The password is
    blanked out should the driver ever repeat it."""
    orig = getattr(exc, "orig", None) or exc
    text = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    text = text.rsplit(" failed: ", 1)[-1]  # psycopg: 'connection to server at ... failed: <why>'
    text = re.sub(r"^(connection failed:|FATAL:|ERROR:)\s*", "", text.strip()).strip()
    text = re.sub(r"\s+", " ", text)
    password = _password(url)
    if password:
        text = text.replace(password, "***")
    return (text[:1].lower() + text[1:])[:300] if text else "no reason given"


def _password(url: str | None) -> str | None:
    try:
        return make_url(url).password if url else None
    except ArgumentError:
        return None


def is_connection_failure(exc: BaseException, url: str | None = None) -> bool:
    """Whether `exc` is the database server being unreachable (or refusing us), not a failed
    statement. Never true for SQLite (a file is not "unreachable"; its errors say what they are)."""
    if url is not None and not is_server(url):
        return False
    if isinstance(exc, DBAPIError):
        if type(exc.orig).__module__.startswith("sqlite3"):
            return False
        if exc.connection_invalidated:
            return True
        if not isinstance(exc, (OperationalError, InterfaceError)):
            return False
        state = getattr(exc.orig, "sqlstate", None)
        # None: a failure before any statement ran (connecting); 08: connection exception.
        return state is None or state.startswith("08") or state in _OUTAGE_SQLSTATES
    return isinstance(exc, HistoryUnavailable)


def is_permanent(exc: BaseException) -> bool:
    """A refusal that waiting will not change (a wrong password, a database that does not exist)."""
    return bool(_PERMANENT.search(reason(exc)))


def unavailable(exc: BaseException, url: str | None = None) -> HistoryUnavailable | None:
    """The typed error for a database that cannot be reached, naming it (for logs and the CLI);
    None when `exc` is no such failure."""
    if isinstance(exc, HistoryUnavailable):
        return exc
    if not is_connection_failure(exc, url):
        return None
    named = f", {describe(url)}" if url else ""
    if is_permanent(exc):
        return HistoryUnavailable(
            f"The history database{named} refuses the connection: {reason(exc, url)}.",
            hint="correct the user, password or database name in --db (LOCALVISION_DB)",
        )
    return HistoryUnavailable(
        f"Cannot reach the history database{named}: {reason(exc, url)}.",
        hint="start the database server, or correct --db (LOCALVISION_DB)",
    )


def describe(url: str) -> str:
    """where(url), or a safe stand-in for a URL that does not parse (never the URL itself: it
    may hold a password)."""
    try:
        return where(url)
    except ArgumentError:
        return "(the --db / LOCALVISION_DB given, which is not a database URL)"


def open_history(url: str, wait_s: float, *, sleep=time.sleep) -> "HistoryStore":
    """The history store at `url`. A database server that cannot be reached is tried again with
    backoff until `wait_s` seconds have passed (one log line per try), then HistoryUnavailable;
    a refusal that waiting cannot change (wrong password, no such database) is raised at once."""
    from .history import HistoryStore

    target = connect_url(url) if is_server(url) else url
    started = None  # the wait starts at the first failure (the first try also loads the driver)
    backoff, tries = FIRST_BACKOFF_S, 0
    while True:
        tries += 1
        try:
            store = HistoryStore(target)
        except ArgumentError as exc:  # not a database URL at all
            raise InvalidArgument(f"--db is not a database URL SQLAlchemy knows: {exc}") from None
        except LocalVisionError:
            raise  # e.g. a database from a newer localvision (migrate.py)
        except Exception as exc:
            typed = unavailable(exc, url)
            if typed is None:  # not an outage: a folder it cannot make, a file it cannot open
                raise InvalidArgument(
                    f"Cannot open the database {describe(url)}: {reason(exc, url)}.",
                    hint="check --db (LOCALVISION_DB): a localvision database, in a folder "
                    "this user can write",
                ) from None
            started = started or time.monotonic()
            left = wait_s - (time.monotonic() - started)
            if is_permanent(exc) or left <= 0:
                if tries > 1:
                    gave_up = f" (gave up after {tries} tries in {wait_s:g} s)."
                    typed.message = typed.message[:-1] + gave_up
                    typed.args = (typed.message,)
                raise typed from None
            pause = min(backoff, left)
            log.warning(
                "waiting for the history database, %s: %s; try %d, next in %.1f s (%.0f s left)",
                where(url), reason(exc, url), tries, pause, left,
                extra={"fields": {"database": where(url), "try": tries}},
            )  # fmt: skip
            sleep(pause)
            backoff = min(backoff * 2, MAX_BACKOFF_S)
            continue
        if tries > 1:
            log.info("the history database, %s, answers (after %d tries)", where(url), tries)
        return store
