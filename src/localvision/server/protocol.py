"""uvicorn's h11 protocol, guarded: a deadline and a size for the request head, JSON for what h11
cannot parse, and a lingering close after an early refusal.

A request can misbehave before the app ever sees it: classic slowloris trickles its headers and
uvicorn has no deadline for them; uvicorn answers an oversize head with a bare 400. Use it
through `uvicorn_options(settings)`, which `localvision serve` and the tests share.
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.h11_impl import H11Protocol

from ..config import Settings
from ..errors import HeadersTooLarge, LocalVisionError, RequestError, RequestTimeout
from .body import KB, size_text


# --- uvicorn: the request head ------------------------------------------------------------------
def _raw_json_response(error: LocalVisionError) -> bytes:
    """An error response written straight to the socket, for refusals made before there is an
    HTTP request to answer (the head never completed)."""
    body = json.dumps({"error": error.to_dict()}).encode()
    reason = {400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large"}
    head = (
        f"HTTP/1.1 {error.status} {reason.get(error.status, 'Error')}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for the request head, and JSON for the requests
    h11 cannot parse (431 when the head is over h11_max_incomplete_event_size).

    The deadline runs from the moment the connection opens, and again from the end of each
    response, until a whole request line + headers has arrived. A silent new connection is
    closed; a half-sent head gets 408."""

    header_timeout: float = 10.0  # set per server by `protocol_class`

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_request():
            self._disarm_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self._in_request():
            self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        if self._in_request() and self.cycle.response_started:
            self.transport.close()  # broken mid-body with an answer under way: only hang up
            return
        limit = self.config.h11_max_incomplete_event_size or 16 * KB
        if len(self.conn.trailing_data[0]) > limit:
            error: RequestError = HeadersTooLarge(
                f"The request line and headers are larger than {size_text(limit)}."
            )
        else:
            error = RequestError("The request is not valid HTTP/1.1.")
        self.transport.write(_raw_json_response(error))
        self.transport.close()

    def _in_request(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_request() or self.transport.is_closing():
            return
        if self.conn.trailing_data[0]:  # part of a request came: say why we hang up
            error = RequestTimeout(
                f"The request headers did not arrive within {self.header_timeout:g} s."
            )
            self.transport.write(_raw_json_response(error))
        self.transport.close()


def protocol_class(settings: Settings) -> type[GuardedH11Protocol]:
    return type(
        "GuardedH11Protocol", (GuardedH11Protocol,), {"header_timeout": settings.header_timeout_s}
    )


def uvicorn_options(settings: Settings) -> dict:
    """The uvicorn.run / uvicorn.Config options that go with these settings (serve and tests)."""
    return {
        "http": protocol_class(settings),
        "timeout_keep_alive": settings.keep_alive_s,
        "h11_max_incomplete_event_size": int(settings.max_header_kb * KB),
    }
