"""The streams API: cameras the service watches (streams/cameras.py does the watching).

    POST   /api/v1/streams              {url, name?, model?, every_s?, min_confidence?, labels?,
                                         lang?} -> 201, the stream's state
    GET    /api/v1/streams              every stream's state
    GET    /api/v1/streams/{id}         one stream's state (fps, last frame, reconnects, label)
    GET    /api/v1/streams/{id}/events  Server-Sent Events: state, label, segment_start,
                                         segment_end, status, error, stopped
    DELETE /api/v1/streams/{id}         stop watching (the open segment is recorded); its state

Only rtsp://, rtsps://, http:// and https:// URLs (sources.check_stream_url): never file: or
FFmpeg's other protocols, which would let a client make the server read its own files. With
auth on, only admins manage or see streams (a camera URL can carry its password, or a pwd= in
its query; it is shown without them: urls.redact). Where PyAV is not installed (the default
container image), POST is refused at once with 501 video_not_installed, not accepted to fail
later in the reader thread.
"""

from __future__ import annotations

from typing import AsyncIterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, ConfigDict, Field

from ...errors import InvalidArgument
from ...models.labels import LANGUAGES
from ...streams.cameras import Camera, Cameras, Options, default_name
from ...streams.sources import check_stream_url, require_video
from .. import request as kit
from ..guards.gate import require_admin, user_of

router = APIRouter(
    prefix="/api/v1/streams", tags=["streams"], dependencies=[Depends(require_admin)]
)


class StreamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(..., max_length=2000, description="rtsp://, rtsps://, http:// or https://")
    name: str | None = Field(
        None, min_length=1, max_length=100, description="What the history calls it (default: "
        "host/path).",
    )  # fmt: skip
    model: str | None = Field(None, description="A served model (default: the first one).")
    every_s: float | None = Field(
        None, ge=0.1, le=3600, description="Classify a frame every this many seconds "
        "(default: 1 / the video_fps setting).",
    )  # fmt: skip
    min_confidence: float | None = Field(
        None, ge=0, le=1, description="Frames less sure than this do not vote for a label "
        "(default: the server's min_confidence).",
    )  # fmt: skip
    labels: list[str] = Field(
        default_factory=list, max_length=100, description="Only segments of these labels are "
        "recorded, sent as events and to the webhook (default: every label).",
    )  # fmt: skip
    lang: str | None = Field(None, description="Language of the labels: en or zh.")


def cameras(request: Request) -> Cameras:
    app = request.app
    found = getattr(app.state, "streams", None)
    if found is None:
        found = app.state.streams = Cameras(app.state.service)
    return found


def watched(request: Request, stream_id: str) -> Camera:
    """The stream a path names (404 not_found before any response starts)."""
    return cameras(request).get(stream_id)


def _label_indices(spec, names: list[str]) -> tuple[int, ...]:
    """The class indices of labels named in any language the model has (case ignored)."""
    index: dict[str, int] = {}
    for lang in LANGUAGES:
        for i, label in enumerate(spec.labels_in(lang)):
            index.setdefault(label.casefold(), i)
    unknown = [n for n in names if n.strip().casefold() not in index]
    if unknown:
        shown = ", ".join(repr(n) for n in unknown[:5])
        raise InvalidArgument(f"The model has no label {shown}.", hint="GET /api/v1/models")
    return tuple(dict.fromkeys(index[n.strip().casefold()] for n in names))


def _options(request: Request, body: StreamIn) -> Options:
    svc = request.app.state.service
    s = svc.settings
    require_video()  # 501 video_not_installed where PyAV is left out (the default image)
    url = check_stream_url(body.url)
    clf = svc.state(body.model).require()  # unknown_model, model_not_ready
    lang = kit.check_language(body.lang or s.lang)
    return Options(
        url=url,
        name=(body.name or default_name(url)).strip(),
        model=clf.name,
        every_s=body.every_s or round(1.0 / s.video_fps, 3),
        min_confidence=s.min_confidence if body.min_confidence is None else body.min_confidence,
        labels=_label_indices(clf.spec, body.labels),
        lang=lang,
        user=user_of(request),
    )


@router.post("", status_code=201)
async def start_stream(request: Request, body: StreamIn):
    """Start watching a camera; 201 with its state (status "connecting" until frames come)."""
    camera = cameras(request).start(_options(request, body))
    return JSONResponse(camera.describe(), status_code=201,
                        headers={"Location": f"/api/v1/streams/{camera.id}"})  # fmt: skip


@router.get("")
async def list_streams(request: Request):
    """Every stream the service watches."""
    return {"streams": [w.describe() for w in cameras(request).watching.values()]}


@router.get("/{stream_id}")
async def get_stream(request: Request, stream_id: str):
    """A stream's state: status, fps, last frame time, reconnects, the current label."""
    return cameras(request).get(stream_id).describe()


@router.get("/{stream_id}/events", response_class=EventSourceResponse)
async def stream_events(camera: Camera = Depends(watched)) -> AsyncIterator[ServerSentEvent]:
    """Server-Sent Events: `state` first, then `label` for each classified frame,
    `segment_start` / `segment_end`, `status` (live, reconnecting...), `error` (a frame that
    failed), and `stopped` when the stream is deleted (then the response ends)."""
    async for event, data in camera.listen():
        yield ServerSentEvent(event=event, data=data)


@router.delete("/{stream_id}")
async def stop_stream(request: Request, stream_id: str):
    """Stop watching; the open segment ends and is recorded. The stream's last state."""
    return await cameras(request).stop(stream_id)


async def close(app) -> None:
    """At shutdown: stop every stream (each one's open segment is recorded)."""
    found = getattr(app.state, "streams", None)
    if found is not None:
        await found.close()
