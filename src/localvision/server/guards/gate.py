"""The auth gate over HTTP: who is asking (API key or web session), CSRF, and what routes read
of it (principal_of, user_of, history_scope, require_admin). The sign-in page is login.py.

When auth is on, `AuthMiddleware` guards every path (default deny) except the few that must stay
open: health checks, the sign-in page and the stylesheet it uses. A gate in front of everything,
rather than a dependency on each route, also covers what routes do not declare: /docs,
/openapi.json, mounted static files, /metrics and any route added later.

- `Authorization: Bearer <key>`: an API key (see `localvision keys`). Such requests need no CSRF
  token: a browser never attaches that header on its own.
- The `localvision_session` cookie (HttpOnly, SameSite=Lax, signed): a web sign-in. Every
  state-changing request made with it must carry the session's CSRF token in `X-CSRF-Token`
  (the pages read it from the `localvision_csrf` cookie, which other sites cannot read).
- Sign-in attempts are throttled per user name and per client address, and the password checks
  running at once are bounded (server/guards/throttle.py; the Gate holds them, login.py uses them).

Pages (a GET that accepts HTML) without valid credentials are redirected to /login; everything
else gets a JSON 401 with `WWW-Authenticate: Bearer`.

Keys and sessions live in the database: while it cannot be reached (server/service/dbhealth.py), a
request that carries credentials is answered 503 `history_unavailable` with Retry-After (its key
cannot be checked, which is not the same as a wrong key: a 401 would tell the client to stop).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from datetime import timedelta
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import cookie_parser

from ...auth import AuthStore, Principal, auth_enabled
from ...config import Settings
from ...errors import CsrfFailed, Forbidden, HistoryUnavailable, LocalVisionError, Unauthorized
from ..errors import refuse, render
from .throttle import PasswordChecks, SignInThrottle

log = logging.getLogger("localvision.server")

SESSION_COOKIE = "localvision_session"
CSRF_COOKIE = "localvision_csrf"
CSRF_HEADER = "x-csrf-token"
PRINCIPAL = "localvision.principal"  # where the gate leaves the principal in the ASGI scope

# Health probes carry no credentials: ours, KServe v2's and TorchServe's.
OPEN_PATHS = frozenset(
    {"/healthz", "/readyz", "/login", "/logout", "/static/style.css", "/static/login.css",
     "/v2/health/live", "/v2/health/ready", "/ping"}
)  # fmt: skip
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# last_used_at is a write; once a minute per key is plenty for "when was this key last used".
TOUCH_EVERY_S = 60.0


class Gate:
    """What the middleware and the routes share: the store, the cookie signer, the sign-in
    throttle and the bound on password checks."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.enabled = auth_enabled(settings.auth, settings.host)
        self.session_lifetime = timedelta(days=settings.session_days)
        self.sign_ins = SignInThrottle()
        self.password_checks = PasswordChecks(
            settings.password_checks, settings.password_check_wait_s
        )
        self._store: AuthStore | None = None
        self._signer: URLSafeTimedSerializer | None = None
        self._touched: dict[int, float] = {}
        self._lock = threading.Lock()

    # Opened on first use, on the history's engine: users, keys and history share one database.
    def _open(self, app) -> tuple[AuthStore, URLSafeTimedSerializer]:
        with self._lock:
            if self._store is None:
                store = AuthStore(app.state.service.history.engine)
                self._signer = URLSafeTimedSerializer(store.secret(), salt="localvision.cookie")
                self._store = store
            return self._store, self._signer

    async def store(self, app) -> AuthStore:
        if self._store is None:
            app.state.service.database.require()
            await run_in_threadpool(self._open, app)
        return self._store

    async def signer(self, app) -> URLSafeTimedSerializer:
        if self._signer is None:
            app.state.service.database.require()
            await run_in_threadpool(self._open, app)
        return self._signer

    # --- who is asking ---
    async def principal(self, app, method: str, headers: Headers) -> Principal | None:
        """The principal behind a request; None without credentials. Raises Unauthorized for
        credentials that do not check out and CsrfFailed for a session POST without its token."""
        authorization = headers.get("authorization")
        if authorization is not None:
            return await self._from_key(app, authorization)
        token = cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE)
        if token is None:
            return None
        principal = await self.session(app, token)
        if principal is None:
            raise Unauthorized("Your sign-in is not valid or has expired. Sign in again.")
        if method not in SAFE_METHODS and not same_secret(headers.get(CSRF_HEADER), principal.csrf):
            raise CsrfFailed(
                "This request did not carry the page's security token (X-CSRF-Token). "
                "Reload the page and try again."
            )
        return principal

    async def _from_key(self, app, authorization: str) -> Principal:
        scheme, _, key = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthorized("Send the API key as `Authorization: Bearer <key>`.")
        store = await self.store(app)
        app.state.service.database.require()  # fail fast while the database is down
        principal = await run_in_threadpool(store.verify_key, key.strip())
        now = time.monotonic()
        if now - self._touched.get(principal.key_id, -TOUCH_EVERY_S) >= TOUCH_EVERY_S:
            self._touched[principal.key_id] = now
            await run_in_threadpool(store.touch_key, principal.key_id)
        return principal

    async def session(self, app, signed: str) -> Principal | None:
        """The principal a session cookie names; None for a tampered, expired or ended one."""
        token = await self.unsign(app, signed, self.session_lifetime.total_seconds())
        if not isinstance(token, str):
            return None
        store = await self.store(app)
        app.state.service.database.require()
        return await run_in_threadpool(store.session_principal, token)

    async def unsign(self, app, signed: str, max_age: float, salt: str | None = None):
        try:
            return (await self.signer(app)).loads(signed, max_age=max_age, salt=salt)
        except BadSignature:  # also SignatureExpired
            return None


def same_secret(given: str | None, expected: str | None) -> bool:
    """Constant-time equality (as bytes: compare_digest refuses non-ASCII text)."""
    if not (given and expected):
        return False
    return secrets.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


def wants_html(headers: Headers) -> bool:
    return "text/html" in headers.get("accept", "")


class AuthMiddleware:
    """Pure ASGI, so a refused request is answered before its body is read."""

    def __init__(self, app, gate: Gate):
        self.app, self.gate = app, gate

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket") or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        # A WebSocket handshake is a GET: no page can put an X-CSRF-Token header on it, so a
        # session needs none there; the origin guard refuses other sites' pages instead.
        method = scope.get("method", "GET")
        try:
            principal = await self.gate.principal(scope["app"], method, headers)
            if principal is None:
                raise Unauthorized(
                    "Sign in, or send an API key as `Authorization: Bearer <key>`.",
                    hint="localvision keys create",
                )
        except (Unauthorized, Forbidden) as exc:
            # Credentials that do not verify are no identity: the request counts against its
            # address's rate-limit window (guards/ratelimit.py), and over it gets 429, not 401.
            over_limit = getattr(scope["app"].state, "unverified_over_limit", None)
            response = over_limit(scope) if over_limit else None
            response = response or self._refuse(exc, scope, headers)
            return await refuse(response, scope, receive, send)
        except HistoryUnavailable as exc:  # the key or session cannot be looked up now
            return await refuse(render(exc), scope, receive, send)
        scope[PRINCIPAL] = principal

        async def send_private(message):
            # What one user may see must not be served from a cache to the next one, nor to
            # anybody after signing out: the browser asks again, and the gate answers.
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=message.setdefault("headers", []))
                if "cache-control" not in headers:
                    headers["Cache-Control"] = "private, no-cache"
            await send(message)

        await self.app(scope, receive, send_private)

    @staticmethod
    def _refuse(exc: LocalVisionError, scope, headers: Headers) -> Response:
        page = scope.get("method") in ("GET", "HEAD") and wants_html(headers)
        if isinstance(exc, Unauthorized) and page:
            query = scope["query_string"].decode("latin-1")
            target = scope["path"] + (f"?{query}" if query else "")
            response = RedirectResponse("/login?next=" + quote(target, safe=""), status_code=303)
        else:
            response = render(exc)
        by_cookie = "authorization" not in headers and SESSION_COOKIE in headers.get("cookie", "")
        if isinstance(exc, Unauthorized) and by_cookie:
            forget_session(response)  # a dead session: the browser may as well drop it
        return response


def forget_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    response.delete_cookie(CSRF_COOKIE, path="/", samesite="lax")


# --- what routes use ----------------------------------------------------------------------------
def gate_of(request: Request) -> Gate:
    return request.app.state.auth_gate


def principal_of(request: Request) -> Principal | None:
    """Who made the request; None when auth is off (then the local user is trusted fully)."""
    return request.scope.get(PRINCIPAL)


def user_of(request: Request) -> str | None:
    """The user name to record a request under (None when auth is off)."""
    p = principal_of(request)
    return p.user if p else None


def history_scope(request: Request) -> str | None:
    """Whose history the request may read: its own user's, or everyone's (None) for an admin
    or when auth is off."""
    p = principal_of(request)
    return None if p is None or p.is_admin else p.user


def require_admin(request: Request) -> Principal | None:
    p = principal_of(request)
    if p is not None and not p.is_admin:
        raise Forbidden("Only an admin may see this.")
    return p


def install(app: FastAPI, settings: Settings) -> Gate:
    gate = Gate(settings)
    app.state.auth_gate = gate
    if gate.enabled:
        app.add_middleware(AuthMiddleware, gate=gate)
        log.info("auth is on: API keys and web sign-in are required")
    return gate
