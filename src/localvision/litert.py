"""LiteRT (`.tflite`) export through a converter environment of its own.

litert-torch, Google's torch -> LiteRT converter, cannot be installed beside localvision: its
`litert-converter` pins xdsl 0.28, which needs typing-extensions < 4.13, older than pydantic's.
So it lives in a venv of its own (`ConverterEnv`, under the `converter_dir` setting), made on
request by `localvision export MODEL --format tflite --setup-converter`, with the same torch
version as ours. localvision saves the network as a torch.export program (`.pt2`), and that
venv's Python converts it, isolated, by running litert_child.py (which imports nothing of
localvision). The environment records what it was made with; one made for other versions counts
as missing, so an upgrade of torch here asks for a new one instead of failing half-way.

The model takes NHWC float32 RGB pixels 0-255 of the crop size (an Android bitmap's bytes, as
floats) and outputs probabilities: normalisation and softmax are inside.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import ConverterMissing, ConverterNotSetUp, ExportRefused
from .files import read_json, write_json
from .models.spec import ModelSpec
from .models.store import Package

# The converter's release this code was checked with (ResNet-18, EfficientNet-Lite0 converted,
# within 1e-5 of torch): pinned, so a new release cannot change exports unannounced.
LITERT_TORCH = "litert-torch==0.10.0"
SETUP_COMMAND = "localvision export MODEL --format tflite --setup-converter"
RECORD = "localvision-converter.json"
CHILD = Path(__file__).with_name("litert_child.py")
# The converted model against torch on random inputs, in the child (probabilities are 0-1).
TOLERANCE = 1e-4
CHILD_TIMEOUT_S = 900


def requirements() -> list[str]:
    """What the environment installs: our torch version (the `.pt2` handed over is read by the
    torch that wrote it) and the pinned converter."""
    from importlib.metadata import version

    return [f"torch=={version('torch')}", LITERT_TORCH]


@dataclass(frozen=True)
class ConverterEnv:
    """The LiteRT converter's venv: `<converter_dir>/litert`."""

    path: Path

    @classmethod
    def under(cls, converter_dir: Path) -> "ConverterEnv":
        return cls(Path(converter_dir) / "litert")

    @property
    def python(self) -> Path:
        return self.path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")

    def wanted(self) -> dict:
        return {"python": f"{sys.version_info[0]}.{sys.version_info[1]}",
                "requirements": requirements()}  # fmt: skip

    def ready(self) -> bool:
        """Made completely (the record is written last) for the versions wanted now."""
        return read_json(self.path / RECORD) == self.wanted() and self.python.exists()

    def require(self) -> "ConverterEnv":
        if not self.ready():
            raise ConverterNotSetUp(
                f"LiteRT (.tflite) export converts with litert-torch in an environment of its "
                f"own, which is not set up at {self.path} (or was made for other versions). "
                "Making it installs torch and litert-torch there (about 7 GB).",
                hint=f"run `{SETUP_COMMAND}` once",
            )
        return self

    def create(self) -> None:
        """Make the venv (replacing an incomplete or outdated one) and install the converter;
        pip's complaint becomes `converter_missing` when it cannot."""
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        log = self.path.parent / "litert-setup.log"
        _run_logged([sys.executable, "-m", "venv", str(self.path)], log)
        pip = [str(self.python), "-m", "pip", "install", "--disable-pip-version-check"]
        _run_logged([*pip, *self.wanted()["requirements"]], log)
        write_json(self.path / RECORD, self.wanted())  # last: what marks the venv as made


def _run_logged(command: list[str], log: Path) -> None:
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        done = subprocess.run(command, stdout=out, stderr=subprocess.PIPE, text=True)
        out.write(done.stderr)
    if done.returncode != 0:
        said = [line for line in done.stderr.splitlines()
                if line.strip() and not line.startswith("WARNING: Location")]  # fmt: skip
        raise ConverterMissing(
            "The LiteRT converter environment could not be made: "
            + " / ".join(said[-4:] or [f"{command[2]} exited with {done.returncode}"]),
            hint=f"see {log}; --format onnx still works",
        )


def nhwc_network(package: Package, spec: ModelSpec):
    """What is converted: NHWC 0-255 RGB pixels in, probabilities out."""
    import torch

    from .models.network import probability_network

    class Pixels(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x.permute(0, 3, 1, 2) / 255.0)

    return Pixels(probability_network(spec, package.weights_file)).eval()


def to_tflite(env: ConverterEnv, package: Package, spec: ModelSpec, path: Path, meta: dict):
    """Convert the package's network to `path` in the converter environment, with `meta`'s
    entries written into the model's metadata table."""
    import torch

    crop = spec.preprocess.crop
    example = (torch.rand(1, crop, crop, 3) * 255,)
    with tempfile.TemporaryDirectory(prefix="localvision-litert-") as tmp:
        program = Path(tmp) / "network.pt2"
        torch.export.save(torch.export.export(nhwc_network(package, spec), example), program)
        request = Path(tmp) / "request.json"
        request.write_text(json.dumps({
            "program": str(program), "output": str(path), "metadata": meta,
            "tolerance": TOLERANCE,
        }), "utf-8")  # fmt: skip
        done = _child(env, request)
    if done.returncode != 0 or not path.exists():
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        said = [line.split(": ", 1)[1] for line in lines
                if line.startswith("localvision-litert-error:")] or lines[-3:]  # fmt: skip
        raise ExportRefused(
            f"litert-torch could not convert {package.name}: {' / '.join(said)}",
            hint="report it with the model's architecture; --format onnx still works",
        )


def _child(env: ConverterEnv, request: Path) -> subprocess.CompletedProcess:
    # -I: the child sees only the converter environment (no PYTHONPATH, no user site), so none
    # of localvision's own packages (pydantic and the rest) can shadow the converter's.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    try:
        return subprocess.run(
            [str(env.python), "-I", str(CHILD), str(request)], capture_output=True, text=True,
            env=clean, timeout=CHILD_TIMEOUT_S,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise ExportRefused(f"litert-torch took over {CHILD_TIMEOUT_S} s; stopped.") from None


def read_metadata(path: Path) -> dict[str, str]:
    """The metadata table of a `.tflite` file (name -> text), read with ai-edge-litert's schema."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(bytearray(Path(path).read_bytes()), 0)
    found = {}
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        data = model.Buffers(entry.Buffer()).DataAsNumpy()
        found[entry.Name().decode("utf-8")] = bytes(data).decode("utf-8")
    return found
