"""Which backend runs a model: one small pure function, so a test can cover every case."""

from __future__ import annotations

import importlib.util

from ..errors import BackendUnavailable

BACKENDS = ("torch", "openvino", "onnxruntime")
_MODULES = {"torch": "torch", "openvino": "openvino", "onnxruntime": "onnxruntime"}


def installed_backends() -> frozenset[str]:
    return frozenset(b for b, mod in _MODULES.items() if importlib.util.find_spec(mod) is not None)


def choose_backend(requested: str, device: str, installed: frozenset[str]) -> str:
    """auto: on CUDA, torch (fp16, GPU decode); on the CPU, OpenVINO (the fastest here, and int8),
    then ONNX Runtime, then eager torch. A backend asked for by name is used or refused."""
    if requested != "auto":
        if requested not in BACKENDS:
            raise BackendUnavailable(
                f"Unknown backend {requested!r}; choose auto, {', '.join(BACKENDS)}."
            )
        if requested not in installed:
            raise BackendUnavailable(
                f"The {requested} backend is not installed.", hint=f"pip install {requested}"
            )
        if device == "cuda" and requested == "openvino":
            raise BackendUnavailable("The openvino backend runs on the CPU only; use --device cpu.")
        return requested
    order = ("torch",) if device == "cuda" else ("openvino", "onnxruntime", "torch")
    for name in order:
        if name in installed:
            return name
    raise BackendUnavailable(
        f"No backend for device {device!r} is installed.", hint="pip install openvino"
    )
