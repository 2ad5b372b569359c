"""Backends behind one interface: each agrees with the eager torch fp32 reference on real photos,
exported artifacts are cached with a manifest and reused, the serving path runs without torch,
and INT8 is guarded by its agreement with fp32."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import GOLDEN
from corpus import photo_variants
from localvision import artifacts, load_classifier
from localvision.engine.select import choose_backend
from localvision.errors import BackendUnavailable, ModelError
from localvision.export import ExportRefused, export
from localvision.models import get_spec

ALL = frozenset({"torch", "openvino", "onnxruntime"})


@pytest.mark.parametrize(
    "requested,device,installed,expected",
    [
        ("auto", "cpu", ALL, "openvino"),
        ("auto", "cpu", frozenset({"torch", "onnxruntime"}), "onnxruntime"),
        ("auto", "cpu", frozenset({"torch"}), "torch"),
        ("auto", "cuda", ALL, "torch"),
        ("onnxruntime", "cuda", ALL, "onnxruntime"),
        ("torch", "cpu", ALL, "torch"),
    ],
)
def test_choose_backend(requested, device, installed, expected):
    assert choose_backend(requested, device, installed) == expected


@pytest.mark.parametrize(
    "requested,device,installed",
    [
        ("openvino", "cpu", frozenset({"torch"})),
        ("openvino", "cuda", ALL),
        ("tensorrt", "cpu", ALL),
        ("auto", "cpu", frozenset()),
    ],
)
def test_choose_backend_refuses(requested, device, installed):
    with pytest.raises(BackendUnavailable):
        choose_backend(requested, device, installed)


@pytest.fixture(scope="module", params=["openvino", "onnxruntime"])
def exported(request):
    return load_classifier(
        "efficientnet_lite0", offline=True, exact_decode=True, backend=request.param
    )


def test_backend_matches_torch_reference_on_real_photos(exported, lite0, photos):
    names = list(GOLDEN)
    ours = exported.predict([photos[n] for n in names], top_k=1)
    assert [r.predictions[0].label for r in ours] == list(GOLDEN.values())
    x = np.stack([lite0.prepare(photos[n]) for n in names])
    np.testing.assert_allclose(exported.probabilities(x), lite0.probabilities(x), atol=2e-4)
    assert exported.backend.precision == "fp32"


@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
def test_resnet18_plumbing_on_every_backend(backend, resnet18_weights, photos):
    ref = load_classifier("resnet18", resnet18_weights, backend="torch", exact_decode=True)
    clf = load_classifier("resnet18", resnet18_weights, backend=backend, exact_decode=True)
    data = [photos[n] for n in GOLDEN]
    assert [r.predictions[0].index for r in clf.predict(data, top_k=1)] == [
        r.predictions[0].index for r in ref.predict(data, top_k=1)
    ]


def test_artifact_manifest_describes_its_source(exported):
    art = artifacts.find(
        exported.spec,
        __import__("localvision.weights", fromlist=["sha256_file"]).sha256_file(
            exported.weights_path
        ),
        exported.backend.name,
        "fp32",
    )
    m = art.manifest
    assert m["model"] == "efficientnet_lite0" and m["backend"] == exported.backend.name
    assert m["source_weights"]["sha256"].startswith("57934424")
    assert m["labels"] == list(exported.labels) and len(m["labels"]) == 1000
    assert m["preprocess"]["interpolation"] == "bicubic"
    assert m["precision"] == "fp32" and m["calibration"] is None


def test_export_is_reused_not_repeated(exported):
    spec = exported.spec
    result = export(spec, exported.weights_path, exported.backend.name)
    assert result.created is False
    stamp = (result.artifact.path / "manifest.json").stat().st_mtime_ns
    load_classifier("efficientnet_lite0", offline=True, backend=exported.backend.name)
    assert (result.artifact.path / "manifest.json").stat().st_mtime_ns == stamp


def test_stale_artifact_is_ignored(exported, tmp_path):
    from localvision.weights import sha256_file

    sha = sha256_file(exported.weights_path)
    art = artifacts.find(exported.spec, sha, exported.backend.name, "fp32")
    manifest = json.loads((art.path / "manifest.json").read_text())
    manifest["labels"][0] = "not a tench"
    (art.path / "manifest.json").write_text(json.dumps(manifest))
    assert artifacts.find(exported.spec, sha, exported.backend.name, "fp32") is None
    assert export(exported.spec, exported.weights_path, exported.backend.name).created is True


def test_serving_an_artifact_does_not_import_torch(exported, photos, tmp_path):
    """A fresh process: load the cached OpenVINO artifact, classify, and check sys.modules."""
    (tmp_path / "coffee.jpg").write_bytes(photos["coffee"])
    code = (
        "import sys\n"
        "from localvision import load_classifier\n"
        "c = load_classifier('efficientnet_lite0', offline=True, backend='openvino')\n"
        f"r = c.predict([{str(tmp_path / 'coffee.jpg')!r}])[0]\n"
        "print(r.predictions[0].label, 'torch' in sys.modules, 'torchvision' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["espresso", "False", "False"]


@pytest.fixture(scope="module")
def calibration_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("calibration")
    for name, data in photo_variants(32, seed=3):
        (d / name).write_bytes(data)
    (d / "notes.txt").write_text("not an image; skipped")
    return d


def test_int8_export_below_the_agreement_bar_is_refused(calibration_dir):
    """EfficientNet-Lite0's depthwise convolutions quantize poorly: the guard must catch it."""
    spec = get_spec("efficientnet_lite0")
    path = spec.weights.locate_in_package()
    with pytest.raises(ExportRefused, match="held-out images"):
        export(spec, path, "openvino", int8=True, calibration_dir=calibration_dir,
               min_agreement=1.01)  # fmt: skip
    assert not any(artifacts.cache_root().glob("efficientnet_lite0-*/openvino-int8"))


def test_int8_export_with_force_reports_its_agreement(calibration_dir, resnet18_weights, photos):
    spec = get_spec("resnet18")
    result = export(spec, resnet18_weights, "openvino", int8=True,
                    calibration_dir=calibration_dir, min_agreement=1.01, force=True)  # fmt: skip
    report = result.artifact.manifest["calibration"]
    assert report["images"] == 32 and report["held_out_images"] == 8
    assert report["forced"] is True and 0 <= report["top1_agreement"] <= 1
    # precision auto now picks the verified int8 artifact for these weights
    clf = load_classifier("resnet18", resnet18_weights)
    assert (clf.backend.name, clf.backend.precision) == ("openvino", "int8")
    fp32 = load_classifier("resnet18", resnet18_weights, precision="fp32")
    assert fp32.backend.precision == "fp32"
    # the reported agreement is what the two really do on the held-out images
    from localvision.export import calibration_arrays, split

    _, x = calibration_arrays(spec, calibration_dir)
    held = split(len(x))[1]
    a = fp32.probabilities(x[held]).argmax(1)
    b = clf.probabilities(x[held]).argmax(1)
    assert float(np.mean(a == b)) == pytest.approx(report["top1_agreement"], abs=1e-3)


def test_int8_without_an_artifact_is_refused_not_faked(tmp_path):
    with pytest.raises(ModelError, match="No verified INT8 artifact") as refused:
        load_classifier("efficientnet_lite0", offline=True, precision="int8")
    assert "localvision export efficientnet_lite0 --backend openvino --int8" in refused.value.hint


def test_int8_export_needs_real_calibration_images(tmp_path):
    spec = get_spec("efficientnet_lite0")
    with pytest.raises(ModelError, match="at least 8"):
        export(spec, spec.weights.locate_in_package(), "openvino", int8=True,
               calibration_dir=tmp_path)  # fmt: skip
