"""`localvision serve` for real, and what a newcomer meets before it: the quick start and
scripts/setup.sh.

The server runs as a real subprocess (efficientnet_lite0, offline, eager torch so it starts in
seconds, a temp SQLite file, this session's private caches). Its ready line must come only once
the service answers /readyz with 200, and its log lines are JSON when stderr is not a terminal
and readable text when it is (a real pseudo-terminal, not a flag).
"""

from __future__ import annotations

import json
import logging
import os
import pty
import queue
import re
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from servers import free_port

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text("utf-8")
READY = re.compile(r"ready: open (http://127\.0\.0\.1:\d+/) in your browser")


def serve_command(tmp_path: Path, port: int) -> list[str]:
    return [
        sys.executable, "-m", "localvision", "serve", "--model", "efficientnet_lite0",
        "--offline", "--backend", "torch", "--db", f"sqlite:///{tmp_path / 'history.db'}",
        "--port", str(port), "--rate-limit", "off",
    ]  # fmt: skip


def serve_env() -> dict:
    env = {**os.environ, "LOCALVISION_AUTH": "off"}
    env.pop("LOCALVISION_LOG_FORMAT", None)  # the default, auto, decides
    return env


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_ready_line_comes_once_readyz_answers_200_and_piped_lines_are_json(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        serve_command(tmp_path, port), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
        env=serve_env(), text=True,
    )  # fmt: skip
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True).start()
    records = []
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no ready line; stderr so far: {records}")
            records.append(json.loads(line))  # stderr is a pipe: every line is JSON
            if READY.search(records[-1]["message"]):
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
                break
        assert ready.status_code == 200, ready.text
    finally:
        stop(proc)
    for line in proc.stderr.read().splitlines() if proc.stderr else ():
        records.append(json.loads(line))
    messages = [r["message"] for r in records]
    said = [i for i, m in enumerate(messages) if READY.search(m)]
    assert len(said) == 1  # once
    listening = next(i for i, m in enumerate(messages) if m.startswith("Uvicorn running on"))
    loaded = next(i for i, m in enumerate(messages) if re.match(r"model \S+ ready", m))
    assert said[0] > listening and said[0] > loaded  # after both, whichever came last
    ready_record = records[said[0]]
    assert ready_record["logger"] == "localvision.serve"
    assert ready_record["url"] == f"http://127.0.0.1:{port}/"


def test_at_a_terminal_the_lines_are_readable_text(tmp_path):
    port = free_port()
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        serve_command(tmp_path, port), stderr=slave, stdout=subprocess.DEVNULL, env=serve_env()
    )
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + 180
        while not READY.search(seen.decode("utf-8", "replace")):
            assert time.monotonic() < deadline and proc.poll() is None, seen.decode()
            if select.select([master], [], [], 0.5)[0]:
                try:
                    seen += os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    finally:
        stop(proc)
        os.close(master)
    lines = [line for line in seen.decode("utf-8", "replace").splitlines() if line.strip()]
    assert lines and not any(line.lstrip().startswith("{") for line in lines), lines
    (ready,) = [line for line in lines if READY.search(line)]
    assert re.search(r"INFO\s+localvision\.serve: ready: open http://127\.0\.0\.1:\d+/", ready)


def test_log_format_auto_is_text_at_a_terminal_and_json_elsewhere(tmp_path):
    from localvision.cli.serving import resolve_log_format

    master, slave = pty.openpty()
    with open(slave, "w", closefd=True) as terminal, open(tmp_path / "log", "w") as file:
        assert resolve_log_format("auto", terminal) == "text"
        assert resolve_log_format("auto", file) == "json"
        for named in ("json", "text"):  # a format named is used as named
            assert resolve_log_format(named, terminal) == resolve_log_format(named, file) == named
    os.close(master)
    read_end, write_end = os.pipe()
    with open(write_end, "w") as pipe:
        assert resolve_log_format("auto", pipe) == "json"
    os.close(read_end)


@pytest.mark.parametrize("order", ["model_first", "server_first"])
def test_the_ready_line_waits_for_both_the_model_and_the_server(caplog, order):
    from localvision.cli.serving import Announcer

    announcer = Announcer("http://127.0.0.1:8000/")
    steps = [announcer.model_ready, announcer.listening]
    if order == "server_first":
        steps.reverse()
    with caplog.at_level(logging.INFO, logger="localvision.serve"):
        steps[0]()
        assert not caplog.records  # one of the two is not enough
        steps[1]()
        steps[0]()  # a second signal says nothing more
    assert [r.getMessage() for r in caplog.records] == [
        "ready: open http://127.0.0.1:8000/ in your browser"
    ]


def test_a_service_that_could_not_load_its_model_says_so_when_it_is_up(tmp_path):
    """Degraded mode (resnet18 named, offline, no weights): no "ready" line, but one that says
    the model did not load and why, once the server answers (/readyz: 503 with the reason)."""
    port = free_port()
    cmd = serve_command(tmp_path, port)
    cmd[cmd.index("efficientnet_lite0")] = "resnet18"
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            env=serve_env(), text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        for line in proc.stderr:
            record = json.loads(line)
            assert not READY.search(record["message"])
            if record["message"].startswith("degraded: the model did not load"):
                break
            assert time.monotonic() < deadline, "no degraded line"
        r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert r.status_code == 503 and "weights" in r.json()["reason"].lower()
        assert record["level"] == "WARNING" and record["url"] == f"http://127.0.0.1:{port}/"
    finally:
        stop(proc)


# --- the quick start -----------------------------------------------------------------------------
def _section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def test_quick_start_puts_localvision_on_the_path_before_any_command_uses_it():
    quick = _section("Quick start")
    assert "source .venv/bin/activate" in quick and ".venv/bin/localvision" in quick
    first_command = re.search(r"^localvision ", README, re.MULTILINE)
    assert first_command is not None
    assert README.index("source .venv/bin/activate") < first_command.start()


def test_quick_start_says_the_address_comes_when_the_service_is_ready():
    assert "ready: open http://127.0.0.1:8000/ in your browser" in _section("Quick start")


def test_setup_rerun_with_nothing_changed_is_quiet_and_installs_nothing():
    """After `bash scripts/setup.sh test` (scripts/test.sh runs it first), running it again, or
    without the test extras, prints nothing and leaves .venv as it was."""
    check = subprocess.run(["bash", "scripts/setup.sh", "--check", "test"], cwd=ROOT)
    if check.returncode != 0:
        pytest.skip("./.venv was not installed by scripts/setup.sh test since pyproject.toml "
                    "last changed (run it, or bash scripts/test.sh)")  # fmt: skip
    site = next((ROOT / ".venv" / "lib").glob("python*/site-packages"))
    before = sorted(p.name for p in site.iterdir()), site.stat().st_mtime_ns
    for args in (["test"], []):
        rerun = subprocess.run(
            ["bash", "scripts/setup.sh", *args], cwd=ROOT, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
        assert rerun.returncode == 0, rerun.stderr
        assert rerun.stdout == rerun.stderr == ""
    assert (sorted(p.name for p in site.iterdir()), site.stat().st_mtime_ns) == before
