"""uvicorn's h11 protocol, guarded: a deadline and a size for the request head, JSON for what h11
cannot parse, and a lingering close after an early refusal.

A request can misbehave before the app ever sees it: classic slowloris trickles its headers and
uvicorn has no deadline for them; uvicorn answers an oversize head with a bare 400. Use it
through `uvicorn_options(settings)`, which `localvision serve` and the tests share.

Lingering close (nginx's lingering_close): a refusal sent before the body was read (413 from the
Content-Length, say) ends the connection. Closing a socket with unread data makes the kernel send
RST, and a client that sends its whole body before reading (no `Expect: 100-continue`: Python's
http.client, `curl -H 'Expect:'`) then sees "connection reset" instead of the answer. So the
connection is half-closed after the answer (FIN), and what the client still sends is read and
thrown away, for at most LINGER_S seconds and LINGER_BYTES bytes, before it is closed.
"""

from __future__ import annotations

import asyncio
import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from ...config import Settings
from ...errors import HeadersTooLarge, LocalVisionError, RequestError, RequestTimeout
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


# A client that keeps sending after our answer gets this long, and this much, to finish: enough
# for any upload the limits allow to drain over loopback or a LAN; a stream without end is cut.
LINGER_S = 5.0
LINGER_BYTES = 256 * 1024 * 1024


class _LingeringTransport:
    """The connection's transport, with close() turned into a lingering close while the client
    is still sending a body nobody read."""

    def __init__(self, transport, protocol: "GuardedH11Protocol"):
        self._transport = transport
        self._protocol = protocol

    def __getattr__(self, name):
        return getattr(self._transport, name)

    def close(self) -> None:
        if self._protocol.lingering or self._transport.is_closing():
            self._transport.close()
        elif self._protocol.conn.their_state is h11.SEND_BODY:
            self._protocol.linger(self._transport)
        else:
            self._transport.close()


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for the request head, and JSON for the requests
    h11 cannot parse (431 when the head is over h11_max_incomplete_event_size).

    The deadline runs from the moment the connection opens, and again from the end of each
    response, until a whole request line + headers has arrived. A silent new connection is
    closed; a half-sent head gets 408."""

    header_timeout: float = 10.0  # set per server by `protocol_class`

    _head_timer: asyncio.TimerHandle | None = None
    lingering = False
    _linger_left = 0
    _linger_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(_LingeringTransport(transport, self))
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        if self.lingering:  # the rest of a refused body: read and dropped
            self._linger_left -= len(data)
            if self._linger_left < 0:
                self.transport._transport.close()
            return
        super().data_received(data)
        if self._in_request():
            self._disarm_head_timer()

    def linger(self, raw_transport) -> None:
        """Half-close after the answer, then drain for a bounded time and size."""
        self.lingering = True
        self._linger_left = LINGER_BYTES
        self._disarm_head_timer()
        if raw_transport.can_write_eof():
            raw_transport.write_eof()  # the answer, then FIN; reading goes on
        raw_transport.resume_reading()
        self._linger_timer = self.loop.call_later(LINGER_S, raw_transport.close)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.lingering:  # no keep-alive or head deadline for a connection being drained
            if self.timeout_keep_alive_task is not None:
                self.timeout_keep_alive_task.cancel()
                self.timeout_keep_alive_task = None
            return
        if not self.transport.is_closing() and not self._in_request():
            self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        if self._linger_timer is not None:
            self._linger_timer.cancel()
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
