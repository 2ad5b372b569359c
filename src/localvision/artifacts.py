"""The model cache: exported backend artifacts (OpenVINO IR, ONNX), each with a manifest.

A directory per (model, source weights, backend, precision):

    <cache>/<model>-<sha256[:16] of the weights>/<backend>-<precision>/
        manifest.json   source weights SHA-256, preprocessing, labels, backend, precision,
                        calibration report, format version
        model.xml + model.bin   (openvino)   or   model.onnx   (onnxruntime)

Looking an artifact up needs no torch; `serve` and `classify` reuse one instead of converting
at every start. An artifact whose labels or preprocessing no longer match the registry is stale
and ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_dir

from .models.spec import ModelSpec

FORMAT_VERSION = 1
FILES = {"openvino": ("model.xml", "model.bin"), "onnxruntime": ("model.onnx",)}


def cache_root() -> Path:
    from .config import Settings

    return Path(Settings().cache_dir or user_cache_dir("localvision")) / "artifacts"


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


def artifact_dir(spec: ModelSpec, weights_sha256: str, backend: str, precision: str) -> Path:
    return cache_root() / f"{spec.name}-{weights_sha256[:16]}" / f"{backend}-{precision}"


def find(spec: ModelSpec, weights_sha256: str, backend: str, precision: str) -> Artifact | None:
    path = artifact_dir(spec, weights_sha256, backend, precision)
    try:
        manifest = json.loads((path / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    fresh = (
        manifest.get("format_version") == FORMAT_VERSION
        and manifest.get("source_weights", {}).get("sha256") == weights_sha256
        and manifest.get("labels") == list(spec.labels)
        and manifest.get("preprocess") == spec.preprocess.to_dict()
        and all((path / f).is_file() for f in FILES[backend])
    )
    return Artifact(path, manifest) if fresh else None


def manifest_for(
    spec: ModelSpec, weights_path: Path, weights_sha256: str, backend: str, precision: str,
    calibration: dict | None = None,
) -> dict:  # fmt: skip
    from datetime import datetime, timezone

    from . import __version__

    return {
        "format_version": FORMAT_VERSION,
        "localvision": __version__,
        "created_at": datetime.now(timezone.utc).isoformat(),
        "model": spec.name,
        "backend": backend,
        "precision": precision,
        "files": list(FILES[backend]),
        "source_weights": {"path": str(weights_path), "sha256": weights_sha256},
        "input": {"shape": [-1, 3, spec.preprocess.crop, spec.preprocess.crop], "dtype": "float32"},
        "preprocess": spec.preprocess.to_dict(),
        "labels": list(spec.labels),
        "calibration": calibration,
    }
