"""The model cache: exported backend artifacts (OpenVINO IR, ONNX) and precision checks, each
with a manifest.

A directory per (model, source weights, backend, precision):

    <cache>/artifacts/<model>-<sha256[:16] of the weights>/<backend>-<precision>/
        manifest.json   source weights SHA-256, preprocessing, labels, backend, precision,
                        the precision's check against fp32, format version
        model.xml + model.bin   (openvino; bf16 shares the fp32 IR, int8 has its own)
        model.onnx              (onnxruntime)
        nothing else            (torch: the manifest records the check; the model is built
                                 from the weights)

Looking an artifact up needs no torch; `serve` and `classify` reuse one instead of converting
at every start. An artifact whose labels or preprocessing no longer match the registry is stale
and ignored. The cache root is always passed in (Settings.cache_dir), never looked up here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_dir

from .models.spec import ModelSpec

# 2: precisions of their own (bf16, fp16) and a "check" report for every precision but fp32.
FORMAT_VERSION = 2
FILES = {
    "openvino": ("model.xml", "model.bin"),
    "onnxruntime": ("model.onnx",),
    "torch": (),
}


def cache_root(cache_dir: Path | str | None) -> Path:
    """Where artifacts live for a Settings.cache_dir (None: the user's cache directory)."""
    return Path(cache_dir or user_cache_dir("localvision")) / "artifacts"


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


def artifact_dir(root: Path, spec: ModelSpec, weights_sha256: str, backend: str, precision: str) -> Path:
    return root / f"{spec.name}-{weights_sha256[:16]}" / f"{backend}-{precision}"


def find(
    root: Path, spec: ModelSpec, weights_sha256: str, backend: str, precision: str
) -> Artifact | None:
    path = artifact_dir(root, spec, weights_sha256, backend, precision)
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


def checked(root: Path, spec: ModelSpec, weights_sha256: str, backend: str) -> dict[str, Artifact]:
    """The non-fp32 precisions with an artifact for these weights on this backend, by name
    (forced ones included: `Artifact.verified` tells them apart)."""
    found = {}
    for precision in ("bf16", "fp16", "int8"):
        artifact = find(root, spec, weights_sha256, backend, precision)
        if artifact is not None and artifact.check is not None:
            found[precision] = artifact
    return found


def manifest_for(
    spec: ModelSpec, weights_path: Path, weights_sha256: str, backend: str, precision: str,
    check: dict | None = None,
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
        "check": check,
    }
