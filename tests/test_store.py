"""The model store (models/store.py): registry models packaged on first use, models imported from
a state dict and removed, label files of every shape, and the one loading path (name -> package
-> backend). Real files, the real bundled weights, seeded ResNet-18 weights."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from localvision import load_classifier
from localvision.cli import app
from localvision.config import Settings
from localvision.errors import LabelsInvalid, UnknownModel
from localvision.models.labels import imagenet_labels, read_label_file
from localvision.models.store import ModelStore


@pytest.fixture
def store_dir(tmp_path, monkeypatch):
    """A fresh, private model store for one test."""
    monkeypatch.setenv("LOCALVISION_MODEL_DIR", str(tmp_path / "models"))
    return tmp_path / "models"


def test_a_registry_model_is_packaged_on_first_use(store_dir, photos):
    clf = load_classifier("efficientnet_lite0", offline=True, precision="fp32")
    package = ModelStore(store_dir).get("efficientnet_lite0")
    assert package is not None and package.weights_file.name == "weights.safetensors"
    m = package.manifest
    assert m["architecture"] == "efficientnet_lite0" and m["num_classes"] == 1000
    assert set(m["labels"]) == {"en", "zh"} and m["labels"]["zh"][967] == "意式浓缩咖啡"
    assert m["source"]["kind"] == "registry" and m["source"]["sha256"].startswith("57934424")
    assert m["weights"]["sha256"] == __import__("localvision.weights", fromlist=["x"]).sha256_file(
        package.weights_file
    )
    assert m["metrics"]["imagenet_top1"] > 70 and m["groups"] == "imagenet"
    assert (package.artifacts / "openvino-fp32" / "model.xml").is_file()  # exports beside it
    assert clf.predict(photos["coffee"])[0].predictions[0].label == "espresso"
    # the next start reads the package as it is: nothing is packaged or exported again
    stamp = (package.path / "manifest.json").stat().st_mtime_ns
    load_classifier("efficientnet_lite0", offline=True, precision="fp32")
    assert (package.path / "manifest.json").stat().st_mtime_ns == stamp


def test_import_serve_and_remove_a_model_from_a_state_dict(store_dir, resnet18_weights, photos):
    runner = CliRunner()
    result = runner.invoke(
        app, ["models", "import", "my-resnet", "--arch", "resnet18", "--weights",
              str(resnet18_weights)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    package = ModelStore(store_dir).get("my-resnet")
    assert package.manifest["source"]["kind"] == "import"
    listed = runner.invoke(app, ["models"])
    assert listed.exit_code == 0 and "my-resnet" in listed.stdout and "ready" in listed.stdout
    # the imported model answers just like resnet18 with the same weights
    mine = load_classifier("my-resnet", backend="torch", exact_decode=True)
    ref = load_classifier("resnet18", resnet18_weights, backend="torch", exact_decode=True)
    data = [photos[n] for n in ("coffee", "chelsea")]
    assert [r.predictions[0].index for r in mine.predict(data)] == [
        r.predictions[0].index for r in ref.predict(data)
    ]
    again = runner.invoke(
        app, ["models", "import", "my-resnet", "--arch", "resnet18", "--weights",
              str(resnet18_weights)],
    )  # fmt: skip
    assert again.exit_code == 2 and "already" in again.output
    removed = runner.invoke(app, ["models", "remove", "my-resnet"])
    assert removed.exit_code == 0 and not package.path.exists()
    with pytest.raises(UnknownModel, match="my-resnet"):
        load_classifier("my-resnet")


def test_a_model_with_its_own_classes(store_dir, tmp_path, resnet18_weights, photos):
    """Three classes: a state dict with a 3-way head, and a label file in two languages."""
    state = torch.load(resnet18_weights, weights_only=True)
    torch.manual_seed(1)
    state["fc.weight"], state["fc.bias"] = torch.randn(3, 512), torch.zeros(3)
    weights = tmp_path / "three.pth"
    torch.save(state, weights)
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"en": ["cup", "cat", "rocket"], "zh": ["杯子", "猫", "火箭"]}))
    result = CliRunner().invoke(
        app, ["models", "import", "three", "--arch", "resnet18", "--weights", str(weights),
              "--labels", str(labels)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    clf = load_classifier("three", backend="torch")
    (r,) = clf.predict(photos["coffee"], top_k=5, lang="zh")
    assert len(r.predictions) == 3 and {p.label for p in r.predictions} == {"杯子", "猫", "火箭"}
    assert {p.label_en for p in r.predictions} == {"cup", "cat", "rocket"}
    # a run's --labels belong to the first model named: a service's others keep their own
    from localvision.models.resolve import resolve

    plain = tmp_path / "plain.txt"
    plain.write_text("mug\nkitty\nmissile\n")
    settings = Settings(models="three,efficientnet_lite0", labels=plain, offline=True)
    assert resolve(settings, "three").spec.labels == ("mug", "kitty", "missile")
    assert resolve(settings, "efficientnet_lite0").spec.labels[967] == "espresso"
    wrong = tmp_path / "two.txt"
    wrong.write_text("cup\ncat\n")
    refused = CliRunner().invoke(
        app, ["models", "import", "two", "--arch", "resnet18", "--weights", str(weights),
              "--labels", str(wrong)],
    )  # fmt: skip
    assert refused.exit_code == 2 and "2 labels" in refused.output and "3 classes" in refused.output


def test_labels_for_a_run_are_checked_against_the_model(store_dir, tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("one\ntwo\n")
    with pytest.raises(LabelsInvalid, match="2 labels .* the model has 1000 classes"):
        load_classifier("efficientnet_lite0", offline=True, labels=short)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("cat\ndog\n\n", {"en": ("cat", "dog")}),
        ('{"0": "cat", "1": "dog"}', {"en": ("cat", "dog")}),
        ('{"en": ["cat", "dog"], "zh": ["猫", "狗"]}', {"en": ("cat", "dog"), "zh": ("猫", "狗")}),
        ('{"zh": ["猫", "狗"]}', {"en": ("猫", "狗"), "zh": ("猫", "狗")}),
        ('["cat", "dog"]', {"en": ("cat", "dog")}),
    ],
)
def test_every_label_file_shape(tmp_path, text, expected):
    path = tmp_path / "labels"
    path.write_text(text, "utf-8")
    assert read_label_file(path, 2) == expected


@pytest.mark.parametrize(
    "text,why",
    [
        ('{"0": "cat", "2": "dog"}', "indices must run from 0"),
        ('{"en": ["cat"], "zh": ["猫", "狗"]}', "1 labels"),
        ("cat\n  \n", "1 labels"),
        ("{not json", "not valid JSON"),
        ('{"en": ["cat", " "]}', "empty label"),
    ],
)
def test_bad_label_files_are_refused_saying_why(tmp_path, text, why):
    path = tmp_path / "labels"
    path.write_text(text, "utf-8")
    with pytest.raises(LabelsInvalid, match=why):
        read_label_file(path, 2)


def test_chinese_imagenet_labels_are_complete_and_distinct():
    sets = imagenet_labels()
    en, zh = sets["en"], sets["zh"]
    assert len(zh) == len(en) == 1000 and all(label.strip() for label in zh)
    seen: dict[str, str] = {}
    for e, z in zip(en, zh):
        assert seen.setdefault(z, e) == e, f"{z} names both {seen[z]} and {e}"
    known = {0: "丁鲷", 1: "金鱼", 2: "大白鲨", 207: "金毛寻回犬", 282: "虎斑猫", 417: "气球",
             504: "咖啡杯", 967: "意式浓缩咖啡", 970: "高山", 979: "山谷", 454: "书店",
             400: "学位袍", 872: "三脚架", 657: "导弹"}  # fmt: skip
    assert {i: zh[i] for i in known} == known


def test_an_unknown_model_names_the_known_ones(store_dir):
    with pytest.raises(UnknownModel, match="resnet18, efficientnet_lite0, mobilenet_v3_large"):
        load_classifier("vgg99")


def test_settings_default_store_is_under_the_user_data_dir(monkeypatch):
    monkeypatch.delenv("LOCALVISION_MODEL_DIR", raising=False)
    assert Settings().model_dir.parts[-2:] == ("localvision", "models")
