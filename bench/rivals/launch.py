"""Start a rival server, wait until it predicts, count every process it starts, clean up.

``rival_server(cmd, ...)`` is ``bench.servers.running_server`` plus what the rivals need:
the lifetime RSS sampler from spawn (``bench.loadgen.ProcessTreeRSS``, the same walk of the
process tree the bench does for gunicorn), a readiness check that is a real prediction (a
health route can answer before the model is loaded), a per-process breakdown of the tree at
ready (so the report can say what its RSS counts), and, on exit, SIGKILL for any process of
the tree that outlived its process group (Ray's daemons, TorchServe's Java frontend).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import psutil

from bench.images import small_jpeg
from bench.loadgen import ProcessTreeRSS
from bench.servers import Server, ServerStartError, running_server

READY_TIMEOUT_S = 180.0  # Ray and TorchServe (JVM + workers) take tens of seconds on 2 cores


def post_raw(host: str, port: int, path: str, payload: bytes, method: str = "POST",
             timeout_s: float = 60.0) -> tuple[int, bytes]:
    """One raw-body request (what ``curl -T photo.jpg`` sends, with a Content-Type)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request(method, path, body=payload, headers={"Content-Type": "image/jpeg"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_predicting(srv: Server, path: str, timeout_s: float = READY_TIMEOUT_S,
                    streak_needed: int = 4) -> None:
    """Until ``streak_needed`` predictions in a row answer 200 (this also warms the workers)."""
    deadline, streak, refused = time.monotonic() + timeout_s, 0, 0
    payload, last = small_jpeg(), ""
    while streak < streak_needed:
        if srv.proc.poll() is not None:
            raise ServerStartError(f"exited with code {srv.proc.returncode}\n{srv.log_tail()}")
        if time.monotonic() > deadline:
            raise ServerStartError(
                f"no prediction from {path} within {timeout_s:.0f} s (last: {last})\n"
                f"{srv.log_tail()}"
            )
        try:
            status, body = post_raw(srv.host, srv.port, path, payload)
            last = f"HTTP {status} {body[:200]!r}"
            streak = streak + 1 if status == 200 else 0
            refused = refused + 1 if 400 <= status < 500 else 0
            if refused >= 10:  # a loaded server refusing the request: it will not change
                raise ServerStartError(f"{path} refuses the request: {last}\n{srv.log_tail()}")
        except OSError as exc:
            last, streak = f"{type(exc).__name__}: {exc}", 0
        if streak == 0:
            time.sleep(0.5)


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root] + root.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def breakdown(pid: int) -> list[dict]:
    """Each process of the tree: pid, a short name, RSS MiB (what the RSS figures sum)."""
    rows = []
    for p in tree(pid):
        with contextlib.suppress(psutil.Error):
            cmd = p.cmdline()
            name = p.name()
            if name.startswith("python") and len(cmd) > 1:
                words = [os.path.basename(c) for c in cmd[1:] if not c.startswith("-")]
                name = " ".join(words)[:60] or name
            rows.append({"pid": p.pid, "name": name[:90], "rss_mb": p.memory_info().rss / 2**20})
    return rows


def kill_survivors(procs: list[psutil.Process]) -> None:
    for p in procs:
        with contextlib.suppress(psutil.Error):
            if p.is_running():
                p.send_signal(signal.SIGKILL)


@contextlib.contextmanager
def rival_server(cmd: Sequence[str], predict_path: str, log_path: Path, *,
                 env: Mapping[str, str] | None = None, cwd: str | os.PathLike | None = None,
                 port: int | None = None, settings: dict | None = None,
                 ) -> Iterator[tuple[Server, ProcessTreeRSS, dict]]:
    """Run ``cmd``; yields (server, lifetime RSS sampler, facts) once it predicts."""
    t0 = time.perf_counter()
    seen: dict[int, psutil.Process] = {}
    try:
        with running_server(cmd, ready="none", env=env, cwd=cwd, port=port,
                            log_path=log_path) as srv:
            life = ProcessTreeRSS(srv.pid, interval_s=0.1).start()
            try:
                wait_predicting(srv, predict_path)
                procs = breakdown(srv.pid)
                seen.update({p.pid: p for p in tree(srv.pid)})
                facts = {
                    "ready_s": time.perf_counter() - t0,
                    "rss_at_ready_mb": sum(p["rss_mb"] for p in procs),
                    "processes": procs,
                    "settings": settings or {},
                    "command": " ".join(srv.proc.args),
                }
                yield srv, life, facts
            finally:
                life.stop()
                seen.update({p.pid: p for p in tree(srv.pid)})
    finally:
        kill_survivors(list(seen.values()))


REPO = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def module_server(module: str, weights: Path, predict_path: str, log_path: Path, *,
                  settings: dict, env: Mapping[str, str] | None = None,
                  ) -> Iterator[tuple[Server, ProcessTreeRSS, dict]]:  # fmt: skip
    """``python -m <module> --weights W --port P`` from the repository, as ``rival_server``."""
    cmd = [sys.executable, "-m", module, "--weights", str(weights), "--port", "{port}"]
    with rival_server(cmd, predict_path, log_path, cwd=REPO, env=env, settings=settings) as running:
        yield running
