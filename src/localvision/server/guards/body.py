"""Request body limits, enforced as the bytes arrive: size, multipart shape, slow bodies.

`RequestLimits` is a pure ASGI middleware (it must see each body chunk as it streams in, which
BaseHTTPMiddleware cannot do): a declared Content-Length over the route's limit is refused before
a byte of the body is read; a chunked body or one with no Content-Length is refused the moment
the running count passes it. A multipart body is followed part by part alongside Starlette's own
parser, so too many parts, an oversize file or form field, or a malformed body are refused
before the offending bytes reach the parser, and so before anything past the limit is spooled to
disk. The body must arrive within `body_timeout_s`, or at least at `min_body_rate_kb` on average
after that (Kestrel's MinRequestBodyDataRate): an honest upload on any network passes, a
trickle does not. A refusal is the usual `{"error": {"code", "message"}}` with
`Connection: close`; the protocol (server/guards/protocol.py) then drains what the client still
sends, so it reads the answer instead of a reset.

A KServe v2 request (`/v2/...`) is JSON unless it carries `Inference-Header-Content-Length`
(the binary tensor data extension): a JSON body is held to `max_json_mb`, since JSON is parsed
whole; a binary one keeps `max_request_mb`, and the JSON header it declares is held to
`max_json_mb` from the head.

The request line and headers are bounded one layer down, in uvicorn's protocol
(server/guards/protocol.py), since a request can misbehave before the app ever sees it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...config import Settings
from ...errors import (
    FieldTooLarge,
    FileTooLarge,
    HeadersTooLarge,
    InvalidMultipart,
    LocalVisionError,
    PayloadTooLarge,
    RequestTimeout,
    TooManyParts,
)
from ..routes.kserve_request import HEADER_LENGTH, header_length_of
from .dialects import dialect

KB = 1024
MB = 1024 * 1024

# Room for the multipart framing around the files: boundaries and part headers (python-multipart
# caps each part's headers at 8 lines of ~4 KB), so that a file of exactly the limit still fits.
MULTIPART_OVERHEAD = 64 * KB

ZIP_PATHS = frozenset({"/api/v1/classify/zip"})  # one ZIP file: max_zip_mb
SINGLE_IMAGE_PATHS = frozenset({"/predict", "/api/v1/judge"})  # one image: max_upload_mb
SINGLE_IMAGE_PREFIXES = ("/predictions/",)  # TorchServe's: one image, raw or multipart
# JSON bodies that carry a page's results (thousands of rows): the upload limit, max_request_mb,
# not the 1 MB of the API's own JSON; the route bounds their structure before parsing them.
LARGE_JSON_PATHS = frozenset({"/api/v1/results.csv"})
# The API's own JSON bodies (a camera to watch, a Teach project, a rule) are a few KB; 1 MB holds
# a project of 1000 classes with the longest names. FastAPI parses them whole on the event loop,
# so a large one of tiny values (`[[],[],...]`) would stall every other request: refused as
# the bytes arrive instead.
API_JSON_BYTES = 1 * MB


@dataclass(frozen=True)
class BodyPolicy:
    """What one request may send. Chosen per route by `body_policy`."""

    max_body: int  # bytes in the whole body
    max_file: int  # bytes in one multipart file part
    max_field: int  # bytes in one multipart non-file field
    max_parts: int  # parts (files and fields) in one multipart body
    max_json_head: int | None = None  # bytes in a binary KServe request's declared JSON header
    hint: str | None = None  # what to do instead, when the body is too large


JSON_HINT = (
    "send the images as binary tensor data (Inference-Header-Content-Length), as tritonclient "
    "does by default"
)


def body_policy(
    settings: Settings, path: str, headers: Mapping[str, str] = Headers()
) -> BodyPolicy:
    """The limits for a request to `path` with `headers` (lower-case names, as Starlette's)."""
    max_file = settings.max_upload_bytes
    if dialect(path) == "kserve":
        return _kserve_policy(settings, binary=HEADER_LENGTH in headers)
    if path in ZIP_PATHS:
        max_file = int(settings.max_zip_mb * MB)
        max_body = max_file + MULTIPART_OVERHEAD
    elif path in SINGLE_IMAGE_PATHS or path.startswith(SINGLE_IMAGE_PREFIXES):
        max_body = max_file + MULTIPART_OVERHEAD
    elif _is_json(headers.get("content-type", "")) and path not in LARGE_JSON_PATHS:
        max_body = min(API_JSON_BYTES, int(settings.max_request_mb * MB))
    else:
        max_body = int(settings.max_request_mb * MB)
    return BodyPolicy(
        max_body=max_body,
        max_file=max_file,
        max_field=int(settings.max_field_kb * KB),
        max_parts=settings.max_parts,
    )


def _is_json(content_type: str) -> bool:
    kind = content_type.split(";")[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")


def _kserve_policy(settings: Settings, binary: bool) -> BodyPolicy:
    max_request = int(settings.max_request_mb * MB)
    max_json = min(int(settings.max_json_mb * MB), max_request)
    return BodyPolicy(
        max_body=max_request if binary else max_json,
        max_file=settings.max_upload_bytes,
        max_field=int(settings.max_field_kb * KB),
        max_parts=settings.max_parts,
        max_json_head=max_json if binary else None,
        hint=None if binary else JSON_HINT,
    )


def size_text(n: int) -> str:
    return f"{n / MB:.4g} MB" if n >= MB else f"{n / KB:.4g} KB"


# --- multipart, followed as it streams ----------------------------------------------------------
class MultipartCheck:
    """Follows a multipart body chunk by chunk (python-multipart, the parser Starlette uses, so
    both see the same parts) and raises a RequestError at the first limit it crosses. It only
    counts; it keeps no data."""

    def __init__(self, content_type: str, policy: BodyPolicy):
        _, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if not boundary:
            raise InvalidMultipart(
                "The multipart body has no boundary: send it with "
                "Content-Type: multipart/form-data; boundary=..."
            )
        self.policy = policy
        self.parts = 0
        self.size = 0
        self.is_file = False
        self.complete = False
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        callbacks = {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_end": self._end,
        }
        try:
            self._parser = MultipartParser(boundary, callbacks)
        except (FormParserError, ValueError) as exc:
            raise InvalidMultipart(f"The multipart boundary is not valid ({exc}).") from None

    def feed(self, chunk: bytes) -> None:
        try:
            self._parser.write(chunk)
        except FormParserError:
            raise InvalidMultipart("The multipart body is malformed.") from None

    def finish(self) -> None:
        if not self.complete:
            raise InvalidMultipart("The multipart body is cut off before its closing boundary.")

    # python-multipart callbacks
    def _part_begin(self) -> None:
        self.parts += 1
        if self.parts > self.policy.max_parts:
            raise TooManyParts(f"Too many parts: at most {self.policy.max_parts} in one request.")
        self.size, self.is_file, self._disposition = 0, False, b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise InvalidMultipart('A part has no Content-Disposition "name".')
        self.is_file = b"filename" in options

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        self.size += end - start
        if self.is_file and self.size > self.policy.max_file:
            limit = size_text(self.policy.max_file)
            raise FileTooLarge(f"A file in this request is larger than {limit}.")
        if not self.is_file and self.size > self.policy.max_field:
            raise FieldTooLarge(f"A form field is larger than {size_text(self.policy.max_field)}.")

    def _end(self) -> None:
        self.complete = True


# --- the ASGI middleware ------------------------------------------------------------------------
class RequestLimits:
    """Pure ASGI middleware; see the module docstring. `app.add_middleware(RequestLimits,
    settings=...)`, through `install`."""

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        guard = _BodyGuard(scope, receive, send, self.settings)
        try:
            guard.check_head()
        except LocalVisionError as exc:
            await guard.refuse(exc)
            return
        try:
            await self.app(scope, guard.receive, guard.send)
        except Exception:
            # The app may fail in any way once its body was cut off; our answer stands.
            if guard.error is None or guard.responded:
                raise
        if guard.error is not None and not guard.responded:
            await guard.refuse(guard.error)


def _head_size(scope: Scope) -> int:
    """Bytes of the request line and headers as sent (near enough: separators counted)."""
    target = len(scope.get("raw_path") or b"") + len(scope["query_string"])
    line = len(scope["method"]) + target + 12  # spaces, "?", " HTTP/1.1", CRLF
    return line + sum(len(k) + len(v) + 4 for k, v in scope["headers"])


class _BodyGuard:
    """One request's body: counts it, follows its multipart parts, keeps its deadline."""

    def __init__(self, scope: Scope, receive: Receive, send: Send, settings: Settings):
        self.scope, self._receive, self._send = scope, receive, send
        self.settings = settings
        self.headers = Headers(scope=scope)
        self.policy = body_policy(settings, scope["path"], self.headers)
        try:
            self.declared = int(self.headers.get("content-length", ""))
        except ValueError:
            self.declared = None
        chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        # A request has a body only with a Content-Length > 0 or chunked (RFC 9112 §6.3).
        self.pending = chunked or bool(self.declared)
        self.received = 0
        self.started = time.monotonic()
        self.multipart: MultipartCheck | None = None
        self.error: LocalVisionError | None = None
        self.responded = False

    def check_head(self) -> None:
        """Refusals that need no body: a declared size over the limit, a multipart without a
        usable boundary, a head over max_header_kb."""
        # h11 only bounds a head that is still incomplete; one that arrives whole in a single
        # read is parsed whatever its size, so the size is checked here too.
        head_limit = int(self.settings.max_header_kb * KB)
        if _head_size(self.scope) > head_limit:
            raise HeadersTooLarge(
                f"The request line and headers are larger than {size_text(head_limit)}."
            )
        if self.declared is not None and self.declared > self.policy.max_body:
            raise PayloadTooLarge(
                f"The request is larger than {size_text(self.policy.max_body)} "
                f"(Content-Length: {self.declared}).",
                hint=self.policy.hint,
            )
        json_head = header_length_of(self.headers.get(HEADER_LENGTH))
        if self.policy.max_json_head is not None and (json_head or 0) > self.policy.max_json_head:
            raise PayloadTooLarge(
                f"The request's JSON header is larger than {size_text(self.policy.max_json_head)} "
                f"(Inference-Header-Content-Length: {json_head}).",
                hint="send the images as binary data after it, not in its JSON",
            )
        content_type = self.headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() == "multipart/form-data":
            self.multipart = MultipartCheck(content_type, self.policy)

    def _time_left(self) -> float:
        allowed = self.settings.body_timeout_s
        rate = self.settings.min_body_rate_kb * KB
        if rate > 0:
            allowed = max(allowed, self.received / rate)
        return self.started + allowed - time.monotonic()

    def _fail(self, error: LocalVisionError) -> LocalVisionError:
        self.error = error
        return error

    async def receive(self) -> Message:
        if self.error is not None:
            raise self.error
        if not self.pending:  # body done: now only a disconnect can come, whenever it comes
            return await self._receive()
        try:
            async with asyncio.timeout(max(self._time_left(), 0)):
                message = await self._receive()
        except TimeoutError:
            raise self._fail(
                RequestTimeout(
                    f"The request body did not arrive within {self.settings.body_timeout_s:g} s."
                )
            ) from None
        if message["type"] == "http.disconnect":
            self.pending = False
            return message
        chunk = message.get("body", b"")
        self.received += len(chunk)
        try:
            if self.received > self.policy.max_body:
                raise PayloadTooLarge(
                    f"The request is larger than {size_text(self.policy.max_body)}.",
                    hint=self.policy.hint,
                )
            if self.multipart is not None:
                self.multipart.feed(chunk)
            if not message.get("more_body", False):
                self.pending = False
                if self.multipart is not None:
                    self.multipart.finish()
        except LocalVisionError as exc:
            raise self._fail(exc) from None
        return message

    async def send(self, message: Message) -> None:
        if self.error is not None and not self.responded:
            return  # the app's answer to a body we cut off; `refuse` answers instead
        if message["type"] == "http.response.start":
            self.responded = True
            if self.pending:  # answered before the whole body came: don't reuse the connection
                headers = [*message.get("headers", []), (b"connection", b"close")]
                message = {**message, "headers": headers}
        await self._send(message)

    async def refuse(self, error: LocalVisionError) -> None:
        from ..errors import render  # the one renderer

        self.error = error
        self.responded = True
        response = render(error)
        if self.pending:
            response.headers["connection"] = "close"
        await response(self.scope, self._receive, self._send)


# --- wiring ---------------------------------------------------------------------------------
def install(app, settings: Settings) -> None:
    """Add the middleware, and give Starlette's own form parser the same limits as a backstop."""
    app.add_middleware(RequestLimits, settings=settings)
    if hasattr(app.router, "form_limits"):  # FastAPI >= 0.13x: app-wide limits for File()/Form()
        app.router.form_limits = {
            "max_files": settings.max_parts,
            "max_fields": settings.max_parts,
            "max_part_size": int(settings.max_field_kb * KB),
        }
