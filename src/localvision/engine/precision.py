"""Which precision runs: one small pure function, so a test can cover every case.

A precision is what it says. fp32 is fp32 on every backend (OpenVINO is told
INFERENCE_PRECISION_HINT f32, since on a CPU with native bf16 it would otherwise run an "fp32"
model in bf16; CUDA gets no TF32). bf16 (a CPU with native bf16, or CUDA), fp16 (CUDA) and int8
(OpenVINO) are precisions of their own, chosen by name, and each is used only once its check has
passed: top-1 agreement with fp32 on held-out real images, recorded in the artifact's manifest by
`localvision export --precision ...` (export.py). `auto` takes the fastest checked precision.
"""

from __future__ import annotations

import functools
from pathlib import Path

from ..errors import PrecisionUnavailable

PRECISIONS = ("fp32", "bf16", "fp16", "int8")

# What each backend can run at all, by device.
SUPPORTED = {
    ("openvino", "cpu"): ("fp32", "bf16", "int8"),
    ("onnxruntime", "cpu"): ("fp32",),
    ("onnxruntime", "cuda"): ("fp32",),
    ("torch", "cpu"): ("fp32", "bf16"),
    ("torch", "cuda"): ("fp32", "bf16", "fp16"),
}
# auto's order of preference: fastest first (fp32 always runs and needs no check).
AUTO_ORDER = ("int8", "bf16", "fp16")
# The least top-1 agreement with fp32 a precision's check must reach by default. INT8 loses more
# than a float format and is worth it for its speed; bf16 and fp16 must be near-identical.
MIN_AGREEMENT = {"int8": 0.98, "bf16": 0.99, "fp16": 0.99}


@functools.cache
def native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512_BF16 or AMX), so bf16 is a speed-up rather
    than an emulation. Read from the kernel's CPU flags (Linux); elsewhere, OpenVINO's view."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
        return "avx512_bf16" in flags or "amx_bf16" in flags
    except OSError:
        pass
    try:
        import openvino as ov

        return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception:
        return False


def export_hint(model: str, precision: str, backend: str) -> str:
    return (
        f"localvision export {model} --backend {backend} --precision {precision} "
        "--calibration DIR  (DIR: real photos of the kind you classify)"
    )


def choose_precision(
    requested: str,
    backend: str,
    device: str,
    checked: frozenset[str],
    bf16_native: bool,
    model: str = "MODEL",
) -> str:
    """The precision to run. `checked`: precisions whose agreement check passed for these
    weights on this backend. A precision asked for by name runs or is refused with the command
    that makes it possible; `auto` never fails (fp32 is its floor)."""
    supported = SUPPORTED.get((backend, device), ("fp32",))
    if requested == "auto":
        for precision in AUTO_ORDER:
            if precision in supported and precision in checked:
                if precision == "bf16" and device == "cpu" and not bf16_native:
                    continue
                return precision
        return "fp32"
    if requested not in PRECISIONS:
        raise PrecisionUnavailable(
            f"Unknown precision {requested!r}; choose auto, {', '.join(PRECISIONS)}."
        )
    if requested not in supported:
        raise PrecisionUnavailable(
            f"The {backend} backend on {device} runs {', '.join(supported)}, not {requested}."
        )
    if requested == "bf16" and device == "cpu" and not bf16_native:
        raise PrecisionUnavailable(
            "This CPU has no native bf16 (AVX512_BF16 or AMX), so bf16 would be slower than fp32."
        )
    if requested != "fp32" and requested not in checked:
        raise PrecisionUnavailable(
            f"{requested} has not been checked against fp32 for these weights on {backend}.",
            hint=export_hint(model, requested, backend),
        )
    return requested
