"""The classic-recipe baseline as the benchmark driver uses it.

``write_random_resnet18(path)`` makes the seeded random state dict the classic app
loads (ImageNet weights cannot be downloaded here); ``classic_server(weights)``
runs ``bench/classic_app.py`` under gunicorn with 2 sync workers on a free
loopback port, and is ready once every worker has answered a real prediction.
"""
from __future__ import annotations

import contextlib
import http.client
import os
import sys
import time
from pathlib import Path
from typing import Iterator, Mapping

from bench.images import small_jpeg
from bench.loadgen import multipart_body
from bench.servers import Server, ServerStartError, running_server

REPO_ROOT = Path(__file__).resolve().parent.parent


def write_random_resnet18(path: str | os.PathLike, seed: int = 0) -> Path:
    """Save ``torchvision.models.resnet18()``'s state dict after ``torch.manual_seed(seed)``."""
    import torch
    import torchvision

    torch.manual_seed(seed)
    torch.save(torchvision.models.resnet18().state_dict(), path)
    return Path(path)


def classic_command(workers: int = 2) -> list[str]:
    """The gunicorn command line (with a ``{port}`` placeholder), run from the repo root."""
    return [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", "127.0.0.1:{port}",
            "bench.classic_app:app"]


def post_image(host: str, port: int, path: str, payload: bytes,
               timeout_s: float = 60.0) -> tuple[int, bytes]:
    """One multipart ``file`` POST; returns (status, body)."""
    body, ctype = multipart_body(payload)
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": ctype})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_predicting(server: Server, path: str = "/predict", workers: int = 2,
                    timeout_s: float = 120.0) -> None:
    """Wait until ``workers`` consecutive predictions succeed.

    gunicorn listens before its workers have loaded the model, so a TCP connect
    alone says little; a few real requests also warm each worker's first call.
    """
    deadline, streak = time.monotonic() + timeout_s, 0
    payload = small_jpeg()
    while streak < 2 * workers:
        if server.proc.poll() is not None or time.monotonic() > deadline:
            raise ServerStartError(f"classic app not predicting\n{server.log_tail()}")
        try:
            status, _ = post_image(server.host, server.port, path, payload)
            streak = streak + 1 if status == 200 else 0
        except OSError:
            streak = 0
            time.sleep(0.2)


@contextlib.contextmanager
def classic_server(weights: str | os.PathLike, workers: int = 2,
                   log_path: str | os.PathLike | None = None,
                   env: Mapping[str, str] | None = None) -> Iterator[Server]:
    """The classic app under gunicorn, ready and warmed; stopped (process group) on exit.

    ``env`` adds variables for diagnostics (e.g. ``OMP_NUM_THREADS``); the baseline
    itself runs with none, as the tutorials do.
    """
    with running_server(classic_command(workers), ready="tcp", cwd=REPO_ROOT,
                        env={**(env or {}), "CLASSIC_WEIGHTS": str(weights)},
                        log_path=log_path) as srv:
        wait_predicting(srv, workers=workers)
        yield srv
