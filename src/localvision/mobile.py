"""Export a model for other runtimes (phones): Core ML (`.mlpackage`) and LiteRT (`.tflite`).

Each file carries what an app needs besides the network, in the format's own metadata: the
labels in every language the package has and the preprocessing (resize, crop, interpolation,
mean, std). The Core ML model takes an RGB image (0-255) and does the normalisation itself, so an
app hands it a camera frame resized and center-cropped to the crop size (Vision's
`.centerCrop`); it is a classifier whose class labels are the English ones, and it outputs
probabilities. The LiteRT model takes NHWC float32 pixels 0-255 and outputs probabilities too;
its metadata is the flatbuffer's own metadata table (litert.py). The package manifest records the
format, precision and the weights' SHA-256.

Core ML's converter is an optional extra (`pip install 'localvision[mobile]'`); a missing one is
a typed error naming the extra. LiteRT's cannot be installed beside this project, so it runs in
an environment of its own (litert.py), made by `export --setup-converter`. Written into
`<package>/artifacts/<format>-fp32/` like the serving exports, and reused while the weights and
preprocessing are the same.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from pathlib import Path

from . import artifacts
from .errors import ConverterMissing, ExportRefused, PrecisionUnavailable
from .models.network import probability_network
from .models.spec import ModelSpec
from .models.store import Package

FORMATS = ("coreml", "tflite")
# iOS 15 / macOS 12: the first with ML programs (fp32 compute, not the old fp16-only layers).
COREML_TARGET = "iOS15"
METADATA_KEY = "localvision"


def export_mobile(
    package: Package, fmt: str, precision: str = "fp32", *, rebuild: bool = False,
    converter_dir: Path | None = None,
):  # fmt: skip
    """The Core ML or LiteRT export of a package (made now, or the up-to-date one found)."""
    from .export import build_artifact

    if precision != "fp32":
        # Reduced precisions need an agreement check run by the target runtime: Core ML does not
        # run here, and LiteRT's int8 was not checked (docs/guide/export.md); fp32 only.
        raise PrecisionUnavailable(f"{fmt} exports are fp32 only, not {precision}.")
    convert = require_converter(fmt, converter_dir)  # a missing converter fails before any work
    spec = package.spec()

    def make(tmp: Path) -> dict:
        convert(package, spec, tmp / artifacts.FILES[fmt][0])
        manifest = artifacts.manifest_for(package, spec, fmt, precision)
        manifest["input"] = _input(spec, fmt)
        manifest["labels"] = list(spec.languages)
        return manifest

    return build_artifact(package, spec, fmt, precision, make, rebuild=rebuild)


def metadata(package: Package, spec: ModelSpec) -> dict:
    """What travels inside the file: labels per language, preprocessing, provenance."""
    return {
        "model": package.name,
        "architecture": spec.architecture,
        "num_classes": spec.num_classes,
        "labels": {lang: list(spec.labels_in(lang)) for lang in spec.languages},
        "preprocess": spec.preprocess.to_dict(),
        "weights_sha256": package.weights_sha256,
    }


def _input(spec: ModelSpec, fmt: str) -> dict:
    crop = spec.preprocess.crop
    if fmt == "coreml":
        return {"image": "RGB", "width": crop, "height": crop, "range": [0, 255]}
    return {"shape": [1, crop, crop, 3], "layout": "NHWC", "dtype": "float32", "range": [0, 255]}


def require_converter(fmt: str, converter_dir: Path | None = None):
    """The function converting to `fmt`, or a typed error naming what to install or set up."""
    if fmt == "coreml":
        # Its import warns about every macOS-only runtime piece and untested torch / sklearn
        # versions: noise for a person converting on Linux (the docs say what runs where).
        logging.getLogger("coremltools").setLevel(logging.ERROR)
        try:
            import coremltools  # noqa: F401
        except ImportError:
            raise ConverterMissing(
                "Core ML export needs coremltools, which is not installed.",
                hint="pip install 'localvision[mobile]'",
            ) from None
        return _to_coreml
    if fmt == "tflite":
        from .config import default_converter_dir
        from .litert import ConverterEnv

        env = ConverterEnv.under(converter_dir or default_converter_dir()).require()
        return lambda package, spec, path: _to_tflite(env, package, spec, path)
    raise ConverterMissing(f"No exporter for {fmt!r}; choose one of {', '.join(FORMATS)}.")


def _to_coreml(package: Package, spec: ModelSpec, path: Path) -> None:
    import coremltools as ct
    import torch

    crop = spec.preprocess.crop
    example = torch.rand(1, 3, crop, crop)
    # torch.export, not jit.trace: coremltools 9's TorchScript frontend fails on numpy 2.
    net = probability_network(spec, package.weights_file)
    program = torch.export.export(net, (example,)).run_decompositions({})
    with contextlib.redirect_stderr(io.StringIO()):  # its progress bars
        try:
            model = _convert_coreml(ct, program, spec, example)
        except Exception as exc:  # a converter bug or an op it lacks, for the person to report
            raise ExportRefused(
                f"coremltools could not convert {package.name}: {exc}",
                hint="report it with the model's architecture; --format onnx still works",
            ) from None
    meta = metadata(package, spec)
    model.short_description = spec.title
    model.user_defined_metadata[METADATA_KEY] = json.dumps(meta, ensure_ascii=False)
    for lang, labels in meta["labels"].items():  # readable one by one in Xcode's panel
        model.user_defined_metadata[f"labels.{lang}"] = json.dumps(labels, ensure_ascii=False)
    model.user_defined_metadata["preprocess"] = json.dumps(meta["preprocess"])
    model.save(str(path))


def _to_tflite(env, package: Package, spec: ModelSpec, path: Path) -> None:
    from .litert import to_tflite

    meta = {**metadata(package, spec), "input": _input(spec, "tflite")}
    entries = {METADATA_KEY: json.dumps(meta, ensure_ascii=False)}
    for lang, labels in meta["labels"].items():  # each language readable on its own
        entries[f"labels.{lang}"] = json.dumps(labels, ensure_ascii=False)
    entries["preprocess"] = json.dumps(meta["preprocess"])
    to_tflite(env, package, spec, path, entries)


def _convert_coreml(ct, program, spec: ModelSpec, example):
    return ct.convert(
        program,
        inputs=[ct.ImageType(name="image", shape=example.shape, scale=1 / 255.0,
                             color_layout=ct.colorlayout.RGB)],
        classifier_config=ct.ClassifierConfig(list(spec.labels)),
        convert_to="mlprogram",
        compute_precision=ct.precision.FLOAT32,
        minimum_deployment_target=getattr(ct.target, COREML_TARGET),
    )  # fmt: skip
