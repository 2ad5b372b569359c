"""How `localvision serve` runs the service: uvicorn with our logging, and one line saying where
to open it, printed when the service can really answer.

"Ready" takes two things that finish in either order: the model loaded and warmed up
(create_app's on_ready) and uvicorn listening on its port (Server.startup). The line is logged
after the later of the two, so whoever reads it and opens the address gets an answer, and
/readyz says 200.
"""

from __future__ import annotations

import logging
import logging.config
import sys
import threading
from typing import TextIO

import uvicorn

from ..config import Settings

log = logging.getLogger("localvision.serve")

STARTUP_FAILURE = 3  # what uvicorn.run exits with when the server could not start


def resolve_log_format(setting: str, stream: TextIO | None = None) -> str:
    """`auto`: readable text for a person at a terminal, JSON lines for anything else (a pipe,
    a file, a log collector)."""
    if setting != "auto":
        return setting
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return "text" if callable(isatty) and isatty() else "json"


def browser_url(settings: Settings) -> str:
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"http://{host}:{settings.port}/"


class Announcer:
    """Logs the ready line once both the model is ready and the server is listening."""

    def __init__(self, url: str):
        self.url = url
        self._model_ready = self._listening = self._said = False
        self._failed: str | None = None  # the model's load failure: the service runs degraded
        self._lock = threading.Lock()

    def model_ready(self, service=None) -> None:  # create_app(on_ready=...)
        with self._lock:
            self._model_ready = True
            if service is not None and service.model.status == "failed":
                self._failed = service.model.reason
        self._maybe_say()

    def listening(self) -> None:
        with self._lock:
            self._listening = True
        self._maybe_say()

    def _maybe_say(self) -> None:
        with self._lock:
            if not (self._model_ready and self._listening) or self._said:
                return
            self._said = True
        fields = {"fields": {"url": self.url}}
        if self._failed:
            log.warning(
                "degraded: the model did not load (%s); %s says why and how to fix it",
                self._failed, self.url, extra=fields,
            )  # fmt: skip
        else:
            log.info("ready: open %s in your browser", self.url, extra=fields)


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_listening):
        super().__init__(config)
        self._on_listening = on_listening

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets=sockets)
        if self.started:  # sockets bound, accepting connections
            self._on_listening()


def open_history(settings: Settings, log_format: str):
    """The history store, once its database answers: a server that cannot be reached yet is
    waited for (db_wait_s), each try logged in the server's own log format (dbwait.py)."""
    from ..dbwait import open_history as wait_and_open
    from ..server.observe.logs import logging_config

    logging.config.dictConfig(logging_config(log_format))
    return wait_and_open(settings.db, settings.db_wait_s)


def run(settings: Settings, log_format: str, history=None) -> None:
    """Serve until interrupted (uvicorn.run's behaviour, plus the ready line). history: the
    store already opened (open_history); the app closes it when it stops."""
    from ..server.app import create_app
    from ..server.guards.protocol import uvicorn_options
    from ..server.observe.logs import logging_config

    announcer = Announcer(browser_url(settings))
    # cli_admin.serve_auth has refused auth off on a public address unless --insecure-no-auth
    # was given; the app applies the start-up policy again (server/service/startup.py).
    insecure = settings.auth == "off"
    config = uvicorn.Config(
        create_app(settings, on_ready=announcer.model_ready, history=history,
                   insecure_no_auth=insecure),
        host=settings.host, port=settings.port, log_level="info",
        log_config=logging_config(log_format), access_log=False,  # ours: server/observe/logs.py
        **uvicorn_options(settings),  # header deadline, size, keep-alive (guards/protocol.py)
    )  # fmt: skip
    server = _Server(config, announcer.listening)
    try:
        server.run()
    except KeyboardInterrupt:  # Ctrl+C after a graceful shutdown, as uvicorn.run treats it
        pass
    if not server.started:
        sys.exit(STARTUP_FAILURE)
