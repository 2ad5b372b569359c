"""Each protocol's error shape, applied once for every refusal on its paths.

The service renders every error one way (server/errors.py: `{"error": {"code", "message",
"hint"?}}`), wherever it is raised: a route, the auth gate, the rate limiter, the body limits.
Clients of the other protocols expect their own shape, so this middleware (outside all the
others) rewrites an error answer on their paths, keeping its status and headers:

- KServe v2 (`/v2/...`): `{"error": "message", "code": "stable_code"}` (the protocol's
  `{"error": string}`; the code is an addition its clients ignore);
- TorchServe (`/ping`, `/predictions/...`, `/models...`): `{"code": status, "type": ..., "message"}`
  with TorchServe's exception names where it has one, else the stable code.
"""

from __future__ import annotations

import json

from starlette.datastructures import MutableHeaders

# TorchServe's names for the errors its clients meet most.
TORCHSERVE_TYPES = {
    400: "BadRequestException",
    404: "ModelNotFoundException",
    413: "RequestEntityTooLargeException",
    503: "ServiceUnavailableException",
    500: "InternalServerException",
}


def dialect(path: str) -> str | None:
    if path == "/v2" or path.startswith("/v2/"):
        return "kserve"
    if path == "/ping" or path.startswith("/predictions/") or path == "/models" or path.startswith("/models/"):
        return "torchserve"
    return None


def reshape(kind: str, status: int, body: dict) -> dict:
    error = body.get("error")
    if not isinstance(error, dict):  # already the protocol's (e.g. /v2/health/ready)
        return body
    code, message = error.get("code", "error"), error.get("message", "")
    if error.get("hint"):
        message = f"{message} ({error['hint']})"
    if kind == "kserve":
        return {"error": message, "code": code}
    kind_name = "ModelNotFoundException" if code == "unknown_model" else None
    return {"code": status, "type": kind_name or TORCHSERVE_TYPES.get(status, code), "message": message}


class DialectMiddleware:
    """Pure ASGI: only error answers with a JSON body on a dialect's paths are buffered."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        kind = dialect(scope["path"]) if scope["type"] == "http" else None
        if kind is None:
            return await self.app(scope, receive, send)
        start: dict | None = None
        chunks: list[bytes] = []

        async def send_reshaped(message):
            nonlocal start
            if message["type"] == "http.response.start":
                ctype = MutableHeaders(raw=message.get("headers", [])).get("content-type", "")
                if message["status"] >= 400 and ctype.startswith("application/json"):
                    start = message
                    return
                return await send(message)
            if start is None or message["type"] != "http.response.body":
                return await send(message)
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            try:
                body = json.dumps(reshape(kind, start["status"], json.loads(body))).encode()
            except (ValueError, AttributeError):
                pass  # not the service's error JSON: pass it on as it is
            headers = MutableHeaders(raw=start["headers"])
            headers["content-length"] = str(len(body))
            await send(start)
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, send_reshaped)


def install(app) -> None:
    app.add_middleware(DialectMiddleware)
