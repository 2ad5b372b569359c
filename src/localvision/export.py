"""Export a model to a backend artifact (OpenVINO IR or ONNX), optionally INT8-quantized with
NNCF on real calibration images, with a top-1 agreement guard against fp32.

This is the only place besides the torch backend that needs torch; the serving path then loads
the artifact without it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import artifacts
from .errors import LocalVisionError, ModelError
from .imaging import decode_picture
from .models.spec import ModelSpec
from .transforms import to_array
from .weights import sha256_file

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
# At least this many images, so that a quarter held out still says something.
MIN_CALIBRATION_IMAGES = 8


class ExportRefused(ModelError):
    code = "export_refused"


@dataclass
class ExportResult:
    artifact: artifacts.Artifact
    created: bool  # False: an up-to-date artifact was already there


def export(
    spec: ModelSpec,
    weights_path: Path,
    backend: str,
    *,
    int8: bool = False,
    calibration_dir: Path | None = None,
    min_agreement: float = 0.98,
    force: bool = False,
    rebuild: bool = False,
) -> ExportResult:
    if backend not in artifacts.FILES:
        raise ModelError(f"Cannot export to {backend!r}; choose openvino or onnxruntime.")
    if int8 and backend != "openvino":
        raise ModelError(
            "INT8 export is offered for the openvino backend only (ONNX Runtime's INT8 path is "
            "slower than its fp32 on AVX2 CPUs)."
        )
    precision = "int8" if int8 else "fp32"
    sha = sha256_file(weights_path)
    if not rebuild:
        found = artifacts.find(spec, sha, backend, precision)
        if found is not None:
            return ExportResult(found, created=False)

    from .engine.torch_model import build_model

    model = build_model(spec, weights_path)
    target = artifacts.artifact_dir(spec, sha, backend, precision)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{backend}-{precision}-"))
    try:
        calibration = None
        if backend == "onnxruntime":
            _export_onnx(model, spec, tmp / "model.onnx")
        elif not int8:
            _save_openvino(_convert_openvino(model, spec), tmp / "model.xml")
        else:
            ov_model = _convert_openvino(model, spec)
            quantized, calibration = _quantize(ov_model, spec, calibration_dir, min_agreement, force)
            _save_openvino(quantized, tmp / "model.xml")
        manifest = artifacts.manifest_for(spec, weights_path, sha, backend, precision, calibration)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2), "utf-8")
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ExportResult(artifacts.Artifact(target, manifest), created=True)


def _example(spec: ModelSpec):
    import torch

    return torch.zeros(1, 3, spec.preprocess.crop, spec.preprocess.crop)


def _export_onnx(model, spec: ModelSpec, path: Path) -> None:
    import torch

    with torch.inference_mode():
        torch.onnx.export(
            model, (_example(spec),), str(path),
            input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=17, dynamo=False,
        )  # fmt: skip


def _convert_openvino(model, spec: ModelSpec):
    import openvino as ov

    crop = spec.preprocess.crop
    return ov.convert_model(model, example_input=_example(spec), input=[-1, 3, crop, crop])


def _save_openvino(ov_model, path: Path) -> None:
    import openvino as ov

    # fp32 weights on disk: fp16 compression would change results on CPUs without fp16 math.
    ov.save_model(ov_model, str(path), compress_to_fp16=False)


def calibration_arrays(spec: ModelSpec, directory: Path) -> tuple[list[str], np.ndarray]:
    """The images under directory, preprocessed exactly as at serving time."""
    if directory is None or not Path(directory).is_dir():
        raise ModelError(f"INT8 export needs --calibration DIR with real images; got {directory}.")
    names, arrays = [], []
    for path in sorted(p for p in Path(directory).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        try:
            pic = decode_picture(path.read_bytes(), draft_min_side=spec.preprocess.draft_side)
        except LocalVisionError:
            continue  # a bad file in the calibration folder is skipped, not fatal
        names.append(str(path))
        arrays.append(to_array(pic.image, spec.preprocess, box=pic.box, exact=False))
    if len(arrays) < MIN_CALIBRATION_IMAGES:
        raise ModelError(
            f"{directory} has {len(arrays)} readable images; INT8 calibration needs at least "
            f"{MIN_CALIBRATION_IMAGES} (a few hundred of the kind you will classify is best)."
        )
    return names, np.stack(arrays)


def split(n: int) -> tuple[list[int], list[int]]:
    """Every fourth image held out for the agreement check, the rest calibrate."""
    held = [i for i in range(n) if i % 4 == 3]
    return [i for i in range(n) if i % 4 != 3], held


def _quantize(ov_model, spec, calibration_dir, min_agreement, force):
    import nncf
    import openvino as ov

    names, x = calibration_arrays(spec, calibration_dir)
    calib, held = split(len(x))
    dataset = nncf.Dataset([x[i : i + 1] for i in calib])
    quantized = nncf.quantize(ov_model, dataset, subset_size=len(calib))
    core = ov.Core()
    fp32 = core.compile_model(ov_model, "CPU")
    int8 = core.compile_model(quantized, "CPU")
    a = np.argmax(fp32(x[held])[0], axis=1)
    b = np.argmax(int8(x[held])[0], axis=1)
    agreement = float(np.mean(a == b))
    report = {
        "dir": str(calibration_dir),
        "images": len(x),
        "calibration_images": len(calib),
        "held_out_images": len(held),
        "top1_agreement": round(agreement, 4),
        "min_agreement": min_agreement,
        "forced": bool(force and agreement < min_agreement),
    }
    if agreement < min_agreement and not force:
        raise ExportRefused(
            f"INT8 {spec.name} agrees with fp32 on {agreement:.1%} of {len(held)} held-out images, "
            f"below the {min_agreement:.0%} bar; not exported.",
            hint="calibrate on more images of the kind you classify, or pass --force to keep it",
        )
    return quantized, report
