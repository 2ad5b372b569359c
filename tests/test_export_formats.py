"""`localvision export --format`: Core ML carries the labels (every language) and preprocessing
in its own metadata and records its source in the package manifest; a format whose converter
cannot be installed is a typed error naming what to do, never a traceback; onnx / openvino are
the serving exports by another name.

Core ML predictions only run on macOS (coremltools has no runtime on Linux), so here the
converted model's spec is checked: image input, classifier outputs, labels, metadata."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from corpus import GOLDEN

from localvision.errors import ConverterMissing

MODEL = "efficientnet_lite0"
TRAINED = "flowers"


def cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "localvision", *args], capture_output=True, text=True,
        timeout=600, env={**os.environ, **env},
    )  # fmt: skip


LABELS = {
    "en": ["daisy", "rose", "tulip"],
    "zh": ["雏菊", "玫瑰", "郁金香"],
    "fr": ["marguerite", "rose", "tulipe"],
}


@pytest.fixture(scope="module")
def store(tmp_path_factory, lite0_package):
    """A private store: lite0 linked in (read only here) and a trained three-class model
    imported beside it (lite0's features, a seeded head), as `train` or the Teach page leave."""
    import torch

    from localvision.models import get_spec
    from localvision.models.network import build_network

    root = tmp_path_factory.mktemp("export_store")
    (root / MODEL).symlink_to(lite0_package, target_is_directory=True)
    work = tmp_path_factory.mktemp("trained")
    net = build_network(get_spec(MODEL), lite0_package / "weights.safetensors", 3, seed=0)
    with torch.no_grad():
        head = net.classifier
        seeded = torch.Generator().manual_seed(1)
        head.weight.copy_(torch.randn(head.weight.shape, generator=seeded))
    torch.save(net.state_dict(), work / "flowers.pth")
    (work / "labels.json").write_text(json.dumps(LABELS, ensure_ascii=False), "utf-8")
    done = cli("models", "import", TRAINED, "--arch", MODEL, "--weights", str(work / "flowers.pth"),
               "--labels", str(work / "labels.json"), env={"LOCALVISION_MODEL_DIR": str(root)})
    assert done.returncode == 0, done.stderr + done.stdout
    return root


@pytest.fixture(scope="module")
def env(store):
    return {"LOCALVISION_MODEL_DIR": str(store), "LOCALVISION_OFFLINE": "1"}


@pytest.fixture(scope="module")
def coreml(store, env):
    """One Core ML conversion for the module (of the trained model), through the CLI."""
    pytest.importorskip("coremltools", reason="the `mobile` extra is not installed")
    done = cli("export", TRAINED, "--format", "coreml", env=env)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "exported coreml fp32" in done.stdout
    return store / TRAINED / "artifacts" / "coreml-fp32"


def _spec(path):
    import coremltools as ct

    return ct.models.MLModel(str(path / "model.mlpackage"), skip_model_load=True).get_spec()


def _class_labels(spec) -> list[str]:
    """The labels of the program's classify op (what an app's prediction returns)."""
    fn = spec.mlProgram.functions["main"]
    ops = fn.block_specializations[fn.opset].operations
    (classify,) = [op for op in ops if op.type == "classify"]
    value = classify.inputs["classes"].arguments[0].value.immediateValue
    return [v.immediateValue.tensor.strings.values[0] for v in value.list.values]


def _package(store, monkeypatch, name=TRAINED):
    from localvision.config import Settings
    from localvision.models.resolve import resolve

    monkeypatch.setenv("LOCALVISION_MODEL_DIR", str(store))
    return resolve(Settings(model=name, offline=True)).package


def test_coreml_takes_an_image_and_names_its_classes(coreml):
    spec = _spec(coreml)
    assert spec.WhichOneof("Type") == "mlProgram"
    (image,) = spec.description.input
    assert image.name == "image"
    assert image.type.imageType.width == image.type.imageType.height == 224
    assert image.type.imageType.colorSpace == image.type.imageType.RGB
    outputs = {o.name for o in spec.description.output}
    assert outputs == {"classLabel", "classLabel_probs"}
    assert spec.description.predictedFeatureName == "classLabel"
    assert spec.description.predictedProbabilitiesName == "classLabel_probs"
    assert _class_labels(spec) == LABELS["en"]


def test_coreml_scales_pixels_to_0_1_in_front_of_the_network(coreml):
    """An image input is 0-255; the program's first step multiplies by 1/255, the scale the
    network below (test_the_converted_network_is_the_reference_pipeline...) expects."""
    fn = _spec(coreml).mlProgram.functions["main"]
    ops = fn.block_specializations[fn.opset].operations
    consts = {op.outputs[0].name: op for op in ops if op.type == "const"}
    (scale,) = [op for op in ops
                if op.type == "mul" and op.inputs["x"].arguments[0].name == "image"]  # fmt: skip
    y = consts[scale.inputs["y"].arguments[0].name].attributes["val"].immediateValue.tensor
    assert y.floats.values[0] == pytest.approx(1 / 255)


def test_the_converted_network_is_the_reference_pipeline_on_real_photos(lite0, photos):
    """The torch network handed to coremltools (normalisation and softmax inside, 0-1 pixels
    in) gives the road's torch probabilities on real photos: same top-5, within 1e-5. (Core ML
    itself runs only on macOS.)"""
    import torch

    from localvision.mobile import image_network

    arrays = np.stack([lite0.prepare(photos[name]) for name in GOLDEN])
    reference = lite0.probabilities(arrays)
    pp = lite0.spec.preprocess
    pixels = arrays * np.array(pp.std)[:, None, None] + np.array(pp.mean)[:, None, None]
    with torch.inference_mode():
        net = image_network(lite0.package, lite0.spec)
        got = net(torch.from_numpy(pixels.astype(np.float32))).numpy()
    top5 = np.argsort(-reference, axis=1)[:, :5]
    assert (np.argsort(-got, axis=1)[:, :5] == top5).all()
    assert np.abs(got - reference).max() < 1e-5


def test_coreml_metadata_has_every_language_and_the_preprocessing(coreml, store, monkeypatch):
    pkg = _package(store, monkeypatch)
    meta = dict(_spec(coreml).description.metadata.userDefined)
    for lang, labels in LABELS.items():
        assert json.loads(meta[f"labels.{lang}"]) == labels
    assert json.loads(meta["preprocess"]) == pkg.spec().preprocess.to_dict()
    whole = json.loads(meta["localvision"])
    assert whole["labels"] == LABELS and whole["model"] == TRAINED
    assert whole["preprocess"]["interpolation"] == "bicubic"
    assert whole["weights_sha256"] == pkg.weights_sha256


def test_coreml_manifest_records_format_precision_and_weights(coreml, store, env, monkeypatch):
    pkg = _package(store, monkeypatch)
    m = json.loads((coreml / "manifest.json").read_text("utf-8"))
    assert m["backend"] == "coreml" and m["precision"] == "fp32"
    assert m["files"] == ["model.mlpackage"]
    assert m["source_weights"]["sha256"] == pkg.weights_sha256
    assert m["labels"] == list(LABELS) and m["num_classes"] == 3
    assert m["input"] == {"image": "RGB", "width": 224, "height": 224, "range": [0, 255]}
    again = cli("export", TRAINED, "--format", "coreml", env=env)  # reused, not converted again
    assert again.returncode == 0 and "already exported coreml fp32" in again.stdout


def test_tflite_is_a_typed_error_that_says_why_and_what_to_do(env):
    done = cli("export", MODEL, "--format", "tflite", env=env)
    text = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in text
    assert "litert-torch" in text and "--format onnx" in text


@pytest.mark.unit
def test_a_missing_coreml_converter_names_the_extra(monkeypatch):
    from localvision.mobile import require_converter

    monkeypatch.setitem(sys.modules, "coremltools", None)  # what an absent package imports as
    with pytest.raises(ConverterMissing) as caught:
        require_converter("coreml")
    assert caught.value.code == "converter_missing"
    assert "localvision[mobile]" in caught.value.hint


@pytest.mark.unit
def test_mobile_formats_are_fp32_only():
    from localvision.errors import PrecisionUnavailable
    from localvision.mobile import export_mobile

    with pytest.raises(PrecisionUnavailable):
        export_mobile(None, "coreml", "int8")


def test_openvino_and_onnx_formats_are_the_serving_exports(env):
    done = cli("export", MODEL, "--format", "openvino", env=env)  # made with the package
    assert done.returncode == 0 and "already exported openvino fp32" in done.stdout, done.stderr
    clash = cli("export", MODEL, "--format", "onnx", "--backend", "openvino", env=env)
    text = clash.stdout + clash.stderr
    assert clash.returncode != 0 and "Traceback" not in text
    assert "onnxruntime" in text
