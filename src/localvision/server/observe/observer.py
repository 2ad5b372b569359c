"""The request observer: one pure-ASGI middleware that sees every request and hands one
AccessRecord per request to its sinks (the access log, the metrics). It counts body bytes as they
pass and adds one response header (X-Request-ID), so streamed bodies stay streamed.

A record holds what an operator needs to find a request again (request id, route, status,
timing, sizes, client address, error code) and never its content: no image bytes, no query
string, no Authorization header, cookies or passwords. The sinks know nothing of each other.
"""

from __future__ import annotations

import re
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

from starlette.routing import Match, Mount

# A caller's id is echoed back only if it is short and plain: it lands in logs and headers, so it
# must not be able to inject a line break, a quote or a megabyte of text.
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
# Status logged when no response was started: the client went away first (nginx's convention).
CLIENT_CLOSED = 499


@dataclass
class RequestContext:
    """What the code handling one request can add to its access record (see `note_error`)."""

    request_id: str
    error: str | None = None


_current: ContextVar[RequestContext | None] = ContextVar("localvision_request", default=None)


def current_request_id() -> str | None:
    ctx = _current.get()
    return ctx.request_id if ctx else None


def note_error(code: str) -> None:
    """Record the error code answered to the current request (called by server/errors.py)."""
    ctx = _current.get()
    if ctx is not None:
        ctx.error = code


def request_id_from(scope: dict) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SANE_ID.fullmatch(text) else uuid.uuid4().hex
    return uuid.uuid4().hex


def route_template(handled: dict, arrived: dict) -> str:
    """The matched route's template (/api/v1/classify), never the raw path: a label per raw path
    would let any client grow the metrics without bound. Paths no route knows are "unmatched".

    handled: the scope after the app ran (the router put the matched route in it);
    arrived: a copy taken before, which a mount's own rewrite of root_path has not touched."""
    template = getattr(handled.get("route"), "path_format", None)
    if template:
        return template
    for candidate in getattr(arrived.get("app"), "routes", ()):
        # Mounts (static files) are not recorded in the scope by FastAPI's router.
        if isinstance(candidate, Mount) and candidate.matches(arrived)[0] is Match.FULL:
            return candidate.path_format
    return "unmatched"


@dataclass
class AccessRecord:
    request_id: str
    method: str
    route: str
    path: str
    status: int
    duration_ms: float
    client: str | None
    bytes_in: int
    bytes_out: int
    error: str | None

    @property
    def message(self) -> str:
        return f"{self.method} {self.path} {self.status} {self.duration_ms:.1f}ms"


class Sink(Protocol):
    """What the observer feeds: a request began; a request ended, with its record."""

    def started(self) -> None: ...

    def finished(self, record: AccessRecord) -> None: ...


class RequestObserver:
    """Pure ASGI middleware: request id in and out, one access record per request to each sink."""

    def __init__(self, app, *, sinks: list[Sink]):
        self.app = app
        self.sinks = sinks

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        arrived = dict(scope)
        ctx = RequestContext(request_id_from(scope))
        # Not reset on the way out: the server runs each request in its own task (so its own
        # context), and the 500 handler, which runs outside us, still logs with this id.
        _current.set(ctx)
        scope.setdefault("state", {})["request_id"] = ctx.request_id
        header = (b"x-request-id", ctx.request_id.encode("ascii"))
        seen = {"in": 0, "out": 0, "status": None, "done": False}

        def finish() -> None:
            if seen["done"]:
                return
            seen["done"] = True
            method = scope.get("method", "GET")
            record = AccessRecord(
                request_id=ctx.request_id,
                method=method if method in _METHODS else "OTHER",
                route=route_template(scope, arrived),
                path=arrived.get("path", "")[:256],
                status=seen["status"] or CLIENT_CLOSED,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                client=scope["client"][0] if scope.get("client") else None,
                bytes_in=seen["in"],
                bytes_out=seen["out"],
                error=ctx.error,
            )
            for sink in self.sinks:
                sink.finished(record)

        async def receive_counted():
            message = await receive()
            if message["type"] == "http.request":
                seen["in"] += len(message.get("body", b""))
            return message

        async def send_observed(message):
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                headers = [h for h in message.get("headers", ()) if h[0].lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, header]}
            elif message["type"] == "http.response.body":
                seen["out"] += len(message.get("body", b""))
                if not message.get("more_body", False):
                    # Recorded before the last byte leaves: a client that has its whole answer
                    # finds the request already in /metrics and the log, never a moment later.
                    finish()
            await send(message)

        for sink in self.sinks:
            sink.started()
        try:
            await self.app(scope, receive_counted, send_observed)
        except Exception:
            # ServerErrorMiddleware, outside us, answers 500 and logs the traceback.
            if seen["status"] is None:
                seen["status"] = 500
            ctx.error = ctx.error or "internal_error"
            raise
        finally:
            finish()  # no complete response: an error, or the client went away


def install(app, sinks: list[Sink]) -> None:
    """Add the observer. Install it last: the last middleware added is the outermost, and it must
    see every request, including those refused by the origin guard, the gate or the limits."""
    app.add_middleware(RequestObserver, sinks=sinks)
