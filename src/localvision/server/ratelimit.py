"""Rate limiting per client: each API key, or each address when no key is sent, gets its own
moving window (the `limits` package, in memory), so one busy client never slows another.

Limited: the API (/api/...) and the classic /predict. Never limited: /healthz and /readyz
(orchestrators poll them), /metrics (the scraper), the UI pages and static files.
Over the limit: 429 `rate_limited` with Retry-After, the seconds until the window has room.

The windows live in this process's memory: they start empty on restart and are not shared
between worker processes.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import TYPE_CHECKING

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from ..errors import RateLimited
from .errors import error_response

if TYPE_CHECKING:  # pragma: no cover
    from fastapi import FastAPI

    from ..config import Settings

OFF = ("", "off", "none")


def parse_rate(text: str) -> list[RateLimitItem]:
    """"60/minute", "10/second;600/minute" (every limit applies); "off" or "" -> no limit."""
    if text.strip().lower() in OFF:
        return []
    return parse_many(text)


def is_limited(path: str) -> bool:
    return path == "/predict" or path.startswith("/api/")


def client_key(scope: dict) -> str:
    """The bearer token's SHA-256 when one is sent (the token itself is never kept), else the
    client's address (as uvicorn reports it: X-Forwarded-For only from its trusted proxies)."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            token = token.strip()
            if scheme.lower() == b"bearer" and token:
                return "key:" + hashlib.sha256(token).hexdigest()
    client = scope.get("client")
    return "addr:" + (client[0] if client else "unknown")


class RateLimiter:
    """Pure ASGI middleware; a refused request's body is never read."""

    def __init__(self, app, *, limits: list[RateLimitItem]):
        self.app = app
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

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not is_limited(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        refused = self.check(client_key(scope))
        if refused is None:
            await self.app(scope, receive, send)
            return
        wait = refused.retry_after
        response = error_response(
            refused.status, refused.code, refused.message,
            headers={"Retry-After": str(wait)}, retry_after=wait,
        )  # fmt: skip
        await response(scope, receive, send)


def install(app: FastAPI, settings: Settings) -> None:
    limits = parse_rate(settings.rate_limit)
    if limits:
        app.add_middleware(RateLimiter, limits=limits)
