"""Export a model to a backend artifact, and check every precision but fp32 against fp32.

- fp32: an OpenVINO IR or an ONNX graph (the serving path then loads it without torch).
- int8 (openvino): NNCF post-training quantization on real calibration images.
- bf16 (openvino on a CPU with native bf16; torch) and fp16 (torch on CUDA): the fp32 model run
  at that precision.

A precision other than fp32 is written only when its check passes: top-1 agreement with fp32 on
held-out real images (all of them for bf16/fp16, which calibrate nothing; every fourth for int8),
each side run by the very backend that serves it, so the check measures what users get. The
report goes into the manifest; `--force` keeps one below the bar, marked as forced, which
`--precision auto` then never picks.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import artifacts
from .engine.precision import MIN_AGREEMENT, SUPPORTED, native_bf16
from .errors import ExportRefused, InputError, ModelError, PrecisionUnavailable
from .files import replace_dir
from .inputs import images_in
from .models.spec import ModelSpec
from .models.store import Package
from .prepare import Preparer
from .road import probabilities

# At least this many images, so that a quarter held out still says something.
MIN_CALIBRATION_IMAGES = 8


@dataclass
class ExportResult:
    artifact: artifacts.Artifact
    created: bool  # False: an up-to-date artifact was already there


@dataclass(frozen=True)
class Target:
    """What to export: the backend, precision and device, and the pixel limit for calibration
    images (local files are limited by pixels, not bytes)."""

    backend: str
    precision: str
    device: str
    max_pixels: int

    @classmethod
    def from_settings(cls, settings, backend: str | None = None, precision: str | None = None):
        """The settings' backend and precision unless given; `auto` exports fp32 OpenVINO."""
        backend = backend or settings.backend
        precision = precision or settings.precision
        return cls(
            backend="openvino" if backend == "auto" else backend,
            precision="fp32" if precision == "auto" else precision,
            device=settings.device,
            max_pixels=settings.max_pixels,
        )

    def at(self, backend: str, precision: str) -> "Target":
        return Target(backend, precision, self.device, self.max_pixels)


def export(
    package: Package,
    target: Target,
    *,
    calibration_dir: Path | None = None,
    min_agreement: float | None = None,
    force: bool = False,
    rebuild: bool = False,
) -> ExportResult:
    backend, precision = target.backend, target.precision
    _check_target(target)
    spec = package.spec()

    def make(tmp: Path) -> dict:
        check = None
        if precision == "fp32":
            _export_fp32(spec, package.weights_file, backend, tmp)
        else:
            bar = MIN_AGREEMENT[precision] if min_agreement is None else min_agreement
            check = _export_checked(package, spec, target, tmp, calibration_dir, bar, force)
        return artifacts.manifest_for(package, spec, backend, precision, check)

    return build_artifact(package, spec, backend, precision, make, rebuild=rebuild)


def build_artifact(
    package: Package, spec: ModelSpec, kind: str, precision: str,
    make: Callable[[Path], dict], *, rebuild: bool = False,
) -> ExportResult:  # fmt: skip
    """The package's artifact of this kind (a backend or a format) and precision: the one there
    when it is current, else made by `make(folder) -> manifest` in a temporary folder beside
    its place and swapped in whole (a half-written artifact is never found). Every export, the
    backends' and the other runtimes' (mobile.py), is made this way."""
    if not rebuild:
        found = artifacts.find(package, spec, kind, precision)
        if found is not None:
            return ExportResult(found, created=False)
    dest = artifacts.artifact_dir(package, kind, precision)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{kind}-{precision}-"))
    try:
        manifest = make(tmp)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2), "utf-8")
        replace_dir(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ExportResult(artifacts.Artifact(dest, manifest), created=True)


def _check_target(target: Target) -> None:
    backend, precision, device = target.backend, target.precision, target.device
    if backend not in ("openvino", "onnxruntime", "torch"):  # (coreml, tflite: mobile.py)
        raise ModelError(f"Cannot export to {backend!r}; choose openvino, onnxruntime or torch.")
    supported = SUPPORTED.get((backend, device), ())
    if precision not in supported:
        raise PrecisionUnavailable(
            f"The {backend} backend on {device} runs {', '.join(supported) or 'nothing'}, "
            f"not {precision}."
        )
    if backend == "torch" and precision == "fp32":
        raise ModelError("The torch backend runs fp32 from the weights; there is nothing to export.")
    if precision == "bf16" and device == "cpu" and not native_bf16():
        raise PrecisionUnavailable(
            "This CPU has no native bf16 (AVX512_BF16 or AMX); bf16 would be slower than fp32."
        )


# --- fp32 ---------------------------------------------------------------------------------------
def _export_fp32(spec: ModelSpec, weights_path: Path, backend: str, out: Path) -> None:
    from .models.network import build_model

    model = build_model(spec, weights_path)
    if backend == "onnxruntime":
        _export_onnx(model, spec, out / "model.onnx")
    else:
        _save_openvino(_convert_openvino(model, spec), out / "model.xml")


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


# --- precisions with a check --------------------------------------------------------------------
def _export_checked(
    package: Package, spec, target: Target, out: Path, calibration_dir, bar: float, force: bool
) -> dict:
    names, x = calibration_arrays(spec, calibration_dir, target.max_pixels)
    calibrate, held = split(len(x)) if target.precision == "int8" else ([], list(range(len(x))))
    reference, candidate = _pair(package, spec, target, out, x[calibrate])
    a = _top1(reference, x[held], spec.num_classes)
    b = _top1(candidate, x[held], spec.num_classes)
    agreement = float(np.mean(a == b))
    report = {
        "dir": str(calibration_dir),
        "images": len(x),
        "calibration_images": len(calibrate),
        "held_out_images": len(held),
        "top1_agreement": round(agreement, 4),
        "min_agreement": bar,
        "reference": "fp32",
        "forced": bool(force and agreement < bar),
    }
    if agreement < bar and not force:
        raise ExportRefused(
            f"{target.precision} {spec.name} agrees with fp32 on {agreement:.1%} of {len(held)} "
            f"held-out images, below the {bar:.0%} bar; not exported.",
            hint="calibrate on more images of the kind you classify, or pass --force to keep it",
        )
    return report


def _pair(package: Package, spec, target: Target, out: Path, calibration: np.ndarray):
    """(the fp32 reference backend, the candidate backend) exactly as they would serve; the
    candidate's files are written into `out`."""
    if target.backend == "torch":
        from .engine.torch_backend import TorchBackend

        weights = package.weights_file
        reference = TorchBackend(spec, weights, target.device, "fp32")
        return reference, TorchBackend(spec, weights, target.device, target.precision)

    from .engine.openvino_backend import OpenVINOBackend

    fp32 = export(package, target.at("openvino", "fp32")).artifact
    if target.precision == "bf16":
        for name in artifacts.FILES["openvino"]:  # the same IR, compiled with the bf16 hint
            _link_or_copy(fp32.path / name, out / name)
    else:
        _save_openvino(_quantize(fp32.model_file, calibration), out / "model.xml")
    reference = OpenVINOBackend(fp32.model_file, "fp32")
    return reference, OpenVINOBackend(out / "model.xml", target.precision)


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _quantize(fp32_xml: Path, calibration: np.ndarray):
    import nncf
    import openvino as ov

    model = ov.Core().read_model(str(fp32_xml))
    dataset = nncf.Dataset([calibration[i : i + 1] for i in range(len(calibration))])
    return nncf.quantize(model, dataset, subset_size=len(calibration))


def _top1(backend, x: np.ndarray, num_classes: int) -> np.ndarray:
    """Each row's top class, through the road's own backend call (the batch contract checked, a
    framework failure typed)."""
    return np.argmax(probabilities(backend, x, num_classes, chunk=8), axis=1)


def calibration_arrays(
    spec: ModelSpec, directory: Path | None, max_pixels: int
) -> tuple[list[str], np.ndarray]:
    """The images under directory, prepared exactly as the service prepares them (the road's
    own preparer, fast decode)."""
    if directory is None or not Path(directory).is_dir():
        raise ModelError(f"This export needs --calibration DIR with real images; got {directory}.")
    preparer = Preparer(spec.preprocess, max_pixels=max_pixels, exact_decode=False)
    names, arrays = [], []
    for path in images_in(directory):
        try:
            arrays.append(preparer.prepare(path).array)
        except InputError:
            continue  # a bad file in the calibration folder is skipped, not fatal
        names.append(str(path))
    if len(arrays) < MIN_CALIBRATION_IMAGES:
        raise ModelError(
            f"{directory} has {len(arrays)} readable images; the check needs at least "
            f"{MIN_CALIBRATION_IMAGES} (a few hundred of the kind you will classify is best)."
        )
    return names, np.stack(arrays)


def split(n: int) -> tuple[list[int], list[int]]:
    """Every fourth image held out for the agreement check, the rest calibrate."""
    held = [i for i in range(n) if i % 4 == 3]
    return [i for i in range(n) if i % 4 != 3], held
