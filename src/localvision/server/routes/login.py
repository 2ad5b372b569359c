"""Web sign-in: the sign-in page, POST /login (CSRF double submit, throttled), POST /logout.

A session is a server-side row named by a random token held in a signed (itsdangerous),
HttpOnly, SameSite=Lax cookie; the gate (server/guards/gate.py) checks it on every request.
"""

from __future__ import annotations

import html
import logging
import secrets
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ...errors import (
    CsrfFailed,
    HistoryUnavailable,
    InvalidCredentials,
    LocalVisionError,
    NotFound,
    SignInBusy,
    TooManyAttempts,
)
from ..errors import render
from ..guards.gate import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    Gate,
    forget_session,
    gate_of,
    same_secret,
    wants_html,
)
from .ui import STATIC

log = logging.getLogger("localvision.server")

LOGIN_COOKIE = "localvision_login"  # the sign-in form's own CSRF token (double submit)
LOGIN_FORM_MAX_AGE_S = 2 * 3600
LOGIN_SALT = "localvision.login-form"  # so a form token can never pass for a session cookie
LOGIN_PAGE = STATIC / "login.html"
# Before sign-in the gate serves only this page and its stylesheets, so the page's scripts (its
# language and strings) go into the page itself, in place of their <script src> tags.
LOGIN_SCRIPTS = ("i18n.js", "page.js", "login.js")


# --- cookies ------------------------------------------------------------------------------------
def _cookie(response: Response, request: Request, name: str, value: str, max_age: int, **kw):
    response.set_cookie(
        name, value, max_age=max_age, path=kw.pop("path", "/"), samesite=kw.pop("samesite", "lax"),
        secure=request.url.scheme == "https", **kw,
    )  # fmt: skip


def _safe_next(target: str | None) -> str:
    """Only a path on this server (no open redirect to another site)."""
    target = (target or "/").strip()
    parts = urlsplit(target)
    if target[:1] != "/" or target[:2] == "//" or "\\" in target or parts.scheme or parts.netloc:
        return "/"
    return target


# --- the sign-in page ---------------------------------------------------------------------------
router = APIRouter(tags=["auth"])

_NO_STORE = {"Cache-Control": "no-store", "X-Frame-Options": "DENY"}


def _page_text() -> str:
    text = LOGIN_PAGE.read_text("utf-8")
    for name in LOGIN_SCRIPTS:
        script = (LOGIN_PAGE.parent / name).read_text("utf-8")
        tag = f'<script src="/static/{name}"></script>'
        text = text.replace(tag, f"<script>\n{script}</script>", 1)
    return text


async def _login_page(
    request: Request, gate: Gate, *, status: int = 200, message: str = "", code: str = "",
    username: str = "", next_url: str = "/", retry_after: int | None = None,
) -> HTMLResponse:  # fmt: skip
    form_token = (await gate.signer(request.app)).dumps(secrets.token_urlsafe(16), salt=LOGIN_SALT)
    text = _page_text()
    for key, value in {
        "csrf_token": form_token,
        "next": next_url,
        "username": username,
        "message": message,
        "message_code": code,  # so the page can say it in the reader's language
        "retry_after": str(retry_after or ""),
        "message_hidden": "" if message else "hidden",
    }.items():
        text = text.replace("{{" + key + "}}", html.escape(value, quote=True))
    headers = dict(_NO_STORE)
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    response = HTMLResponse(text, status_code=status, headers=headers)
    _cookie(response, request, LOGIN_COOKIE, form_token, LOGIN_FORM_MAX_AGE_S, path="/login",
            httponly=True, samesite="strict")  # fmt: skip
    return response


@router.get("/login", include_in_schema=False)
async def login_page(request: Request, next: str = "/"):
    gate = gate_of(request)
    target = _safe_next(next)
    if not gate.enabled:
        return RedirectResponse(target, status_code=303)
    signed = request.cookies.get(SESSION_COOKIE)
    try:
        if signed and await gate.session(request.app, signed):
            return RedirectResponse(target, status_code=303)
    except HistoryUnavailable as exc:  # the page says so (in the reader's language), 503
        return await _login_page(
            request, gate, status=exc.status, message=exc.message, code=exc.code,
            next_url=target, retry_after=exc.retry_after,
        )  # fmt: skip
    return await _login_page(request, gate, next_url=target)


async def _check(request: Request, gate: Gate, username: str, password: str):
    """(user, session token, CSRF token) for the right password, else (None, None, None). The
    Argon2 check waits for one of the server's password-check slots (server/guards/throttle.py)."""
    if not username:
        return None, None, None
    store = await gate.store(request.app)
    async with gate.password_checks.slot():
        user = await run_in_threadpool(store.authenticate, username, password)
    if user is None:
        return None, None, None
    session, csrf = await run_in_threadpool(
        store.create_session, user["username"], gate.session_lifetime
    )
    return user, session, csrf


@router.post("/login", include_in_schema=False)
async def login(request: Request):
    """The sign-in form: user name, password, its CSRF token. Browsers get the page again on a
    failure; other clients JSON (`invalid_credentials`, `too_many_attempts`, `csrf_failed`,
    `sign_in_busy`, `history_unavailable`).

    The attempt is reserved for the name and the address before the password is checked (a
    parallel burst is cut at the limit, the right password included once it is reached), and
    the check waits for one of `password_checks` slots, at most `password_check_wait_s`, else
    503 `sign_in_busy` with Retry-After (server/guards/throttle.py says why)."""
    gate = gate_of(request)
    if not gate.enabled:
        raise NotFound("Sign-in is off on this server (auth is not enabled).")
    form = await request.form(max_files=0, max_fields=8, max_part_size=8192)
    field = lambda name: form.get(name) if isinstance(form.get(name), str) else ""  # noqa: E731
    username, password = field("username").strip(), field("password")
    target = _safe_next(field("next"))
    page = wants_html(request.headers)

    async def refuse(exc: LocalVisionError, **kw):
        if page:
            return await _login_page(
                request, gate, status=exc.status, message=exc.message, code=exc.code,
                username=username, next_url=target, **kw,
            )  # fmt: skip
        return render(exc)

    token, cookie = field("csrf_token"), request.cookies.get(LOGIN_COOKIE)
    valid = same_secret(token, cookie) and (
        await gate.unsign(request.app, token, LOGIN_FORM_MAX_AGE_S, LOGIN_SALT) is not None
    )
    if not valid:
        return await refuse(CsrfFailed("The sign-in form has expired. Please try again."))

    name, address = username.lower()[:64], request.client.host if request.client else "?"
    try:
        attempt = gate.sign_ins.reserve(name, address)  # counted now, before the password check
    except TooManyAttempts as exc:
        return await refuse(exc, retry_after=exc.retry_after)
    with attempt:  # an unexpected exception settles it as a failure
        try:
            user, session, csrf = await _check(request, gate, username, password)
        except (HistoryUnavailable, SignInBusy) as exc:  # the password was not judged
            attempt.refund()
            return await refuse(exc, retry_after=exc.retry_after)
        if user is None:
            attempt.failed()
            log.warning("failed sign-in for %r from %s", username[:64], address)
            return await refuse(InvalidCredentials("Wrong user name or password."))
        attempt.succeeded()
    signed = (await gate.signer(request.app)).dumps(session)
    age = int(gate.session_lifetime.total_seconds())
    response = RedirectResponse(target, status_code=303, headers=_NO_STORE)
    _cookie(response, request, SESSION_COOKIE, signed, age, httponly=True)
    _cookie(response, request, CSRF_COOKIE, csrf, age)  # readable by the pages, on purpose
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    log.info("%s signed in", user["username"])
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request):
    """Ends the session (it is deleted on the server, not only forgotten by the browser). Needs
    the session's CSRF token (form field `csrf_token` or `X-CSRF-Token`), so no other site can
    sign a user out."""
    gate = gate_of(request)
    if not gate.enabled:
        raise NotFound("Sign-in is off on this server (auth is not enabled).")
    signed = request.cookies.get(SESSION_COOKIE)
    principal = await gate.session(request.app, signed) if signed else None
    if principal is not None:
        form = await request.form(max_files=0, max_fields=4, max_part_size=1024)
        given = request.headers.get(CSRF_HEADER) or form.get("csrf_token")
        if not same_secret(given if isinstance(given, str) else None, principal.csrf):
            return render(CsrfFailed("Sign-out needs the page's security token."))
        token = await gate.unsign(request.app, signed, gate.session_lifetime.total_seconds())
        await run_in_threadpool((await gate.store(request.app)).end_session, token)
    response = RedirectResponse("/login", status_code=303, headers=_NO_STORE)
    forget_session(response)
    return response
