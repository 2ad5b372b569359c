"""`localvision export --format`: Core ML and LiteRT carry the labels (every language) and
preprocessing in their own metadata and record their source in the package manifest; a converter
that is missing or not set up is a typed error naming what to do, never a traceback; onnx /
openvino are the serving exports by another name.

Core ML predictions only run on macOS (coremltools has no runtime on Linux), so here the
converted model's spec is checked: image input, classifier outputs, labels, metadata. The
`.tflite` is run here with the LiteRT interpreter on real photos.

LiteRT converts in an environment of its own (litert.py), made under the user's cache by the
first run of `export --setup-converter` on a machine and reused by later runs while its recorded
versions match (about 7 GB, a minute or two to make)."""

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

    from localvision.models.network import probability_network

    arrays = np.stack([lite0.prepare(photos[name]) for name in GOLDEN])
    reference = lite0.probabilities(arrays)
    pp = lite0.spec.preprocess
    pixels = arrays * np.array(pp.std)[:, None, None] + np.array(pp.mean)[:, None, None]
    with torch.inference_mode():
        net = probability_network(lite0.spec, lite0.package.weights_file)
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


# --- LiteRT ---------------------------------------------------------------------------------------
IMAGENET = "lite0_copy"  # lite0's weights as a store model of its own: its export is this module's


@pytest.fixture(scope="module")
def tflite(store, env, lite0_package):
    """One LiteRT conversion for the module (lite0's network and ImageNet labels), through the
    CLI, making the converter environment first where this machine has none yet."""
    pytest.importorskip("ai_edge_litert", reason="the `mobile` extra is not installed")
    done = cli("models", "import", IMAGENET, "--arch", MODEL,
               "--weights", str(lite0_package / "weights.safetensors"), env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    done = cli("export", IMAGENET, "--format", "tflite", "--setup-converter", env=env)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "exported tflite fp32" in done.stdout
    return store / IMAGENET / "artifacts" / "tflite-fp32"


def test_tflite_gives_the_reference_top5_on_real_photos(tflite, lite0, photos):
    """The `.tflite` run by LiteRT's interpreter on NHWC 0-255 pixels gives the road's torch
    probabilities (the reference pipeline) on real photos: same top-5, within 1e-3."""
    from ai_edge_litert.interpreter import Interpreter

    arrays = np.stack([lite0.prepare(photos[name]) for name in GOLDEN])
    reference = lite0.probabilities(arrays)
    pp = lite0.spec.preprocess
    pixels = (arrays * np.array(pp.std)[:, None, None] + np.array(pp.mean)[:, None, None]) * 255
    runner = Interpreter(model_path=str(tflite / "model.tflite"))
    runner.allocate_tensors()
    (given,), (out,) = runner.get_input_details(), runner.get_output_details()
    assert list(given["shape"]) == [1, 224, 224, 3] and given["dtype"] == np.float32
    got = []
    for image in pixels.transpose(0, 2, 3, 1).astype(np.float32):
        runner.set_tensor(given["index"], image[None])
        runner.invoke()
        got.append(runner.get_tensor(out["index"])[0])
    got = np.stack(got)
    assert (np.argsort(-got, axis=1)[:, :5] == np.argsort(-reference, axis=1)[:, :5]).all()
    assert np.abs(got - reference).max() < 1e-3


def test_tflite_metadata_and_manifest_carry_labels_preprocessing_and_source(
    tflite, store, env, monkeypatch
):
    from localvision.litert import read_metadata

    pkg = _package(store, monkeypatch, IMAGENET)
    spec = pkg.spec()
    meta = read_metadata(tflite / "model.tflite")
    assert set(spec.languages) >= {"en", "zh"}
    for lang in spec.languages:
        assert json.loads(meta[f"labels.{lang}"]) == list(spec.labels_in(lang))
    assert json.loads(meta["preprocess"]) == spec.preprocess.to_dict()
    whole = json.loads(meta["localvision"])
    assert whole["weights_sha256"] == pkg.weights_sha256 and whole["model"] == IMAGENET
    assert whole["input"] == {"shape": [1, 224, 224, 3], "layout": "NHWC", "dtype": "float32",
                              "range": [0, 255]}  # fmt: skip
    m = json.loads((tflite / "manifest.json").read_text("utf-8"))
    assert m["backend"] == "tflite" and m["precision"] == "fp32"
    assert m["files"] == ["model.tflite"] and m["input"] == whole["input"]
    assert m["source_weights"]["sha256"] == pkg.weights_sha256
    again = cli("export", IMAGENET, "--format", "tflite", env=env)  # reused, not converted again
    assert again.returncode == 0 and "already exported tflite fp32" in again.stdout


def test_tflite_without_its_converter_environment_names_the_setup_command(env, tmp_path):
    done = cli("export", MODEL, "--format", "tflite",
               env={**env, "LOCALVISION_CONVERTER_DIR": str(tmp_path)})  # fmt: skip
    text = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in text
    assert "--setup-converter" in text and "litert-torch" in text
    assert not (tmp_path / "litert").exists()  # nothing made without being asked


@pytest.mark.unit
def test_a_converter_environment_made_for_other_versions_is_not_set_up(tmp_path):
    from localvision.errors import ConverterNotSetUp
    from localvision.litert import RECORD, ConverterEnv

    env = ConverterEnv.under(tmp_path)
    env.python.parent.mkdir(parents=True)
    env.python.touch()
    record = env.wanted()
    (env.path / RECORD).write_text(json.dumps(record), "utf-8")
    assert env.ready()
    record["requirements"] = ["torch==1.0", *record["requirements"][1:]]
    (env.path / RECORD).write_text(json.dumps(record), "utf-8")
    with pytest.raises(ConverterNotSetUp) as caught:
        env.require()
    assert caught.value.code == "converter_not_set_up" and "--setup-converter" in caught.value.hint


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
