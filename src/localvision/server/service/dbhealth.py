"""Whether the running service can reach its history database, and its recovery when it returns.

One `DatabaseHealth` watches the history's engine (SQLAlchemy's `handle_error` event): when a
statement or a connection fails because the database server is unreachable (stopped, restarted,
the network between), that failure is raised as the typed `HistoryUnavailable` (503 with
Retry-After, rendered like every other error) and the service counts as down. While it is down:

- requests that must be recorded (every classify route, through Service.recognize), the history
  routes and the auth gate's key and session lookups are refused at once with 503
  `history_unavailable`, without waiting on the network and without running the model;
- /readyz (and KServe's /v2/health/ready, TorchServe's /ping) say the service is not ready, and
  why; /healthz stays 200: the process is alive and needs no restart;
- a probe thread tries to connect every PROBE_EVERY_S; the first connection that succeeds (the
  probe's, or any other) makes it up again. The pool was invalidated on the disconnect and
  pool_pre_ping replaces stale connections, so nothing else needs resetting.

SQLite files are never "unreachable": their errors pass through unchanged.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from ...dbwait import is_connection_failure, is_server, reason, where
from ...errors import HistoryUnavailable

log = logging.getLogger("localvision.server")

# Once a second: the service is back within about a second of the database, and a probe is one
# connection attempt (refused at once on a stopped server; CONNECT_TIMEOUT_S at most otherwise).
PROBE_EVERY_S = 1.0
RETRY_AFTER_S = 2  # what a refused client is told to wait: a probe or two


def refusal() -> HistoryUnavailable:
    """The error clients get while the database is down. It does not name the server: the
    client may not even be signed in (the gate could not check), and the host is the operator's
    business (the server's log names it)."""
    return HistoryUnavailable(
        "The history database cannot be reached, so nothing that must be recorded or checked "
        "against it can be done now. Try again in a few seconds.",
        retry_after=RETRY_AFTER_S,
    )


class DatabaseHealth:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=False)
        self.watched = is_server(self.url)
        self.reason: str | None = None  # why it is down; None: up
        self.down_since: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._probe: threading.Thread | None = None
        if self.watched:
            event.listen(engine, "handle_error", self._on_error)
            event.listen(engine, "connect", self._on_connect)

    @property
    def up(self) -> bool:
        return self.reason is None

    def require(self) -> None:
        """Raise HistoryUnavailable while the database is down."""
        if self.reason is not None:
            raise refusal()

    def readiness(self) -> str | None:
        """Why the service is not ready because of its database; None when it is reachable."""
        if self.reason is None:
            return None
        return (
            "the history database cannot be reached; the service recovers by itself once it is back"
        )

    # --- what the engine tells us ---
    def _on_error(self, ctx) -> None:
        if ctx.is_pre_ping:  # a stale pooled connection: SQLAlchemy reconnects on its own
            return
        exc = ctx.sqlalchemy_exception or ctx.original_exception
        if not (ctx.is_disconnect or is_connection_failure(exc, self.url)):
            return
        self.mark_down(reason(ctx.original_exception, self.url))
        raise refusal() from ctx.original_exception

    def _on_connect(self, _dbapi_connection, _record) -> None:
        self.mark_up()

    # --- state ---
    def mark_down(self, why: str) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            first = self.reason is None
            self.reason = why
            if first:
                self.down_since = time.monotonic()
                log.error(
                    "the history database, %s, cannot be reached (%s): classify, history and "
                    "key checks answer 503 history_unavailable until it is back",
                    where(self.url), why, extra={"fields": {"database": where(self.url)}},
                )  # fmt: skip
            if self._probe is None or not self._probe.is_alive():
                self._probe = threading.Thread(
                    target=self._watch, name="history-probe", daemon=True
                )
                self._probe.start()

    def mark_up(self) -> None:
        with self._lock:
            if self.reason is None:
                return
            down_for = time.monotonic() - (self.down_since or time.monotonic())
            self.reason = self.down_since = None
        log.info(
            "the history database, %s, is reachable again (after %.1f s)", where(self.url),
            down_for, extra={"fields": {"database": where(self.url)}},
        )  # fmt: skip

    def _watch(self) -> None:
        """Try to connect until the database answers (or the service stops)."""
        while not self._stop.wait(PROBE_EVERY_S) and self.reason is not None:
            try:
                with self.engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
            except Exception:  # still down (the error was already counted by _on_error)
                continue
            self.mark_up()

    def close(self) -> None:
        self._stop.set()
