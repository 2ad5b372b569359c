"""The browser's camera: the live page (/live, static/live.html) and its WebSocket, /api/v1/live.

The page sends each camera frame as one binary message (a JPEG; any image the road reads will
do) and the service answers each frame it classifies with one JSON text message:

    {"type": "ready", "model", "lang", "top_k"}                     once, on connecting
    {"type": "result", "frame": N, "predictions": [...], "uncertain", "model", "elapsed_ms",
     "dropped": D}                                                   a frame's labels
    {"type": "error", "frame": N | null, "error": {"code", "message"}}  a frame (or message)
                                                                     that could not be used

`frame` counts the socket's binary messages from 1; `dropped` how many it has skipped so far.
The latest frame wins: a frame that arrives while the model is busy waits in a slot of one,
and a newer one replaces it there (counted in `dropped`), so nothing queues behind a slow model
and the answer is always about what the camera sees now. The page itself keeps one frame in
flight (it sends the next once the last one is answered), so with it nothing is dropped here.

Frames walk the one road: `Service.recognize` (decode in the thread pool, the model's
micro-batcher), as the HTTP routes do, but are not written into the history (ten a second
would bury everything else there). A bad frame, a busy model or one not ready is an `error`
message and the socket stays open; only bad connection parameters (an unknown model or
language) end it, after their error message, with close code 1008.

The auth gate (gate.py) and the origin guard (origin.py) treat the WebSocket handshake like an
HTTP request: an API key or a session cookie when auth is on, and a browser's Origin must be
this server's own (a WebSocket is not covered by CORS: without that check any web site could
open one with the user's cookies).
"""

from __future__ import annotations

import asyncio
import logging
import time

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse

from ...errors import InvalidArgument, LocalVisionError
from ...road import Item
from ...streams.latest import Latest
from .. import request as kit
from ..request import Ask
from ..service.state import Service
from .ui import STATIC

log = logging.getLogger("localvision.server")

router = APIRouter()

# The live page shows three labels; a client may ask for more with ?top_k=.
LIVE_TOP_K = 3
POLICY_VIOLATION = 1008  # RFC 6455: the connection's parameters are refused
FRAME_ADVICE = "; send smaller frames"


@router.get("/live", include_in_schema=False)
async def live_page():
    return FileResponse(STATIC / "live.html")


def _ask(ws: WebSocket) -> tuple[Ask, str]:
    """What the socket asks back (?model=, ?lang=, ?top_k=, ?min_confidence=, ?group=), read by
    the request kit with the server's settings as the defaults; raises a typed error for a
    value that is not valid. The model need not be ready: each frame says so while it is not."""
    q = ws.query_params
    try:
        top_k = int(q["top_k"]) if q.get("top_k") else LIVE_TOP_K
        floor = float(q["min_confidence"]) if q.get("min_confidence") else None
    except ValueError:
        raise InvalidArgument("top_k must be a whole number and min_confidence a number.") from None
    if top_k < 1 or (floor is not None and not 0 <= floor <= 1):
        raise InvalidArgument("top_k must be at least 1 and min_confidence between 0 and 1.")
    group = q.get("group", "").lower() in ("1", "true", "yes") or None
    ask = kit.ask(ws, q.get("model") or None, top_k=top_k, lang=q.get("lang"),
                  min_confidence=floor, groups=group, ready=False)  # fmt: skip
    state = ask.state
    return ask, state.classifier.name if state.classifier else state.name


def _error(frame: int | None, exc: LocalVisionError) -> dict:
    return {"type": "error", "frame": frame, "error": exc.to_dict()}


@router.websocket("/api/v1/live")
async def live(ws: WebSocket):
    svc: Service = kit.service(ws)
    await ws.accept()
    try:
        ask, model = _ask(ws)
    except LocalVisionError as exc:
        await ws.send_json(_error(None, exc))
        await ws.close(POLICY_VIOLATION, exc.code)
        return
    answer = ask.answer
    ready = {"type": "ready", "model": model, "lang": answer.lang, "top_k": answer.top_k}
    await ws.send_json(ready)
    slot: Latest[tuple[int, bytes]] = Latest()
    worker = asyncio.create_task(_classify(ws, slot, ask, model))
    try:
        await _read(ws, svc, slot)
    finally:
        worker.cancel()
        try:
            await worker
        except (asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            pass  # the client went away mid-answer


async def _read(ws: WebSocket, svc: Service, slot: Latest) -> None:
    """Take frames off the socket as fast as they come, into the slot, until the client leaves."""
    limit = svc.settings.max_upload_bytes
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        data = message.get("bytes")
        if data is None:
            await ws.send_json(_error(None, InvalidArgument(
                "Send each camera frame as a binary message holding an image (JPEG, PNG, WebP)."
            )))  # fmt: skip
        elif (too_large := kit.too_large(len(data), limit, "This frame", FRAME_ADVICE)) is not None:
            slot.put_count += 1  # counted, so the frame numbers stay the client's
            await ws.send_json(_error(slot.put_count, too_large))
        else:
            slot.put((slot.put_count + 1, data))


async def _classify(ws: WebSocket, slot: Latest, ask: Ask, model: str):
    """The latest frame, through the road, answered; then the next latest."""
    while True:
        frame, data = await slot.take()
        started = time.perf_counter()
        try:
            (result,) = await ask.recognize([Item(f"live frame {frame}", data)], record=False)
        except LocalVisionError as exc:  # the model is busy, not ready, gone
            await ws.send_json(_error(frame, exc))
            continue
        except Exception:  # never a traceback to the page: log it, say so, go on
            log.exception("live frame %d failed", frame)
            oops = LocalVisionError("Something went wrong on the server.")
            await ws.send_json(_error(frame, oops))
            continue
        if result.error is not None:
            await ws.send_json(_error(frame, result.error))
            continue
        elapsed = round((time.perf_counter() - started) * 1000, 2)
        body = result.to_dict()
        del body["error"]
        await ws.send_json({"type": "result", "frame": frame, "model": model, **body,
                            "elapsed_ms": elapsed, "dropped": slot.dropped})  # fmt: skip
