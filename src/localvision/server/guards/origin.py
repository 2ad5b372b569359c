"""Which web sites may talk to the service: the Host header must name this server, and a browser
may change state (POST, DELETE, ...) only from this server's own pages or an allowed origin.

With auth off on loopback, anything that can make this machine's browser send a request could
use the service: a page on any web site can POST images to it (and fill its history), and a DNS
rebinding page (evil.example re-pointed at 127.0.0.1) can even read /api/v1/history.csv. So:

- Host: only loopback names, the address the service is bound to, and `allowed_hosts`; else
  400 `host_not_allowed` (Django's ALLOWED_HOSTS). Bound to a wildcard address (0.0.0.0, ::),
  the service cannot know its own names, so any Host is accepted there, and auth (on by default
  for such addresses) is what protects it; `allowed_hosts` narrows that down.
- Cross-site writes: a request whose `Origin` is neither this server's own origin nor in
  `cors_origins` is refused with 403 `cross_origin`, and so is one without Origin whose
  `Sec-Fetch-Site` says another site sent it. curl, scripts and other programs send neither
  header and are not affected; the service's own pages send their own origin.
- `cors_origins` also gets CORS headers (Starlette's CORSMiddleware), so those sites' pages can
  read the answers.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers

from ...config import Settings
from ...errors import CrossOrigin, HostNotAllowed, LocalVisionError
from ..errors import refuse, render
from .gate import SAFE_METHODS

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"0.0.0.0", "::", ""})


def host_name(host_header: str) -> str:
    """'Example.org:8000' -> 'example.org'; '[::1]:8000' -> '::1'."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class HostPolicy:
    """The host names and origins a Settings allows."""

    def __init__(self, settings: Settings):
        extra = set(settings.allowed_host_names)
        bound = settings.host.strip().strip("[]").lower()
        self.any_host = "*" in extra or (bound in WILDCARDS and not extra)
        self.hosts = frozenset(LOOPBACK_NAMES | {bound} | extra) - {"*"}
        self.origins = frozenset(settings.cors_origin_list)

    def allows_host(self, host_header: str | None) -> bool:
        if self.any_host:
            return True
        if not host_header:  # HTTP/1.0 without Host: a program, not a browser
            return True
        return host_name(host_header) in self.hosts

    def allows_origin(self, origin: str | None, host_header: str | None, scheme: str) -> bool:
        if origin is None:
            return True
        origin = origin.strip().rstrip("/")
        if origin in self.origins:
            return True
        parts = urlsplit(origin)
        return bool(host_header) and (parts.scheme, parts.netloc.lower()) == (
            scheme, host_header.strip().lower()
        )


class OriginGuard:
    """Pure ASGI middleware: refuses what the policy does not allow, before anything else runs."""

    def __init__(self, app, *, policy: HostPolicy):
        self.app = app
        self.policy = policy

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refused = self.check(scope)
        if refused is None:
            await self.app(scope, receive, send)
            return
        await refuse(render(refused), scope, receive, send)

    def check(self, scope) -> LocalVisionError | None:
        headers = Headers(scope=scope)
        host = headers.get("host")
        if not self.policy.allows_host(host):
            return HostNotAllowed(
                f"This server does not answer to the host name {host_name(host)!r}.",
                hint="localvision serve --allowed-hosts NAME",
            )
        # A WebSocket handshake is a GET, but what it opens can change things (and CORS does
        # not cover it): it is checked like a write.
        if scope["type"] == "http" and scope["method"] in SAFE_METHODS:
            return None
        origin = headers.get("origin")
        site = headers.get("sec-fetch-site")
        if origin is not None:
            scheme = scope.get("scheme", "http")
            # a page's origin is http(s), the socket's scheme ws(s)
            scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
            allowed = self.policy.allows_origin(origin, host, scheme)
        else:  # an older browser: Fetch Metadata tells where the request came from
            allowed = site in (None, "same-origin", "none")
        if allowed:
            return None
        return CrossOrigin(
            f"Requests from {origin or 'another site'} may not change anything here.",
            hint="localvision serve --cors-origins ORIGIN",
        )


def install(app, settings: Settings) -> None:
    """CORS for the allowed origins, then the guard outside it (install after the gate, so that
    both run before it: a CORS preflight carries no credentials)."""
    policy = HostPolicy(settings)
    if policy.origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(policy.origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-CSRF-Token", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.add_middleware(OriginGuard, policy=policy)
