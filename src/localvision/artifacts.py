"""Exported backend artifacts (OpenVINO IR, ONNX) and precision checks, inside a model's package,
each with a manifest.

    <package>/artifacts/<backend>-<precision>/
        manifest.json   the package weights' SHA-256, preprocessing, the number of classes,
                        backend, precision, the precision's check against fp32, format version
        model.xml + model.bin   (openvino; bf16 shares the fp32 IR, int8 has its own)
        model.onnx              (onnxruntime)
        model.mlpackage/        (coreml; labels and preprocessing inside, mobile.py)
        model.tflite            (tflite)
        nothing else            (torch: the manifest records the check; the model is built
                                 from the package's weights)

Looking an artifact up needs no torch; `serve` and `classify` reuse one instead of converting
at every start. An artifact made from other weights or with other preprocessing is stale and
ignored. Labels are not part of it: the network outputs scores per class index, so a model run
with another label file reuses its artifacts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .models.spec import ModelSpec
from .models.store import Package

# 3: artifacts live in the model's package (models/store.py).
FORMAT_VERSION = 3
FILES = {
    "openvino": ("model.xml", "model.bin"),
    "onnxruntime": ("model.onnx",),
    "torch": (),
    # Formats for other runtimes (mobile.py); nothing here serves them.
    "coreml": ("model.mlpackage",),  # a directory: Core ML's package format
    "tflite": ("model.tflite",),
}


@dataclass(frozen=True)
class Artifact:
    path: Path
    manifest: dict

    @property
    def model_file(self) -> Path:
        return self.path / FILES[self.manifest["backend"]][0]

    @property
    def precision(self) -> str:
        return self.manifest["precision"]

    @property
    def check(self) -> dict | None:
        """The precision's agreement check against fp32 (None for fp32 itself)."""
        return self.manifest.get("check")

    @property
    def verified(self) -> bool:
        """fp32, or a precision whose check passed (not one kept below the bar with --force)."""
        check = self.check
        return check is None or not check.get("forced", False)


def artifact_dir(package: Package, backend: str, precision: str) -> Path:
    return package.artifacts / f"{backend}-{precision}"


def find(package: Package, spec: ModelSpec, backend: str, precision: str) -> Artifact | None:
    path = artifact_dir(package, backend, precision)
    try:
        manifest = json.loads((path / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    fresh = (
        manifest.get("format_version") == FORMAT_VERSION
        and manifest.get("source_weights", {}).get("sha256") == package.weights_sha256
        and manifest.get("num_classes") == spec.num_classes
        and manifest.get("preprocess") == spec.preprocess.to_dict()
        and all((path / f).exists() for f in FILES[backend])
    )
    return Artifact(path, manifest) if fresh else None


def checked(package: Package, spec: ModelSpec, backend: str) -> dict[str, Artifact]:
    """The non-fp32 precisions with an artifact for this package on this backend, by name
    (forced ones included: `Artifact.verified` tells them apart)."""
    found = {}
    for precision in ("bf16", "fp16", "int8"):
        artifact = find(package, spec, backend, precision)
        if artifact is not None and artifact.check is not None:
            found[precision] = artifact
    return found


def manifest_for(
    package: Package, spec: ModelSpec, backend: str, precision: str, check: dict | None = None
) -> dict:
    from datetime import datetime, timezone

    from . import __version__

    return {
        "format_version": FORMAT_VERSION,
        "localvision": __version__,
        "created_at": datetime.now(timezone.utc).isoformat(),
        "model": package.name,
        "backend": backend,
        "precision": precision,
        "files": list(FILES[backend]),
        "source_weights": {"path": str(package.weights_file), "sha256": package.weights_sha256},
        "input": {"shape": [-1, 3, spec.preprocess.crop, spec.preprocess.crop], "dtype": "float32"},
        "preprocess": spec.preprocess.to_dict(),
        "num_classes": spec.num_classes,
        "check": check,
    }
