"""Build the backend that will run a model: choose it, find (or make) its artifact, load it.

On the CPU the default is OpenVINO: the first start exports the model to the artifact cache in a
child process (that needs torch), and every later start loads the artifact directly, so the
serving process never imports torch. INT8 is used when `localvision export --int8` has made a
verified artifact for these exact weights (precision auto), or refused when asked for without one.
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
from .select import choose_backend, installed_backends


def make_backend(
    spec: ModelSpec, weights: Path, backend: str = "auto", device: str = "cpu", precision: str = "auto"
) -> Backend:
    name = choose_backend(backend, device, installed_backends())
    if name == "torch":
        if precision == "int8":
            raise ModelError("INT8 runs on the openvino backend; use --backend openvino.")
        from .torch_backend import TorchBackend

        return TorchBackend(spec, weights, device)
    artifact = find_artifact(spec, weights, name, precision)
    if name == "openvino":
        from .openvino_backend import OpenVINOBackend

        return OpenVINOBackend(artifact.model_file, artifact.precision)
    from .onnxruntime_backend import OnnxRuntimeBackend

    return OnnxRuntimeBackend(artifact.model_file, device)


def find_artifact(spec: ModelSpec, weights: Path, backend: str, precision: str) -> artifacts.Artifact:
    sha = sha256_file(weights)
    if precision in ("auto", "int8") and backend == "openvino":
        found = artifacts.find(spec, sha, backend, "int8")
        if found is not None:
            return found
    if precision == "int8":
        raise ModelError(
            f"No verified INT8 artifact of {spec.name} for these weights.",
            hint=f"localvision export {spec.name} --backend openvino --int8 --calibration DIR",
        )
    found = artifacts.find(spec, sha, backend, "fp32")
    if found is None:
        export_in_child(spec, weights, backend)
        found = artifacts.find(spec, sha, backend, "fp32")
    if found is None:
        raise ModelError(f"Exporting {spec.name} to {backend} left no usable artifact.")
    return found


_CHILD = """
import json, sys
from pathlib import Path
from localvision.errors import LocalVisionError
from localvision.export import export
from localvision.models import get_spec
try:
    export(get_spec(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
except LocalVisionError as exc:
    print(json.dumps({**exc.to_dict(), "hint": exc.hint}))
    sys.exit(3)
"""


def export_in_child(spec: ModelSpec, weights: Path, backend: str) -> None:
    """Convert in a child process, so torch's memory goes away with it. Its typed errors (a
    corrupt weights file, say) come back as themselves."""
    cmd = [sys.executable, "-c", _CHILD, spec.name, str(weights), backend]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode == 3:
        raise LocalVisionError.from_dict(json.loads(proc.stdout.strip().splitlines()[-1]))
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit code {proc.returncode}"
        raise ModelError(f"Could not export {spec.name} to {backend}: {detail}")
