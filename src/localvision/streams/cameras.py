"""Cameras the service watches (POST /api/v1/streams): one `Camera` per camera, held by the
service's `Cameras`.

A camera is a thread and two tasks:

    reader thread:   VideoSource (sources.py: PyAV, reconnect with backoff, the watchdog)
                     -> each sampled frame as RGB -> the camera's Latest slot (latest wins)
    classify task:   the slot's newest frame -> Service.recognize (the road, through the
                     model's micro-batcher, as every HTTP route) -> Smoother (smoothing.py)
                     -> live label, segment start / end events -> subscribers (SSE), the
                     history (a segment that ended), the webhook (a segment that started)
    monitor task:    the source's state (live / reconnecting) as `status` events; an outage
                     closes the open segment

So the work per camera is bounded: one sampled frame every `every_s` seconds at most, one in
flight, at most one waiting (a newer one replaces it), and each camera's decoding in its own
thread; the classify routes are never behind a queue of camera frames. A camera that goes away
is reconnected for as long as the stream exists (the backoff is capped at stream_backoff_max_s);
only DELETE ends it.

Times are wall-clock (the first frame's arrival plus the source's seconds since), so segments
read as moments: ISO 8601 in UTC on the wire. A segment that ended is one ordinary history row
(no new table, so no migration): filename "NAME START–END" (UTC), the segment's label with its
mean probability as the prediction, the mean per-frame latency, client "stream:ID", the user who
started the stream. With `labels` given, only segments of those labels are recorded, sent as
events and sent to the webhook (webhooks.py: the sender, its signature and the receiver's
check); the live label events carry every label.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import AsyncIterator, Callable, Sequence
from urllib.parse import urlsplit

from ..errors import LocalVisionError, NotFound, TooManyStreams
from ..history import Record
from ..results import Answer
from ..road import Item
from ..urls import redact, scrub
from ..webhooks import TIMEOUT_S as WEBHOOK_TIMEOUT_S
from ..webhooks import Webhook
from .latest import Latest
from .smoothing import Event, Segment, Smoother
from .sources import VideoSource

log = logging.getLogger("localvision.streams")

RATE_WINDOW_S = 5.0  # frames per second: over the last few seconds
MONITOR_S = 0.5  # how often the source's state is looked at
SUBSCRIBER_BACKLOG = 256  # events a slow SSE client may fall behind before the oldest go
WEBHOOKS_IN_FLIGHT = 8  # per stream; a receiver slower than the segments loses the surplus


def iso(t: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC with milliseconds ("2026-12-02T04:30:05.120Z")."""
    if t is None:
        return None
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds")[:-6] + "Z"


def default_name(url: str) -> str:
    """A stream's name when none is given: its host and path (never its credentials)."""
    parts = urlsplit(url)
    return ((parts.hostname or "camera") + parts.path).rstrip("/")[:100]


class Rate:
    """Events per second over the last RATE_WINDOW_S seconds (thread-safe enough: appends and
    reads of a deque are atomic)."""

    def __init__(self) -> None:
        self.times: deque[float] = deque(maxlen=1000)

    def tick(self) -> None:
        self.times.append(time.monotonic())

    def per_second(self) -> float:
        now = time.monotonic()
        recent = [t for t in list(self.times) if t >= now - RATE_WINDOW_S]
        if len(recent) < 2:
            return 0.0
        span = recent[-1] - recent[0]
        return round((len(recent) - 1) / span, 2) if span > 0 else 0.0


class Hub:
    """The camera's event subscribers (the SSE clients), each with a bounded backlog."""

    def __init__(self) -> None:
        self.queues: set[asyncio.Queue] = set()

    def publish(self, event: str, data: dict) -> None:
        for q in list(self.queues):
            if q.full():  # a slow client loses its oldest events, never the service's memory
                q.get_nowait()
            q.put_nowait((event, data))

    def close(self) -> None:
        for q in list(self.queues):
            if q.full():
                q.get_nowait()
            q.put_nowait(None)

    async def listen(self) -> AsyncIterator[tuple[str, dict]]:
        q: asyncio.Queue = asyncio.Queue(SUBSCRIBER_BACKLOG)
        self.queues.add(q)
        try:
            while (item := await q.get()) is not None:
                yield item
        finally:
            self.queues.discard(q)


@dataclass
class Options:
    """What a stream was asked to do (POST /api/v1/streams), checked by the route."""

    url: str
    name: str
    model: str
    every_s: float
    min_confidence: float
    labels: tuple[int, ...]  # the chosen labels' class indices (empty: every label)
    lang: str
    user: str | None = None


@dataclass
class Camera:
    id: str
    options: Options
    service: object  # server.state.Service
    source: VideoSource
    webhook: Webhook | None = None
    created_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.spec = spec = self.service.state(self.options.model).require().spec
        self.english = spec.labels
        self.answer = Answer.from_settings(
            self.service.settings, top_k=3, lang=self.options.lang,
            min_confidence=self.options.min_confidence, probabilities=True,
        )  # fmt: skip
        self.smoother = self._new_smoother()
        self.hub = Hub()
        self.latest: Latest[tuple[float, int, object]] = Latest()
        self.frames_in, self.classified = Rate(), Rate()
        self.samples = self.errors = 0
        self.last_error: str | None = None
        self.current: dict | None = None  # the last answer: smoothed label and raw top-1
        self.segments_recorded = 0
        self.webhooks = {"sent": 0, "failed": 0, "skipped": 0, "last_error": None}
        self.status = "starting"
        self._latency_sum = 0.0
        self._latency_n = 0
        self._t0: float | None = None  # wall-clock time of the source's time 0
        self._lock = asyncio.Lock()  # the smoother: the classify and monitor tasks share it
        self._tasks: list[asyncio.Task] = []
        self._hooks: set[asyncio.Task] = set()
        self._thread: threading.Thread | None = None
        self._reader_error: str | None = None
        self.stopped = False

    def _new_smoother(self) -> Smoother:
        return Smoother.for_model(
            self.spec, self.service.settings, self.options.lang,
            min_confidence=self.options.min_confidence,
        )  # fmt: skip

    # --- life ---
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._thread = threading.Thread(
            target=self._read, args=(loop,), name=f"stream {self.id}", daemon=True
        )
        self._thread.start()
        self._tasks = [
            asyncio.create_task(self._classify(), name=f"stream {self.id} classify"),
            asyncio.create_task(self._monitor(), name=f"stream {self.id} monitor"),
        ]

    async def stop(self) -> dict:
        """Stop watching: the source, the tasks; the open segment ends (and is recorded)."""
        if self.stopped:
            return self.describe()
        self.stopped = True
        self.source.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        async with self._lock:
            await self._events(self.smoother.finish())
        self.status = "stopped"
        if self._thread is not None:  # a read in progress ends within the watchdog's timeout
            await asyncio.to_thread(self._thread.join, self.source.timeout_s + 5)
        if self._hooks:
            await asyncio.wait(self._hooks, timeout=WEBHOOK_TIMEOUT_S)
        final = self.describe()
        self.hub.publish("stopped", final)
        self.hub.close()
        return final

    # --- the reader thread ---
    def _read(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            for frame in self.source.frames():
                self.frames_in.tick()
                if self._t0 is None:
                    self._t0 = time.time() - frame.time
                if self.stopped:
                    return
                if frame.sampled:
                    image = frame.image  # RGB, converted here: off the event loop
                    item = (self._t0 + frame.time, frame.index, image)
                    try:
                        loop.call_soon_threadsafe(self.latest.put, item)
                    except RuntimeError:  # the service has shut down under us
                        return
        except LocalVisionError as exc:  # e.g. StreamLost, with a finite stream_reconnects
            self._reader_error = exc.message
        except Exception as exc:  # never a dead thread without a word
            log.exception("stream %s: reading failed", self.id)
            self._reader_error = f"reading failed ({type(exc).__name__}: {exc})"

    # --- the classify task ---
    async def _classify(self) -> None:
        svc, o = self.service, self.options
        while True:
            t, index, image = await self.latest.take()
            started = time.perf_counter()
            try:
                (result,) = await svc.recognize(
                    [Item(f"{o.name} frame {index}", image)], self.answer, f"stream:{self.id}",
                    o.user, o.model, record=False,
                )  # fmt: skip
            except LocalVisionError as exc:  # the model busy, not ready, unloaded
                self._failed(t, exc)
                continue
            except Exception as exc:
                log.exception("stream %s: a frame failed", self.id)
                self._failed(t, LocalVisionError(f"{type(exc).__name__}: {exc}"))
                continue
            if result.error is not None:
                self._failed(t, result.error)
                continue
            self._latency_sum += (time.perf_counter() - started) * 1000
            self._latency_n += 1
            self.samples += 1
            self.classified.tick()
            async with self._lock:
                events = self.smoother.take(t, result)
                top = result.predictions[0]
                smoothed = self.smoother.current
                self.current = {
                    "time": iso(t),
                    "label": smoothed.label if smoothed else None,
                    "label_en": self.english[smoothed.index] if smoothed else None,
                    "top": top.to_dict(),
                    "uncertain": result.uncertain,
                }
                self.hub.publish("label", self.current)
                await self._events(events)

    def _failed(self, t: float, exc: LocalVisionError) -> None:
        self.errors += 1
        self.last_error = scrub(exc.message, self.options.url)
        self.hub.publish("error", {"time": iso(t), "error": exc.to_dict()})

    # --- the monitor task ---
    async def _monitor(self) -> None:
        shown = None
        while True:
            state = self.source.state
            # connecting | live | reconnecting | ended (a stream of known length, such as an
            # MP4 over http, that has been read to its end) | failed
            status = "live" if state.status == "reading" else state.status
            if self._reader_error is not None:
                status = "failed"
            self.status = status
            key = (status, state.reconnects)
            if key != shown:
                if shown is not None and status != "live":  # an outage ends what was seen
                    async with self._lock:
                        await self._events(self.smoother.finish())
                        self.smoother = self._new_smoother()
                shown = key
                self.hub.publish("status", self._status())
            await asyncio.sleep(MONITOR_S)

    # --- segments ---
    def _wanted(self, segment: Segment) -> bool:
        return not self.options.labels or segment.index in self.options.labels

    def segment_dict(self, segment: Segment) -> dict:
        out = segment.to_dict()
        out["label_en"] = self.english[segment.index]
        out["start"], out["end"] = iso(segment.start), iso(segment.end)
        out["duration_s"] = None if segment.end is None else round(segment.end - segment.start, 3)
        return out

    async def _events(self, events: Sequence[Event]) -> None:
        for event in events:
            if not self._wanted(event.segment):
                continue
            data = {"stream": self.id, **self.segment_dict(event.segment)}
            self.hub.publish(f"segment_{event.kind}", data)
            if event.kind == "end":
                await self._record(event.segment)
            elif self.webhook is not None:
                self._hook(data)

    async def _record(self, segment: Segment) -> None:
        o = self.options
        start, end = iso(segment.start), iso(segment.end)
        record = Record(
            filename=f"{o.name} {start}\u2013{end}",
            sha256=None,
            model=o.model,
            predictions=[{"label": segment.label, "label_en": self.english[segment.index],
                          "index": segment.index, "probability": segment.confidence}],
            latency_ms=round(self._latency_sum / max(1, self._latency_n), 2),
            client=f"stream:{self.id}",
            user=o.user,
        )  # fmt: skip
        try:
            await self.service.recorder.record([record])
            self.segments_recorded += 1
        except Exception as exc:  # the history is down: the watching goes on
            log.error("stream %s: a segment could not be recorded: %s", self.id, exc)
            self.last_error = f"a segment could not be recorded ({exc})"

    def _hook(self, segment: dict) -> None:
        if len(self._hooks) >= WEBHOOKS_IN_FLIGHT:
            self.webhooks["skipped"] += 1
            return
        payload = {"event": "segment_start", "stream": {"id": self.id, "name": self.options.name},
                   "segment": segment}  # fmt: skip
        task = asyncio.create_task(self._send(payload))
        self._hooks.add(task)
        task.add_done_callback(self._hooks.discard)

    async def _send(self, payload: dict) -> None:
        try:
            await self.webhook.send("segment_start", payload)
            self.webhooks["sent"] += 1
        except Exception as exc:  # a receiver that is down costs a count and a log line
            self.webhooks["failed"] += 1
            # httpx names the URL in a status error: a webhook URL's password stays out
            why = scrub(f"{type(exc).__name__}: {exc}", self.webhook.url)
            self.webhooks["last_error"] = why[:300]
            log.warning("stream %s: the webhook failed: %s", self.id, why)

    # --- what GET shows ---
    def _status(self) -> dict:
        s = self.source.state
        return {
            "status": self.status,
            "reconnects": s.reconnects,
            "drops": s.drops,
            "last_error": scrub(self._reader_error or s.last_error, self.options.url),
        }

    def describe(self) -> dict:
        o, s = self.options, self.source.state
        return {
            "id": self.id,
            "name": o.name,
            "url": redact(o.url),
            "model": o.model,
            "every_s": o.every_s,
            "min_confidence": o.min_confidence,
            "labels": [self.english[i] for i in o.labels],
            "lang": o.lang,
            "created_at": iso(self.created_at),
            "created_by": o.user,
            **self._status(),
            "fps": self.frames_in.per_second(),
            "classified_fps": self.classified.per_second(),
            "last_frame_at": iso(s.last_frame_at),
            "samples": self.samples,
            "dropped": self.latest.dropped,
            "errors": self.errors,
            "last_frame_error": self.last_error,
            "current": self.current,
            "segment": self.segment_dict(self.smoother.current) if self.smoother.current else None,
            "segments_recorded": self.segments_recorded,
            "webhook": dict(self.webhooks) if self.webhook is not None else None,
        }

    async def listen(self) -> AsyncIterator[tuple[str, dict]]:
        """The stream's events, starting with its state now."""
        yield "state", self.describe()
        if self.stopped:
            return
        async for item in self.hub.listen():
            yield item


class Cameras:
    """The cameras the service watches, at most `max_streams`."""

    def __init__(self, service, source: Callable[..., VideoSource] = VideoSource.from_settings):
        self.service = service
        self.settings = service.settings
        self.make_source = source
        self.watching: dict[str, Camera] = {}
        s = self.settings
        self.webhook = Webhook(s.stream_webhook_url, s.stream_webhook_secret) if (
            s.stream_webhook_url) else None  # fmt: skip

    def start(self, options: Options) -> Camera:
        limit = self.settings.max_streams
        if len(self.watching) >= limit:
            raise TooManyStreams(
                f"The service already watches {len(self.watching)} camera(s), its limit "
                f"(max_streams = {limit}).",
                hint="DELETE /api/v1/streams/{id}, or serve with LOCALVISION_MAX_STREAMS",
            )
        source = self.make_source(
            options.url, self.settings, every=None, fps=1.0 / options.every_s, patient=True,
            # The service never gives up on a camera: an outage of any length ends when the
            # camera is back (every stream_backoff_max_s a try); only DELETE stops it.
            max_reconnects=sys.maxsize,
        )  # fmt: skip
        camera = Camera(uuid.uuid4().hex[:12], options, self.service, source, self.webhook)
        self.watching[camera.id] = camera
        camera.start()
        log.info("watching %s as stream %s (%s)", redact(options.url), camera.id, options.name)
        return camera

    def get(self, stream_id: str) -> Camera:
        found = self.watching.get(stream_id)
        if found is None:
            raise NotFound(f"There is no stream {stream_id!r}.", hint="GET /api/v1/streams")
        return found

    async def stop(self, stream_id: str) -> dict:
        camera = self.get(stream_id)
        del self.watching[stream_id]
        return await camera.stop()

    async def close(self) -> None:
        for stream_id in list(self.watching):
            await self.stop(stream_id)
        if self.webhook is not None:
            await self.webhook.close()
