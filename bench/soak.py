"""Soak: tens of thousands of requests against `localvision serve`, with 0 errors and no creeping
memory.

    .venv/bin/python -m bench.soak [--requests 50000] [--clients 16] [--warmup 2000]

Starts `localvision serve` (EfficientNet-Lite0, OpenVINO fp32, offline, a temporary SQLite
history and artifact cache, rate limiting off: one address sending this much is the point, not an
abuse), warms it up, then sends `--requests` more from `--clients` closed-loop clients
(bench/loadgen.py), POSTing the small coffee JPEG to /api/v1/classify, in segments so the
server's memory (RSS of its process tree) can be sampled along the way.

Warm-up: at least `--warmup` requests, then on in steps of 1,000 until one step moves the RSS by
less than 1% (at most `--max-warmup`). A fresh server's working set grows for the first few
thousand requests (the runtime's buffers for each batch size the batcher forms, thread pools,
allocator arenas, SQLite's page cache) by an amount that depends on how busy the host is; a leak
is growth that goes on after that. The report also gives the RSS growth over the second half of
the run alone, where a leak would show and a warm-up cannot.

Passes when there were 0 errors (any non-2xx or connection failure), the RSS at the end is less
than 10% above the RSS after warm-up, the server is still healthy, and the history holds exactly
one row per request (nothing lost). Prints a JSON report, writes it to
`<out>/soak-<timestamp>.json` (default out: bench/results), exits 1 on a failure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

from bench.images import small_jpeg
from bench.loadgen import ProcessTreeRSS, run_load
from bench.servers import running_server

REPO_ROOT = Path(__file__).resolve().parent.parent
MAX_RSS_GROWTH = 0.10
SEGMENT = 5_000  # requests between memory samples (and under loadgen's 600 s cap per run)
WARMUP_STEP = 1_000
WARMUP_STABLE = 0.01  # a warm-up step that moves the RSS less than this ends the warm-up


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def rss_mb(pid: int, samples: int = 5, interval_s: float = 0.2) -> float:
    """The server tree's RSS in MiB: the median of a few samples, with the server idle."""
    sampler = ProcessTreeRSS(pid)
    values = []
    for _ in range(samples):
        values.append(sampler.sample() / 2**20)
        time.sleep(interval_s)
    return statistics.median(values)


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=50_000, help="requests after warm-up")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=2_000, help="fewest warm-up requests")
    ap.add_argument("--max-warmup", type=int, default=20_000, help="most warm-up requests")
    ap.add_argument("--path", default="/api/v1/classify", help="endpoint to POST the JPEG to")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results")
    args = ap.parse_args(argv)

    payload = small_jpeg()
    tmp = Path(tempfile.mkdtemp(prefix="localvision-soak-"))
    env = {
        "LOCALVISION_MODEL_DIR": str(tmp / "models"),
        "TORCH_HOME": str(tmp / "torch"),
        "LOCALVISION_OFFLINE": "1",
        "LOCALVISION_RATE_LIMIT": "off",
        "LOCALVISION_AUTH": "off",
    }
    cmd = [
        sys.executable, "-m", "localvision", "serve", "--model", "efficientnet_lite0",
        "--backend", "openvino", "--precision", "fp32", "--offline",
        "--db", f"sqlite:///{tmp / 'history.db'}", "--host", "{host}", "--port", "{port}",
    ]  # fmt: skip
    report: dict = {
        "requests": args.requests, "clients": args.clients,
        "path": args.path, "payload_bytes": len(payload),
        "model": "efficientnet_lite0", "backend": "openvino", "precision": "fp32",
        "started": datetime.now().isoformat(timespec="seconds"),
    }  # fmt: skip
    log(f"starting the server (first start exports the model; logs in {tmp})")
    with running_server(cmd, ready_path="/readyz", env=env, timeout_s=600,
                        log_path=tmp / "server.log") as server:  # fmt: skip
        url = server.url(args.path)
        warm_ok = warm_errors = warmed = 0
        warm_curve, previous = [], rss_mb(server.pid)
        while warmed < args.max_warmup:
            step = min(args.warmup if warmed == 0 else WARMUP_STEP, args.max_warmup - warmed)
            r = run_load(url, payload, clients=args.clients, duration_s=None, max_requests=step)
            warmed += r.requests
            warm_ok, warm_errors = warm_ok + r.ok, warm_errors + r.errors
            baseline = rss_mb(server.pid)
            warm_curve.append([warmed, round(baseline, 1)])
            log(f"warm-up: {warmed} requests, RSS {baseline:.1f} MiB")
            if warmed > args.warmup and abs(baseline - previous) < WARMUP_STABLE * previous:
                break
            previous = baseline
        log(f"RSS after warm-up: {baseline:.1f} MiB")
        segments, done, errors, error_kinds = [], 0, 0, {}
        started = time.perf_counter()
        with ProcessTreeRSS(server.pid, interval_s=1.0) as during:
            while done < args.requests:
                n = min(SEGMENT, args.requests - done)
                r = run_load(url, payload, clients=args.clients, duration_s=None, max_requests=n)
                done += r.requests
                errors += r.errors
                for kind, count in r.error_kinds.items():
                    error_kinds[kind] = error_kinds.get(kind, 0) + count
                segments.append({
                    "requests": r.requests, "errors": r.errors, "rps": round(r.rps, 1),
                    "p50_ms": round(r.p50_ms, 1), "p99_ms": round(r.p99_ms, 1),
                    "rss_mb": round(during.last_mb, 1),
                })  # fmt: skip
                log(f"{done:>7} requests  {r.summary()}  RSS {during.last_mb:.1f} MiB")
        elapsed = time.perf_counter() - started
        final = rss_mb(server.pid)
        health = get_json(server.url("/readyz"))
        recorded = get_json(server.url("/api/v1/history?limit=1"))["total"]
        ok_total = warm_ok + done - errors

    growth = (final - baseline) / baseline
    middle = segments[(len(segments) - 1) // 2]["rss_mb"] if segments else final
    report.update({
        "warmup_requests": warmed,
        "warmup_rss_mb": warm_curve,
        "elapsed_s": round(elapsed, 1),
        "rps": round((done - errors) / elapsed, 1) if elapsed > 0 else 0.0,
        "errors": errors + warm_errors,
        "error_kinds": error_kinds,
        "rss_after_warmup_mb": round(baseline, 1),
        "rss_end_mb": round(final, 1),
        "rss_peak_mb": round(during.peak_mb, 1),
        "rss_growth_pct": round(growth * 100, 2),
        "rss_second_half_growth_pct": round((final - middle) / middle * 100, 2),
        "history_rows": recorded,
        "answered_ok": ok_total,
        "ready_at_end": health.get("status") == "ready",
        "segments": segments,
    })  # fmt: skip
    checks = {
        "zero_errors": report["errors"] == 0,
        "rss_growth_under_10pct": growth < MAX_RSS_GROWTH,
        "ready_at_end": report["ready_at_end"],
        "one_history_row_per_request": recorded == ok_total,
    }
    report["checks"] = checks
    report["passed"] = all(checks.values())
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"soak-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "segments"}, indent=2))
    log(f"report: {path}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
