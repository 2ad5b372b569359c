"""Open a video SOURCE with PyAV (FFmpeg) and yield its frames, sampled, with typed errors.

A SOURCE is a video file, an `rtsp://`, `rtsps://`, `http://` or `https://` stream, or a local
camera `webcam:N` (V4L2, /dev/videoN). `VideoSource.frames()` yields every decoded `Frame`
(index, time in seconds, `sampled`, the image as RGB PIL or numpy on demand); the sampler marks
every Nth frame (`every`) or F per second of video (`fps`) as sampled, so a caller that draws
on the video (annotate.py) sees every frame and classifies only the sampled ones.

Live sources (a stream without a known duration, a camera) are watched: no frame for
`timeout_s` seconds (PyAV's read timeout, FFmpeg's interrupt callback) or the stream ending is
a drop, and the source reconnects with exponential backoff, counting `reconnects`; after
`max_reconnects` failed tries in a row it raises StreamLost. Their times are seconds since the
source was opened (a camera's own timestamps restart at each reconnect); a file's are its
presentation times.

`check_stream_url` is the rule the service applies to URLs it is sent: only rtsp, rtsps, http
and https, with a host; never `file:` or FFmpeg's other protocols (concat:, subfile:, pipe:,
data:, ...), which would let a client read the server's files.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Literal
from urllib.parse import urlsplit

import numpy as np
from PIL import Image

from ..errors import (
    BadStreamUrl,
    CameraNotFound,
    FileNotFound,
    InvalidArgument,
    NotAVideo,
    StreamLost,
    StreamUnavailable,
    UnsupportedCodec,
    VideoNotInstalled,
)
from ..urls import redact, scrub

STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https")
WEBCAM = re.compile(r"webcam:(\d{1,3})\Z")
# "scheme://..." or "scheme:..." as FFmpeg reads it (at least two letters, so C:\ stays a path).
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+):")

Kind = Literal["file", "url", "webcam"]


@dataclass(frozen=True)
class Target:
    """What a SOURCE names: a file path, a stream URL or a camera device."""

    kind: Kind
    location: str  # the path, the URL, or /dev/videoN


def check_stream_url(url: str) -> str:
    """The URL, if the service may open it: rtsp, rtsps, http or https with a host; else
    BadStreamUrl. (A URL's user:password stays in it: FFmpeg sends it to the camera.)"""
    url = url.strip()
    if not url or any(c.isspace() or ord(c) < 32 for c in url):
        raise BadStreamUrl("The stream URL is empty or contains spaces or control characters.")
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket: rtsp://[::1/x
        raise BadStreamUrl("The stream URL's host is not a valid name or address.") from None
    scheme = parts.scheme.lower()
    if scheme not in STREAM_SCHEMES:
        shown = f"'{scheme}:'" if scheme else "no scheme"
        raise BadStreamUrl(
            f"The stream URL has {shown}; only rtsp://, rtsps://, http:// and https:// are "
            "allowed.",
            hint="give the camera's URL, e.g. rtsp://192.168.1.20:554/stream1",
        )
    try:
        parts.port  # raises ValueError for a port that is not a number from 0 to 65535
    except ValueError:
        raise BadStreamUrl("The stream URL's port is not a number from 0 to 65535.") from None
    if not url.lower().startswith(scheme + "://") or not parts.hostname:
        raise BadStreamUrl(f"The stream URL has no host (expected {scheme}://HOST/...).")
    return url


def parse_source(source: str) -> Target:
    """A SOURCE as the CLI takes it: `webcam:N`, a URL (checked by check_stream_url) or a file
    path. Any other `scheme:` FFmpeg would read (file:, concat:, pipe:, ...) is refused: a file
    is named by its path."""
    source = str(source)
    if m := WEBCAM.match(source.strip()):
        return Target("webcam", f"/dev/video{int(m.group(1))}")
    if source.lower().startswith("webcam:"):
        raise CameraNotFound(f"{source!r}: a camera is named webcam:N, e.g. webcam:0.")
    if (m := _SCHEME.match(source)) and not Path(source).exists():
        if m.group(1).lower() not in STREAM_SCHEMES:
            check_stream_url(source)  # raises, naming the scheme
        return Target("url", check_stream_url(source))
    return Target("file", source)


class Sampler:
    """Which frames are classified: every Nth (`every`), or F per second of video (`fps`), on
    a grid of 1/F seconds from the first frame (so 2 per second on 25 fps takes frames 0, 12.5
    -> 13, 25, ...: the first frame at or after each half second)."""

    def __init__(self, every: int | None = None, fps: float | None = None):
        if every is not None and every < 1:
            raise InvalidArgument(f"--every must be 1 or more, not {every}.")
        if every is None and (fps is None or not fps > 0 or not math.isfinite(fps)):
            raise InvalidArgument(f"--fps must be a number above 0, not {fps}.")
        self.every = every
        self.fps = None if every is not None else fps
        self._due: float | None = None

    @property
    def step_s(self) -> float | None:
        """Seconds between samples when known from the sampler alone (fps), else None."""
        return 1.0 / self.fps if self.fps else None

    def keep(self, index: int, t: float) -> bool:
        if self.every is not None:
            return index % self.every == 0
        if self._due is None:
            self._due = t
        if t + 1e-6 < self._due:  # 1 µs: times are rounded from integer timestamps
            return False
        period = 1.0 / self.fps
        self._due += period * max(1, math.floor((t - self._due) / period + 1e-6) + 1)
        return True


@dataclass
class Frame:
    """One decoded frame: its number in the source (from 0), its time in seconds, whether the
    sampler picked it, and the decoded picture (PyAV's frame; `image` / `array()` in RGB)."""

    index: int
    time: float
    sampled: bool
    video: object  # av.VideoFrame
    _image: Image.Image | None = field(default=None, repr=False)

    @property
    def image(self) -> Image.Image:
        """The frame as an RGB PIL image (converted once, by FFmpeg's swscale)."""
        if self._image is None:
            self._image = self.video.to_image()
        return self._image

    def array(self) -> np.ndarray:
        """The frame as an (H, W, 3) uint8 RGB array."""
        return np.asarray(self.image)

    @property
    def size(self) -> tuple[int, int]:
        return self.video.width, self.video.height


@dataclass
class StreamState:
    """What a source is doing, for a status page: connecting | reading (a file) | live |
    reconnecting | ended | failed; when the last frame came (time.time()), reconnects and drops
    so far, why it last dropped."""

    status: str = "connecting"
    last_frame_at: float | None = None
    reconnects: int = 0
    drops: int = 0
    last_error: str | None = None
    skipped: int = 0  # live: frames replaced by a newer one before the consumer took them


def _av():
    """PyAV, or VideoNotInstalled: the container image serves photos and leaves PyAV (~100 MB
    of FFmpeg) out unless built --with-video. The service asks before it accepts a camera."""
    try:
        import av  # PyAV: imported when a video is opened, not when the package is
    except ImportError:
        raise VideoNotInstalled(
            "Video needs PyAV (FFmpeg), which is not installed here.",
            hint="pip install av; the container image has it when built with "
            "scripts/build-image.sh --with-video",
        ) from None
    return av


def require_video() -> None:
    """VideoNotInstalled unless videos and streams can be opened here (PyAV imports)."""
    _av()


class VideoSource:
    """A video file, stream or camera, opened with PyAV; `frames()` yields its Frames.

    `patient`: a live source that cannot be opened at first is retried like a drop (the
    service, watching a camera that may be off); otherwise the first open's failure is raised
    (the CLI: a wrong URL is said at once).
    """

    def __init__(
        self,
        source: str,
        *,
        every: int | None = None,
        fps: float | None = None,
        timeout_s: float = 10.0,
        max_reconnects: int = 10,
        backoff_s: float = 0.5,
        backoff_max_s: float = 10.0,
        rtsp_transport: str = "tcp",
        patient: bool = False,
        target: Target | None = None,
    ):
        self.source = str(source)
        self.target = target or parse_source(self.source)
        # The source as shown in messages, logs and thread names: never a URL's password.
        self.shown = redact(self.source) if self.target.kind == "url" else self.source
        self.sampler = Sampler(every, fps)
        self.timeout_s = timeout_s
        self.max_reconnects = max_reconnects
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.rtsp_transport = rtsp_transport
        self.patient = patient
        self.state = StreamState()
        self.container = None
        self.stream = None
        self.live = self.target.kind == "webcam"
        self.rate: float | None = None  # the source's nominal frames per second
        self.duration: float | None = None  # a file's length in seconds, when known
        self.width = self.height = None
        self._stop = threading.Event()
        self._index = 0
        self._t0: float | None = None  # live: time.monotonic() of the first frame
        self._reader: threading.Thread | None = None  # live: the thread reading frames

    @classmethod
    def from_settings(cls, source: str, settings, **given) -> "VideoSource":
        """A source with the settings' sampling, watchdog and reconnect options (given wins)."""
        options = dict(
            every=settings.video_every,
            fps=settings.video_fps,
            timeout_s=settings.stream_timeout_s,
            max_reconnects=settings.stream_reconnects,
            backoff_s=settings.stream_backoff_s,
            backoff_max_s=settings.stream_backoff_max_s,
            rtsp_transport=settings.rtsp_transport,
        )
        options.update(given)
        return cls(source, **options)

    # --- opening ---
    def open(self) -> "VideoSource":
        """Open the source now (a typed error if it cannot be); frames() opens it otherwise."""
        if self.container is None:
            self._open()
        return self

    def _open(self) -> None:
        av = _av()
        kind, where = self.target.kind, self.target.location
        options: dict[str, str] = {}
        fmt = None
        if kind == "file":
            path = Path(where)
            if path.is_dir():
                raise NotAVideo(
                    f"{where} is a folder, not a video file.",
                    hint="name a video file in it; for a folder of photos: localvision classify",
                )
            if not path.is_file():
                raise FileNotFound(f"No such video file: {where}")
        elif kind == "webcam":
            fmt = "v4l2"
            if not Path(where).exists():
                raise CameraNotFound(f"There is no camera {self.source} ({where} does not exist).")
        else:
            micros = str(int(self.timeout_s * 1e6))
            if where.lower().startswith(("rtsp:", "rtsps:")):
                options = {"rtsp_transport": self.rtsp_transport, "timeout": micros}
            else:
                options = {"timeout": micros}
        try:
            container = av.open(
                where, format=fmt, options=options, timeout=(self.timeout_s, self.timeout_s)
            )
        except av.error.InvalidDataError:
            raise self._unreadable("it is not a video FFmpeg can read") from None
        except av.FFmpegError as exc:
            raise self._open_failed(exc) from None
        except OSError as exc:
            raise self._open_failed(exc) from None
        try:
            self._attach(container)
        except Exception:
            container.close()
            raise

    def _attach(self, container) -> None:
        av = _av()
        videos = container.streams.video
        if not videos:
            raise self._unreadable("it has no video track")
        stream = videos[0]
        codec = stream.codec_context
        name = getattr(codec, "name", None) if codec is not None else None
        try:
            av.codec.Codec(name, "r")
        except Exception:
            raise UnsupportedCodec(
                f"{self._what()}: its video is in a codec this FFmpeg cannot decode "
                f"({name or 'unknown'})."
            ) from None
        stream.thread_type = "AUTO"  # frame and slice threads: decoding uses every core
        self.container, self.stream = container, stream
        self.width, self.height = codec.width, codec.height
        rate = stream.average_rate or stream.guessed_rate
        self.rate = float(rate) if rate else None
        if container.duration is not None and container.duration > 0:
            self.duration = container.duration / 1e6  # AV_TIME_BASE: microseconds
        # A stream of unknown length is live (RTSP, HLS live, MJPEG over HTTP); an MP4 served
        # over HTTP has a duration and ends like a file.
        self.live = self.target.kind == "webcam" or (
            self.target.kind == "url" and self.duration is None
        )

    def _what(self) -> str:
        return {"file": "The file", "url": "The stream", "webcam": "The camera"}[
            self.target.kind
        ] + f" {self.shown}"

    def _unreadable(self, why: str):
        if self.target.kind == "file":
            return NotAVideo(f"{self._what()} cannot be read as a video: {why}.")
        why = scrub(why, self.source)
        return StreamUnavailable(f"{self._what()} cannot be read as a video: {why}.")

    def _open_failed(self, exc: Exception):
        reason = scrub(_reason(exc), self.source)
        if self.target.kind == "webcam":
            return CameraNotFound(f"{self._what()} cannot be opened: {reason}.")
        if self.target.kind == "file":
            if isinstance(exc, FileNotFoundError):
                return FileNotFound(f"No such video file: {self.source}")
            return NotAVideo(f"{self._what()} cannot be read as a video: {reason}.")
        return StreamUnavailable(
            f"{self._what()} could not be opened: {reason}.",
            hint="check the URL, the camera's user name and password, and that it is on",
        )

    # --- reading ---
    def stop(self) -> None:
        """Ask frames() to end (from another thread); a reconnect wait ends at once."""
        self._stop.set()

    def close(self) -> None:
        """Stop, and close the source. A live source's reader thread is waited for (up to one
        read timeout): it owns the container while it reads, and closing a container under a
        read crashes FFmpeg; if it is still reading, it closes the container itself."""
        self.stop()
        reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(self.timeout_s + 2)
            if reader.is_alive():
                return
        self._close_container()

    def _close_container(self) -> None:
        if self.container is not None:
            try:
                self.container.close()
            except Exception:  # closing a dropped connection may fail; it is gone either way
                pass
            self.container = self.stream = None

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    def frames(self, keep_all: bool = True) -> Iterator[Frame]:
        """The frames in order, with `sampled` set by the sampler. A file yields every frame
        (keep_all=False: only the sampled ones) and ends at its end.

        A live source is read in a thread of its own and the latest frame wins: a consumer
        slower than the camera gets the newest frame when it asks, never a backlog (the frames
        it missed are counted in state.skipped). It hands over the sampled frames only, or
        every frame with keep_all; it reconnects on a drop and ends on stop() or StreamLost."""
        if self.container is None:
            try:
                self._open()
            except (StreamUnavailable, CameraNotFound):
                if not self.patient or self.target.kind == "file":
                    raise
                self.live = True  # patient: a camera that may be off now, waited for like a drop
        if not self.live:
            yield from (f for f in self._read() if keep_all or f.sampled)
            return
        yield from self._latest(keep_all)

    def _latest(self, keep_all: bool) -> Iterator[Frame]:
        """The reader thread's newest frame each time one is asked for (a one-slot mailbox)."""
        cond = threading.Condition()
        box: dict = {"frame": None, "done": False, "error": None}

        def reader():
            try:
                for frame in self._read():
                    if keep_all or frame.sampled:
                        with cond:
                            if box["frame"] is not None:
                                self.state.skipped += 1
                            box["frame"] = frame
                            cond.notify()
            except BaseException as exc:  # handed to the consumer, raised there
                box["error"] = exc
            finally:
                with cond:
                    box["done"] = True
                    cond.notify()

        thread = threading.Thread(target=reader, name=f"video {self.shown}", daemon=True)
        self._reader = thread
        thread.start()
        try:
            while True:
                with cond:
                    while box["frame"] is None and not box["done"]:
                        cond.wait()
                    frame, box["frame"] = box["frame"], None
                if frame is None:
                    break
                yield frame
            if box["error"] is not None:
                raise box["error"]
        finally:
            self.stop()
            thread.join(self.timeout_s + 1)

    def _read(self) -> Iterator[Frame]:
        """Every frame, reconnecting a live source on a drop (see frames())."""
        if self.container is None:  # a patient first open that failed
            self._drop(None, "the stream could not be opened")
            if not self._reconnect():
                return
        while not self._stop.is_set():
            try:
                yield from self._decode()
            except GeneratorExit:
                raise
            except Exception as exc:  # a drop, a timeout (the watchdog), a read error
                if not self.live:
                    self._close_container()
                    raise self._unreadable(f"reading failed ({_reason(exc)})") from None
                self._drop(exc)
            else:
                if not self.live:
                    self.state.status = "ended"
                    return
                self._drop(None)  # a live stream that ended is a drop too
            if self._stop.is_set() or not self._reconnect():
                break
        self._close_container()
        if self.state.status != "failed":
            self.state.status = "ended"

    def _decode(self) -> Iterator[Frame]:
        av = _av()
        stream = self.stream
        start = stream.start_time * stream.time_base if stream.start_time is not None else None
        self.state.status = "live" if self.live else "reading"
        packets = self.container.demux(stream)
        while True:
            asked = time.monotonic()
            packet = next(packets, None)
            if packet is None or self._stop.is_set():
                return
            # The watchdog: PyAV's read timeout (FFmpeg's interrupt callback) cuts a read that
            # waited timeout_s and hands over what it had, a cut-off packet that may even
            # decode, rather than an error; so a read that took that long is the stall.
            if self.live and time.monotonic() - asked >= 0.9 * self.timeout_s:
                raise TimeoutError(f"no frame for {self.timeout_s:g} s")
            try:
                decoded = packet.decode()
            except av.error.InvalidDataError:
                continue  # one damaged packet: FFmpeg resynchronises at the next one
            for vf in decoded:
                now = time.monotonic()
                if self.live:
                    if self._t0 is None:
                        self._t0 = now
                    t = now - self._t0
                elif vf.pts is not None and vf.time_base is not None:
                    t = float(vf.pts * vf.time_base - (start or 0))
                else:
                    t = self._index / (self.rate or 25.0)
                self.state.last_frame_at = time.time()
                frame = Frame(self._index, max(0.0, t), self.sampler.keep(self._index, t), vf)
                self._index += 1
                yield frame
                if self._stop.is_set():
                    return

    def _drop(self, exc: Exception | None, why: str = "the stream ended") -> None:
        self.state.drops += 1
        self.state.status = "reconnecting"
        self.state.last_error = scrub(_reason(exc), self.source) if exc is not None else why
        self._close_container()

    def _reconnect(self) -> bool:
        """Open the source again, waiting backoff_s, 2x, 4x ... up to backoff_max_s between
        tries; False when stopped, StreamLost after max_reconnects failed tries in a row."""
        wait = self.backoff_s
        tries = 0
        while not self._stop.is_set():
            if tries >= self.max_reconnects:
                self.state.status = "failed"
                raise StreamLost(
                    f"{self._what()} dropped ({self.state.last_error}) and did not come back "
                    f"after {tries} reconnect attempts."
                )
            if self._stop.wait(wait):
                return False
            tries += 1
            try:
                self._open()
            except (StreamUnavailable, CameraNotFound, NotAVideo, UnsupportedCodec) as exc:
                self.state.last_error = exc.message
                wait = min(wait * 2, self.backoff_max_s)
                continue
            self.state.reconnects += 1
            return True
        return False


def _reason(exc: BaseException) -> str:
    """FFmpeg's own words for a failure, without PyAV's errno and file name decorations."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text).rstrip(".")


def open_source(source: str, settings, **given) -> VideoSource:
    """A VideoSource for SOURCE with the settings' options, opened (typed errors now)."""
    return VideoSource.from_settings(source, settings, **given).open()


