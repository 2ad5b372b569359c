"""Rate limiting per client: each verified identity (the user behind a valid API key or web
session), or else each client address, gets its own moving window (the `limits` package, in
memory), so one busy client never slows another.

Who is counted is decided after the auth gate (server/guards/gate.py), never from what a request
claims: a bearer token that does not verify is no identity, so it counts against the address it came
from (the gate asks `RateLimits.check` before answering 401), and with auth off every request is
its address's. A client therefore cannot buy a fresh window by sending a new random token, nor
by an X-Forwarded-For header (uvicorn trusts that only from its configured proxies).

Limited: the API (/api/...), the classic /predict, the KServe v2 models (/v2/models/...) and
TorchServe's /predictions/... Never limited: the health probes (orchestrators poll them), /metrics (the scraper), the UI pages and static files.
Over the limit: 429 `rate_limited` with Retry-After, the seconds until the window has room.

The windows live in this process's memory: they start empty on restart and are not shared
between worker processes.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from ...errors import RateLimited
from ..errors import refuse, render
from .gate import PRINCIPAL

if TYPE_CHECKING:  # pragma: no cover
    from fastapi import FastAPI

    from ...config import Settings

OFF = ("", "off", "none")


def parse_rate(text: str) -> list[RateLimitItem]:
    """"60/minute", "10/second;600/minute" (every limit applies); "off" or "" -> no limit."""
    if text.strip().lower() in OFF:
        return []
    return parse_many(text)


def is_limited(path: str) -> bool:
    return path == "/predict" or path.startswith(("/api/", "/v2/models/", "/predictions/"))


def address_key(scope: dict) -> str:
    """The client's address, as uvicorn reports it (X-Forwarded-For only from trusted proxies)."""
    client = scope.get("client")
    return "addr:" + (client[0] if client else "unknown")


def client_key(scope: dict) -> str:
    """The verified user the gate left in the scope, else the address."""
    principal = scope.get(PRINCIPAL)
    if principal is not None:
        return "user:" + principal.user
    return address_key(scope)


class RateLimits:
    """The windows, shared by the middleware and the gate."""

    def __init__(self, limits: list[RateLimitItem]):
        self.limits = limits
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def check(self, who: str) -> RateLimited | None:
        """None if the request may go on (and is counted), else why not and for how long."""
        # Test every window before counting in any, so a refused request uses up none of them.
        for item in self.limits:
            if not self.limiter.test(item, who):
                reset = self.limiter.get_window_stats(item, who).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                return RateLimited(
                    f"Too many requests (the limit is {item}); try again in {wait} s.",
                    retry_after=wait,
                )
        for item in self.limits:
            self.limiter.hit(item, who)
        return None


class RateLimiter:
    """Pure ASGI middleware, inside the gate; a refused request's body is never read."""

    def __init__(self, app, *, limits: RateLimits):
        self.app = app
        self.limits = limits

    async def __call__(self, scope, receive, send):
        # A WebSocket handshake (the live camera's) counts as one request; its frames do not.
        if scope["type"] not in ("http", "websocket") or not is_limited(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        refused = self.limits.check(client_key(scope))
        if refused is None:
            await self.app(scope, receive, send)
            return
        await refuse(render(refused), scope, receive, send)


def install(app: FastAPI, settings: Settings) -> None:
    """Add the middleware (install it before the gate, so that it runs after it), and give the
    gate the check for requests whose credentials did not verify."""
    items = parse_rate(settings.rate_limit)
    if not items:
        return
    limits = RateLimits(items)

    def unverified_over_limit(scope):
        if not is_limited(scope.get("path", "")):
            return None
        refused = limits.check(address_key(scope))
        return render(refused) if refused else None

    app.state.unverified_over_limit = unverified_over_limit
    app.add_middleware(RateLimiter, limits=limits)
