"""Fault: `kill -9` of the real server while ZIP batches are in flight loses no consistency.

`localvision serve` runs as a real subprocess (EfficientNet-Lite0, offline, a temp SQLite file,
this test session's private caches). Several clients post ZIP batches of different sizes in a
loop; the server is killed with SIGKILL at a few moments, restarted on the same database, killed
again, and so on. Afterwards the database passes `PRAGMA integrity_check` and every batch in the
history is whole: exactly as many rows as the ZIP it came from had members, or no row at all.
"""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
from corpus import photo_variants, real_photo_bytes
from servers import free_port

# Seconds after the clients start at which the server is killed: early (batches being read and
# decoded), then later (batches being classified and written, some already answered).
KILL_AFTER_S = (0.7, 1.8, 3.5)
CLIENTS = 3
BATCH_SIZES = (12, 20, 28)


def start_server(db: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [
        sys.executable, "-m", "localvision", "serve", "--model", "efficientnet_lite0",
        "--offline", "--backend", "torch", "--db", f"sqlite:///{db}", "--port", str(port),
    ]  # fmt: skip
    env = {**os.environ, "LOCALVISION_RATE_LIMIT": "off", "LOCALVISION_AUTH": "off"}
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server not ready:\n{log.read_text()[-3000:]}")


def zip_batch(prefix: str, images: list[bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, data in enumerate(images):
            zf.writestr(f"{prefix}-{i:03d}.jpg", data)
    return buf.getvalue()


class Clients:
    """Client threads posting ZIP batches until the server goes away. `sizes` maps each batch's
    prefix (unique across the whole test) to its member count."""

    def __init__(self, url: str, round_no: int, images: list[bytes], sizes: dict[str, int]):
        self.url, self.round_no, self.images, self.sizes = url, round_no, images, sizes
        self.answered = 0
        self.cut_off = 0  # batches sent whose answer never came
        self.unexpected: list[str] = []  # answers other than 200
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(c,)) for c in range(CLIENTS)]

    def _run(self, client: int) -> None:
        size = BATCH_SIZES[client % len(BATCH_SIZES)]
        with httpx.Client(timeout=60) as http:
            for post in range(1000):
                prefix = f"r{self.round_no}c{client}p{post}"
                with self._lock:
                    self.sizes[prefix] = size
                body = zip_batch(prefix, self.images[:size])
                try:
                    r = http.post(
                        self.url + "/api/v1/classify/zip", files={"file": ("b.zip", body)}
                    )
                except httpx.HTTPError:
                    with self._lock:
                        self.cut_off += 1
                    return
                with self._lock:
                    if r.status_code == 200:
                        self.answered += 1
                    else:
                        self.unexpected.append(f"{r.status_code}: {r.text[:300]}")

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        for t in self.threads:
            t.join(timeout=90)


def integrity(db: Path) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def images() -> list[bytes]:
    return [data for _, data in photo_variants(max(BATCH_SIZES), seed=5)]


def test_kill_9_during_zip_batches_leaves_whole_batches_only(tmp_path, images):
    db, log = tmp_path / "history.db", tmp_path / "server.log"
    sizes: dict[str, int] = {}
    answered = cut_off = 0
    for round_no, delay in enumerate(KILL_AFTER_S):
        proc, url = start_server(db, log)
        try:
            with Clients(url, round_no, images, sizes) as clients:
                time.sleep(delay)
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
        assert clients.unexpected == []
        answered += clients.answered
        cut_off += clients.cut_off
        assert integrity(db) == [("ok",)], f"after the kill in round {round_no}"
    assert cut_off > 0, "no batch was in flight when the server was killed"

    # Restart on the same database: it opens, serves, and records as before.
    proc, url = start_server(db, log)
    try:
        r = httpx.post(
            url + "/api/v1/classify",
            files={"file": ("coffee.jpg", real_photo_bytes("coffee"))},
            timeout=60,
        )
        assert r.json()["results"][0]["predictions"][0]["label"] == "espresso"
        total = httpx.get(url + "/api/v1/history", params={"limit": 1}, timeout=30).json()["total"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)

    assert integrity(db) == [("ok",)]
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT batch_id, filename FROM recognitions").fetchall()
    assert total == len(rows)

    batches: dict[str, list[str]] = defaultdict(list)
    for batch_id, filename in rows:
        batches[batch_id].append(filename)
    assert sum(1 for names in batches.values() if names == ["coffee.jpg"]) == 1
    seen_prefixes = set()
    for batch_id, names in batches.items():
        if names == ["coffee.jpg"]:
            continue
        prefixes = {name.split("-")[0] for name in names}
        assert len(prefixes) == 1, f"batch {batch_id} mixes ZIPs: {sorted(prefixes)}"
        (prefix,) = prefixes
        assert prefix not in seen_prefixes, f"ZIP {prefix} was recorded twice"
        seen_prefixes.add(prefix)
        assert len(names) == sizes[prefix], f"ZIP {prefix}: {len(names)} of {sizes[prefix]} rows"
        assert sorted(names) == [f"{prefix}-{i:03d}.jpg" for i in range(sizes[prefix])]
    # every batch that was answered is in the history (an answer means it was written)
    assert len(seen_prefixes) >= answered
