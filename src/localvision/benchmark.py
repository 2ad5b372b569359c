"""Model-only timing for `localvision bench`: batch-1 latency and batch-N throughput of the
backend a Settings object selects. Random inputs: this measures the model, not decoding. A
backend failing while timed is InferenceFailed, as on the road."""

from __future__ import annotations

import time

import numpy as np

from .road import backend_failures


def time_calls(fn, x: np.ndarray, iterations: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn(x)
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn(x)
        times.append((time.perf_counter() - start) * 1000)
    return times


def bench_backend(backend, crop: int, batch: int = 16, iterations: int = 30) -> dict:
    rng = np.random.default_rng(0)
    one = rng.standard_normal((1, 3, crop, crop), dtype=np.float32)
    many = rng.standard_normal((batch, 3, crop, crop), dtype=np.float32)
    with backend_failures("The model failed while being timed"):
        lat = np.array(time_calls(backend.infer, one, iterations))
        thr = np.array(time_calls(backend.infer, many, max(3, iterations // 4)))
    return {
        "backend": backend.name,
        "device": backend.device,
        "precision": backend.precision,
        "batch1_p50_ms": round(float(np.percentile(lat, 50)), 2),
        "batch1_p99_ms": round(float(np.percentile(lat, 99)), 2),
        f"batch{batch}_img_s": round(batch / (float(np.median(thr)) / 1000), 1),
    }
