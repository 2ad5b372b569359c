"""Load a model package at a backend and precision: choose both, find (or make) the artifact in
the package, load it.

On the CPU the default is OpenVINO: the first start exports the package to an fp32 IR in a child
process (that needs torch), and every later start loads the artifact directly, so the serving
process never imports torch. A precision other than fp32 runs only from an artifact whose check
against fp32 passed (engine/precision.py); asked for without one, it is refused with the command
that makes one, never silently replaced.
"""

from __future__ import annotations

from .. import artifacts
from ..child import run_child
from ..errors import ModelError
from ..models.spec import ModelSpec
from ..models.store import Package
from .base import Backend
from .precision import choose_precision, native_bf16
from .select import choose_backend, installed_backends


def make_backend(package: Package, spec: ModelSpec, settings) -> Backend:
    """The backend, device and precision the settings ask for, loaded and ready."""
    name = choose_backend(settings.backend, settings.device, installed_backends())
    found = artifacts.checked(package, spec, name)
    # auto takes only verified checks; one kept below the bar with --force runs when named
    usable = frozenset(p for p, a in found.items() if a.verified or p == settings.precision)
    precision = choose_precision(
        settings.precision, name, settings.device, usable, native_bf16(), spec.name
    )
    if name == "torch":
        from .torch_backend import TorchBackend

        return TorchBackend(spec, package.weights_file, settings.device, precision)
    if precision == "fp32":
        artifact = artifacts.find(package, spec, name, "fp32")
        if artifact is None:
            export_in_child(package, name, settings.export_timeout_s)
            artifact = artifacts.find(package, spec, name, "fp32")
        if artifact is None:
            raise ModelError(f"Exporting {spec.name} to {name} left no usable artifact.")
    else:
        artifact = found[precision]
    if name == "openvino":
        from .openvino_backend import OpenVINOBackend

        return OpenVINOBackend(artifact.model_file, precision)
    from .onnxruntime_backend import OnnxRuntimeBackend

    return OnnxRuntimeBackend(artifact.model_file, settings.device)


def export_in_child(package: Package, backend: str, timeout: float) -> None:
    """Convert in a child process, so torch's memory goes away with it, within `timeout`
    seconds. Its typed errors (a corrupt weights file, say) come back as themselves."""
    what = f"Exporting {package.name} to {backend}"
    run_child("localvision.export_child", [str(package.path), backend], what, timeout)
