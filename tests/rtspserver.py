"""A real RTSP server on loopback for the tests: GStreamer's gst-rtsp-server (Debian's
gir1.2-gst-rtsp-server-1.0, python3-gi and the gstreamer1.0-plugins-*), run by the system
Python (/usr/bin/python3, where python3-gi lives) as a subprocess.

It serves real photos (each for `seconds`, in turn, forever) as a live H.264 stream
(imagefreeze -> x264enc -> RTP), at rtsp://127.0.0.1:PORT/stream, for as long as it runs. The
tests kill it to make a drop and start it again on the same port to make a reconnect:

    with RtspServer([photo_png], port=free_port()) as server:
        url = server.url
        server.kill(); server.start()      # a drop, then the camera is back

Run as a script (by RtspServer): python3 rtspserver.py PORT FPS SECONDS DIR/frame-%d.png
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"
MOUNT = "/stream"


def available() -> str | None:
    """None when the server can run here, else what is missing (scripts/test.sh installs it)."""
    probe = (
        "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0');"
        "from gi.repository import Gst; Gst.init(None);"
        "assert all(Gst.ElementFactory.find(e) for e in "
        "('x264enc', 'rtph264pay', 'multifilesrc', 'pngdec', 'videorate', 'videoconvert'))"
    )
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} is missing"
    done = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, text=True)
    if done.returncode:
        return "GStreamer's RTSP server is missing: " + done.stderr.strip()[-300:]
    return None


class RtspServer:
    """The server subprocess: start(), kill() (a drop: no goodbye to the clients), url."""

    def __init__(
        self, images, *, port: int, fps: int = 10, seconds: float = 2.0, size=(320, 240)
    ):
        self.images = [str(Path(p)) for p in images]
        self.size = size
        self._dir: str | None = None
        self.port = port
        self.fps = fps
        self.seconds = seconds
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{MOUNT}"

    def _frames(self) -> str:
        """The photos as frame-N.png at an even size x264 takes (made once per server)."""
        if self._dir is None:
            from PIL import Image

            self._dir = tempfile.mkdtemp(prefix="rtsp-")
            for i, path in enumerate(self.images):
                with Image.open(path) as img:
                    img.convert("RGB").resize(self.size).save(f"{self._dir}/frame-{i}.png")
        return f"{self._dir}/frame-%d.png"

    def start(self, timeout: float = 20.0) -> "RtspServer":
        pattern = self._frames()
        args = [SYSTEM_PYTHON, __file__, str(self.port), str(self.fps), str(self.seconds), pattern]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        self.proc = subprocess.Popen(
            args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the RTSP server exited: {self.proc.stdout.read()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"the RTSP server did not listen on port {self.port} in {timeout} s")

    def kill(self) -> None:
        """End the server at once (SIGKILL): to the clients, the camera is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def close(self) -> None:
        self.kill()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


def _serve(port: int, fps: int, seconds: float, pattern: str) -> None:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    # The photos frame-0.png, frame-1.png, ... in turn, each for `seconds`, forever:
    # multifilesrc reads one file per 1/`seconds` of a second; videorate repeats each to `fps`.
    secs = Fraction(seconds).limit_denominator(1000)
    source = (
        f"multifilesrc location={pattern} index=0 loop=true "
        f"caps=image/png,framerate=(fraction){secs.denominator}/{secs.numerator} ! pngdec ! "
        f"videoconvert ! videorate ! video/x-raw,framerate={fps}/1"
    )
    launch = (
        f"( {source} ! videoconvert ! video/x-raw,format=I420 ! "
        f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} ! "
        "rtph264pay name=pay0 pt=96 config-interval=1 )"
    )
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(True)  # one encoder for every client, as a camera has
    server.get_mount_points().add_factory(MOUNT, factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{port}")
    print(f"serving rtsp://127.0.0.1:{port}{MOUNT}", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4])
