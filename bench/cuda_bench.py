"""GPU figures, measured only when ``torch.cuda.is_available()``; otherwise a clean skip.

- model only: ResNet-18 fp16 channels_last (the package's torch backend on cuda) at
  batch 256, input already on the GPU, img/s with ``torch.cuda.synchronize``;
  also ``backend.infer`` from a host float32 array (includes the copies);
- end to end: JPEG bytes -> labels through the road with the device decoder
  (``prepare/device.DevicePreparer``: nvJPEG decode, GPU resize/crop, then the model),
  img/s for the small and large photo.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

MODEL_BATCH = 256
E2E_BATCH = 64


def _rate(
    fn: Callable[[], object],
    images_per_call: int,
    calls: int,
    sync: Callable[[], None],
    warmup: int = 3,
) -> float:
    """Images per second of ``calls`` calls of ``fn`` after ``warmup`` ones."""
    for _ in range(warmup):
        fn()
    sync()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    sync()
    return images_per_call * calls / (time.perf_counter() - t0)


def _model_only(weights: Path, calls: int) -> dict:
    import torch

    from localvision import load_classifier

    clf = load_classifier(
        "resnet18", weights, offline=True, backend="torch", device="cuda", precision="fp16"
    )
    model = clf.backend.model
    x = torch.randn(MODEL_BATCH, 3, 224, 224, device="cuda", dtype=torch.float16)
    x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        on_device = _rate(lambda: model(x), MODEL_BATCH, calls, torch.cuda.synchronize)
    host = np.random.default_rng(0).standard_normal((MODEL_BATCH, 3, 224, 224), dtype=np.float32)
    via_infer = _rate(
        lambda: clf.backend.infer(host), MODEL_BATCH, max(2, calls // 4), torch.cuda.synchronize
    )
    return {
        "batch": MODEL_BATCH,
        "precision": clf.backend.precision,
        "memory_format": "channels_last",
        "img_s_on_device": on_device,
        "img_s_backend_infer_from_host": via_infer,
    }


def _end_to_end(weights: Path, calls: int) -> dict:
    import torch

    from bench.images import large_jpeg, small_jpeg
    from localvision import load_classifier

    clf = load_classifier(
        "resnet18", weights, offline=True, backend="torch", device="cuda", precision="fp16",
        batch_size=E2E_BATCH,
    )  # fmt: skip
    out = {"available": True, "batch": E2E_BATCH}
    for name, jpeg in (("small", small_jpeg()), ("large", large_jpeg())):
        jpegs = [jpeg] * E2E_BATCH
        out[f"{name}_img_s"] = _rate(
            lambda j=jpegs: clf.predict(j), E2E_BATCH, calls, torch.cuda.synchronize, warmup=2
        )
    return out


def bench_cuda(weights: Path, calls: int = 20) -> dict:
    """GPU figures, or ``{"available": False, "reason": ...}`` without a CUDA GPU."""
    try:
        import torch
    except ImportError:
        return {"available": False, "reason": "torch is not installed"}
    if not torch.cuda.is_available():
        return {"available": False, "reason": "torch.cuda.is_available() is False"}
    result = {"available": True, "gpu": torch.cuda.get_device_name(0)}
    for key, fn in (("model_only", _model_only), ("end_to_end", _end_to_end)):
        try:
            result[key] = fn(weights, calls)
        except Exception as exc:  # noqa: BLE001  (report it; keep the CPU figures)
            result[key] = {"error": f"{type(exc).__name__}: {exc}"}
    return result
