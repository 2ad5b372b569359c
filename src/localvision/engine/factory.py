"""Build the backend that will run a model: choose the backend and the precision, find (or make)
its artifact, load it.

On the CPU the default is OpenVINO: the first start exports the model to the artifact cache in a
child process (that needs torch), and every later start loads the artifact directly, so the
serving process never imports torch. A precision other than fp32 runs only from an artifact whose
check against fp32 passed (engine/precision.py); asked for without one, it is refused with the
command that makes one, never silently replaced.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .. import artifacts
from ..errors import LocalVisionError, ModelError
from ..models.spec import ModelSpec
from ..weights import sha256_file
from .base import Backend
from .precision import choose_precision, native_bf16
from .select import choose_backend, installed_backends


def make_backend(spec: ModelSpec, weights: Path, settings) -> Backend:
    """The backend, device and precision the settings ask for, loaded and ready."""
    name = choose_backend(settings.backend, settings.device, installed_backends())
    root = artifacts.cache_root(settings.cache_dir)
    sha = sha256_file(weights)
    found = artifacts.checked(root, spec, sha, name)
    # auto takes only verified checks; one kept below the bar with --force runs when named
    usable = frozenset(p for p, a in found.items() if a.verified or p == settings.precision)
    precision = choose_precision(
        settings.precision, name, settings.device, usable, native_bf16(), spec.name
    )
    if name == "torch":
        from .torch_backend import TorchBackend

        return TorchBackend(spec, weights, settings.device, precision)
    if precision == "fp32":
        artifact = artifacts.find(root, spec, sha, name, "fp32")
        if artifact is None:
            export_in_child(spec, weights, name, root, settings.export_timeout_s)
            artifact = artifacts.find(root, spec, sha, name, "fp32")
        if artifact is None:
            raise ModelError(f"Exporting {spec.name} to {name} left no usable artifact.")
    else:
        artifact = found[precision]
    if name == "openvino":
        from .openvino_backend import OpenVINOBackend

        return OpenVINOBackend(artifact.model_file, precision)
    from .onnxruntime_backend import OnnxRuntimeBackend

    return OnnxRuntimeBackend(artifact.model_file, settings.device)


_CHILD = """
import json, sys
from pathlib import Path
from localvision.errors import LocalVisionError
from localvision.export import Target, export
from localvision.models import get_spec
name, weights, backend, root = sys.argv[1:5]
try:
    export(get_spec(name), Path(weights), Target(Path(root), backend, "fp32", "cpu", 0))
except LocalVisionError as exc:
    print(json.dumps({**exc.to_dict(), "hint": exc.hint}))
    sys.exit(3)
"""


def export_in_child(spec: ModelSpec, weights: Path, backend: str, root: Path, timeout: float) -> None:
    """Convert in a child process, so torch's memory goes away with it, within `timeout`
    seconds. Its typed errors (a corrupt weights file, say) come back as themselves."""
    cmd = [sys.executable, "-c", _CHILD, spec.name, str(weights), backend, str(root)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ModelError(
            f"Exporting {spec.name} to {backend} took longer than {timeout:g} s and was stopped.",
            hint="raise LOCALVISION_EXPORT_TIMEOUT_S on a slow machine",
        ) from None
    if proc.returncode == 3:
        raise LocalVisionError.from_dict(json.loads(proc.stdout.strip().splitlines()[-1]))
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit code {proc.returncode}"
        raise ModelError(f"Could not export {spec.name} to {backend}: {detail}")
