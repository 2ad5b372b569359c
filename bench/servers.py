"""Start a server command as a subprocess on a free loopback port, wait for it, clean up.

    with running_server(["python", "-m", "http.server", "{port}", "-b", "127.0.0.1"],
                        ready="tcp") as srv:
        ...  # srv.url("/predict"), srv.pid (for ProcessTreeRSS)

``{port}`` and ``{host}`` in the command (and in env values) are filled in. The
server runs in its own session, so stopping kills the whole process group
(gunicorn master and workers): SIGTERM, then SIGKILL after a grace period.
Output goes to a log file whose tail is put in the error if the server dies or
never becomes ready.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

HOST = "127.0.0.1"


class ServerStartError(RuntimeError):
    """The server exited, or did not become ready in time; the message has its log tail."""


@dataclass
class Server:
    proc: subprocess.Popen
    host: str
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def log_tail(self, n_chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n_chars:]
        except OSError:
            return ""


def free_port(host: str = HOST) -> int:
    """A TCP port free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _check_alive(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is not None:
        raise ServerStartError(f"server exited with code {proc.returncode}")


def wait_http(url: str, timeout_s: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    """Poll ``GET url`` until it answers 200; raises if ``proc`` dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        _check_alive(proc)
        try:
            with urllib.request.urlopen(url, timeout=2.0) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise ServerStartError(f"{url} did not answer 200 within {timeout_s:.0f} s")
        time.sleep(0.1)


def wait_tcp(host: str, port: int, timeout_s: float = 60.0,
             proc: subprocess.Popen | None = None) -> None:
    """Poll until a TCP connect to ``host:port`` succeeds (the socket is listening)."""
    deadline = time.monotonic() + timeout_s
    while True:
        _check_alive(proc)
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise ServerStartError(f"{host}:{port} not listening within {timeout_s:.0f} s")
        time.sleep(0.1)


def stop_process_group(proc: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGTERM the process group of ``proc`` (started with a new session), then SIGKILL."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            pass
    # Kill stragglers too (workers can outlive a master that exited first).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


@contextlib.contextmanager
def running_server(cmd: Sequence[str], *, ready: str = "http", ready_path: str = "/",
                   port: int | None = None, host: str = HOST,
                   env: Mapping[str, str] | None = None, cwd: str | os.PathLike | None = None,
                   timeout_s: float = 120.0, log_path: str | os.PathLike | None = None,
                   ) -> Iterator[Server]:
    """Run ``cmd`` (with ``{port}``/``{host}`` filled in) until the block ends.

    ``ready="http"`` waits for ``GET ready_path`` to answer 200, ``"tcp"`` for a TCP
    connect, ``"none"`` does not wait. ``env`` is added to ``os.environ``. The log
    goes to ``log_path`` or a temporary file (kept, its path is ``server.log_path``).
    """
    if ready not in ("http", "tcp", "none"):
        raise ValueError("ready must be 'http', 'tcp' or 'none'")
    port = port or free_port(host)
    fill = {"port": port, "host": host}
    argv = [str(a).format(**fill) for a in cmd]
    full_env = {**os.environ, **{k: str(v).format(**fill) for k, v in (env or {}).items()}}
    if log_path is None:
        fd, log_path = tempfile.mkstemp(prefix="bench-server-", suffix=".log")
        os.close(fd)
    log_path = Path(log_path)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=full_env,
                                cwd=cwd, start_new_session=True)
    server = Server(proc=proc, host=host, port=port, log_path=log_path)
    try:
        try:
            if ready == "http":
                wait_http(server.url(ready_path), timeout_s, proc)
            elif ready == "tcp":
                wait_tcp(host, port, timeout_s, proc)
        except ServerStartError as exc:
            raise ServerStartError(f"{exc}\n$ {' '.join(argv)}\n--- log tail ---\n"
                                   f"{server.log_tail()}") from None
        yield server
    finally:
        stop_process_group(proc)
