"""One renderer for errors over HTTP: `{"error": {"code", "message", "hint"?}}` with the error's
status (`render`), used by the routes' exception handlers and by every middleware that refuses a
request. No traceback ever reaches a client; unexpected exceptions are logged and answered 500."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import LocalVisionError, Unauthorized
from .observe.observer import note_error

log = logging.getLogger("localvision.server")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_response(
    status: int, code: str, message: str, *, headers: dict | None = None, **extra
) -> JSONResponse:
    note_error(code)  # the access log and the rejects metric name the request's error code
    body = {"error": {"code": code, "message": message, **extra}}
    if status in (429, 503):
        headers = {"Retry-After": "1", **(headers or {})}
    return JSONResponse(body, status_code=status, headers=headers)


def render(exc: LocalVisionError) -> JSONResponse:
    """A typed error as the API answers it, wherever it is raised (a route, a middleware, the
    gate): its status, code, message and hint, Retry-After when it says how long to wait (else
    1 s on 429/503), and WWW-Authenticate for a 401."""
    extra = {"hint": exc.hint} if exc.hint else {}
    wait = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(wait)} if wait else {}
    if wait:
        extra["retry_after"] = wait
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="localvision"'
    return error_response(exc.status, exc.code, exc.message, headers=headers or None, **extra)


async def refuse(response, scope, receive, send) -> None:
    """Send a middleware's refusal: over HTTP the response itself; to a WebSocket handshake
    the same response as its HTTP answer (the ASGI `websocket.http.response` extension, which
    uvicorn has), else a close with code 1008 and the error code as the reason."""
    extensions = scope.get("extensions") or {}
    if scope["type"] == "websocket" and "websocket.http.response" not in extensions:
        code = json.loads(response.body)["error"]["code"]
        await send({"type": "websocket.close", "code": 1008, "reason": code})
        return
    await response(scope, receive, send)


def install(app: FastAPI) -> None:
    @app.exception_handler(LocalVisionError)
    async def _typed(_request: Request, exc: LocalVisionError):
        return render(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError):
        if any(e.get("type") == "missing" and e.get("loc", ())[-1:] == ("file",) for e in exc.errors()):
            return error_response(
                422, "no_file", 'No file was sent: send images as multipart/form-data parts named "file".'
            )
        parts = []
        for e in exc.errors():
            where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query"))
            parts.append(f"{where}: {e.get('msg', 'invalid')}" if where else e.get("msg", ""))
        return error_response(422, "invalid_argument", "Invalid request: " + "; ".join(parts) + ".")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException):
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        return error_response(exc.status_code, code, message)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "Something went wrong on the server.")
