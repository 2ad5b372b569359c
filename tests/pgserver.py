"""A real PostgreSQL server for the tests, started by the tests themselves.

Debian's `postgresql` package (scripts/test.sh installs it where `initdb` is missing): `initdb`
and `pg_ctl` in a temporary directory, on a free loopback port, as an unprivileged user (the
`postgres` system user when the tests run as root: PostgreSQL refuses to run as root). Password
authentication (scram-sha-256) is on, so the URLs carry a password the way a real deployment's
do (a test can check it is never printed).

    server = PostgresServer(); server.start()
    url = server.create_database()      # postgresql+psycopg://localvision:...@127.0.0.1:PORT/db_1
    url = server.create_schema()        # cheaper: an empty schema, named in the URL's options
    server.kill()                       # SIGKILL the postmaster and every backend: a crash
    server.start()                      # crash recovery; committed rows are there, the rest not
    server.stop()

tests/conftest.py turns it into fixtures: one server per session (`pg_server`), and a fresh
database (a schema of its own) for each test or module-scoped server (`db_url`, `new_db`), on
each backend in turn (`db_backend`: SQLite, then PostgreSQL).
"""

from __future__ import annotations

import itertools
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

USER = "localvision"  # the database role the URLs sign in as (a superuser of this cluster)
SHARED = "lv_tests"  # the database create_schema's schemas live in


def pg_bindir() -> Path | None:
    """Where initdb and pg_ctl are: on PATH, or Debian's versioned directory (newest first)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster in a temporary directory; see the module docstring."""

    def __init__(self, bindir: Path | None = None):
        self.bindir = bindir or pg_bindir()
        if self.bindir is None:
            raise RuntimeError(
                "PostgreSQL is not installed (no initdb): `apt-get install postgresql` "
                "(scripts/test.sh does it on a fresh machine)."
            )
        self.password = secrets.token_hex(16)
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="localvision-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._names = itertools.count(1)
        self._shared = False
        self._as: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL will not run as root: hand the directory over
            owner = _unprivileged_user()
            self._as = ["runuser", "-u", owner, "--"]
            entry = pwd.getpwnam(owner)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.root.chmod(0o700)
        self._initdb()

    # --- the cluster ---
    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self._as, *args], capture_output=True, text=True, check=check, cwd=self.root
        )

    def _initdb(self) -> None:
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if self._as:
            shutil.chown(pwfile, user=self._as[2])
        try:
            self._run(
                str(self.bindir / "initdb"), "-D", str(self.data), "-U", USER,
                f"--pwfile={pwfile}", "--auth=scram-sha-256", "--encoding=UTF8",
                "--locale=C", "--no-sync",
            )  # fmt: skip
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"initdb failed:\n{exc.stdout}\n{exc.stderr}") from None
        finally:
            pwfile.unlink(missing_ok=True)

    def start(self, timeout: float = 60) -> None:
        """Start (or, after kill(), recover and start) the server; returns once it accepts
        connections."""
        options = " ".join([
            f"-p {self.port}", "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.root}",
            # Written to the OS at every commit, just not forced to the disk: a killed server
            # loses nothing (only a crash of the whole machine could), and the tests stay fast.
            "-c fsync=off", "-c full_page_writes=off",
            "-c max_connections=300", "-c shared_buffers=32MB",
        ])  # fmt: skip
        result = self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
            "-o", options, "-w", "-t", str(int(timeout)), "start", check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(
                f"PostgreSQL did not start: {result.stdout}{result.stderr}\n{self.log_tail()}"
            )
        self._wait_accepting(timeout)

    def _wait_accepting(self, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.dsn("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        """A clean (fast) shutdown; nothing when it is not running."""
        if self.pid() is not None:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                      "stop", check=False)  # fmt: skip

    def restart(self) -> None:
        self.stop()
        self.start()

    def kill(self) -> None:
        """SIGKILL the postmaster and every process it started (backends, writers): what a
        crash, an OOM kill or a pulled plug does. start() then runs crash recovery."""
        import psutil

        pid = self.pid()
        if pid is None:
            return
        try:
            master = psutil.Process(pid)
            family = [master, *master.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for proc in family:  # the postmaster first, so it restarts no child
            try:
                proc.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(family, timeout=10)

    def pid(self) -> int | None:
        """The running postmaster's process id, or None."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
            os.kill(pid, 0)
            return pid
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no server log)"

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    # --- databases ---
    def dsn(self, database: str) -> str:
        """A libpq connection string (for psycopg itself)."""
        return (
            f"host=127.0.0.1 port={self.port} user={USER} password={self.password} "
            f"dbname={database}"
        )

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of one database (what --db takes)."""
        return f"postgresql+psycopg://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A new, empty database; returns its SQLAlchemy URL."""
        name = name or f"db_{next(self._names)}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name_or_url: str) -> None:
        """Drop a database, ending whatever connections are still open on it."""
        name = name_or_url.rsplit("/", 1)[-1]
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def create_schema(self) -> str:
        """A fresh, empty place for one test, much cheaper than a database (CREATE DATABASE
        copies a template: most of a second on a busy machine): a schema of its own in one
        shared database, which the URL makes its connections' search_path, so to localvision
        (and Alembic) it is an empty database. The connections are named after it
        (application_name), so drop_schema can end the ones a test left open."""
        if not self._shared:
            self.create_database(SHARED)
            self._shared = True
        name = f"t_{next(self._names)}"
        self._admin(f'CREATE SCHEMA "{name}"', SHARED)
        return f"{self.url(SHARED)}?application_name={name}&options=-csearch_path%3D{name}"

    def drop_schema(self, url: str) -> None:
        name = url.rsplit("application_name=", 1)[1].split("&", 1)[0]
        self._admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE application_name = '{name}' AND pid <> pg_backend_pid()", SHARED,
        )  # fmt: skip
        self._admin(f'DROP SCHEMA IF EXISTS "{name}" CASCADE', SHARED)

    def _admin(self, sql: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.dsn(database), autocommit=True) as conn:
            conn.execute(sql)


def _unprivileged_user() -> str:
    """The `postgres` system user (Debian's package makes it), or one made for the purpose."""
    for name in ("postgres", "localvision-pg"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "localvision-pg"], check=True)
    return "localvision-pg"
