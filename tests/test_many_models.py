"""One service, many models, labels in two languages, "not sure" and groups: a real server on
loopback serving efficientnet_lite0 (real weights) and a ResNet-18 with seeded random weights
imported into the store, plus the same answers through the CLI."""

from __future__ import annotations

import csv
import io
import json
import time

import httpx
import pytest
from servers import LiveServer, wait_models_ready
from typer.testing import CliRunner

from localvision import load_classifier


@pytest.fixture(scope="module")
def server(r18_store, tmp_path_factory):
    from localvision.config import Settings
    from localvision.server.app import create_app

    db = tmp_path_factory.mktemp("many") / "h.db"
    settings = Settings(
        models="efficientnet_lite0,r18-random", offline=True, db=f"sqlite:///{db}",
        precision="fp32", rate_limit="off",
    )  # fmt: skip
    with LiveServer(create_app(settings)) as live:
        wait_models_ready(live.url, 180)
        yield live.url


def classify(url, photo, name="photo.jpg", **params):
    headers = params.pop("headers", {})
    return httpx.post(url + "/api/v1/classify", files={"file": (name, photo)}, params=params,
                      headers=headers, timeout=60)  # fmt: skip


def test_the_models_endpoint_lists_every_served_model(server):
    body = httpx.get(server + "/api/v1/models").json()
    assert body["default"] == "efficientnet_lite0"
    lite, r18 = body["models"]
    assert (lite["name"], r18["name"]) == ("efficientnet_lite0", "r18-random")
    for m in (lite, r18):
        assert m["state"] == "ready" and m["precision"] == "fp32" and m["num_labels"] == 1000
        assert m["languages"] == ["en", "zh"] and m["latency_ms"] > 0
        assert m["memory_mb"] is None or m["memory_mb"] > 0
    assert lite["metrics"]["imagenet_top1"] > 70 and r18["metrics"] is None
    assert "resnet18" in body["available"] and "r18-random" not in body["available"]


def test_each_model_answers_for_itself(server, photos, resnet18_weights):
    lite = classify(server, photos["coffee"], model="efficientnet_lite0").json()
    assert lite["model"] == "efficientnet_lite0"
    assert lite["results"][0]["predictions"][0]["label"] == "espresso"
    default = classify(server, photos["coffee"]).json()
    assert default["model"] == "efficientnet_lite0"
    random = classify(server, photos["coffee"], model="r18-random").json()
    ref = load_classifier("resnet18", resnet18_weights, backend="torch", precision="fp32")
    expected = ref.predict(photos["coffee"])[0].predictions[0].index
    assert random["model"] == "r18-random"
    assert random["results"][0]["predictions"][0]["index"] == expected


def test_every_served_model_speaks_kserve_v2_and_torchserve(server, photos):
    """The protocol routes name the model in the path; each answers as on /api/v1/classify."""
    import numpy as np
    import tritonclient.http as triton

    client = triton.InferenceServerClient(server.removeprefix("http://"))
    image = triton.InferInput("IMAGE", [1], "BYTES")
    image.set_data_from_numpy(np.array([photos["coffee"]], dtype=np.object_))
    served = [m["modelName"] for m in httpx.get(server + "/models").json()["models"]]
    assert served == ["efficientnet_lite0", "r18-random"]
    for name in served:
        assert client.is_model_ready(name)
        assert client.get_model_metadata(name)["outputs"][0]["shape"] == [-1, 1000]
        probs = client.infer(name, [image]).as_numpy("PROBABILITIES")[0]
        native = classify(server, photos["coffee"], model=name).json()["results"][0]
        assert int(probs.argmax()) == native["predictions"][0]["index"]
        ts = httpx.put(f"{server}/predictions/{name}", content=photos["coffee"]).json()
        assert next(iter(ts)) == native["predictions"][0]["label"]


def test_an_unknown_model_is_404_with_a_stable_code(server, photos):
    r = classify(server, photos["coffee"], model="vgg99")
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_model"
    assert "efficientnet_lite0" in r.json()["error"]["message"]


def test_labels_in_chinese_and_english_everywhere(server, photos):
    zh = classify(server, photos["coffee"], "zh.jpg", lang="zh").json()
    top = zh["results"][0]["predictions"][0]
    assert zh["lang"] == "zh" and (top["label"], top["label_en"]) == ("意式浓缩咖啡", "espresso")
    browser = classify(server, photos["coffee"], headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert browser.json()["results"][0]["predictions"][0]["label"] == "意式浓缩咖啡"
    english = classify(server, photos["coffee"], headers={"Accept-Language": "en-US,zh;q=0.5"})
    assert english.json()["results"][0]["predictions"][0]["label"] == "espresso"
    table = csv.DictReader(io.StringIO(classify(server, photos["coffee"], lang="zh",
                                                format="csv").text))  # fmt: skip
    (row,) = list(table)
    assert (row["label_1"], row["label_en_1"]) == ("意式浓缩咖啡", "espresso")
    history = httpx.get(server + "/api/v1/history", params={"filename": "zh.jpg"}).json()
    stored = history["items"][0]["predictions"][0]
    assert (stored["label"], stored["label_en"]) == ("意式浓缩咖啡", "espresso")
    exported = httpx.get(server + "/api/v1/history.csv", params={"filename": "zh.jpg"}).text
    assert "意式浓缩咖啡" in exported and "label_en_1" in exported
    found = httpx.get(server + "/api/v1/history", params={"label": "浓缩"}).json()
    assert any(i["filename"] == "zh.jpg" for i in found["items"])
    labels = httpx.get(server + "/api/v1/models/r18-random/labels", params={"lang": "zh"}).json()
    assert len(labels["labels"]) == 1000 and labels["labels"][1] == "金鱼"


def test_an_unsure_answer_says_so_and_keeps_its_guesses(server, photos):
    """The astronaut photo has no class of its own: its best guess is weak (under 0.2)."""
    from corpus import real_photo_bytes

    astronaut = classify(server, real_photo_bytes("astronaut"), model="efficientnet_lite0")
    row = astronaut.json()["results"][0]
    assert row["uncertain"] is True and len(row["predictions"]) == 3
    assert row["predictions"][0]["probability"] < 0.2
    sure = classify(server, photos["coffee"]).json()["results"][0]
    assert sure["uncertain"] is False
    strict = classify(server, photos["coffee"], min_confidence=0.99).json()["results"][0]
    assert strict["uncertain"] is True


def test_groups_sum_the_fine_grained_classes(server, photos):
    """Chelsea is a near-tie of cat breeds; as a group she is surely a cat."""
    row = classify(server, photos["chelsea"], group="true", lang="zh").json()["results"][0]
    top_group = row["groups"][0]
    assert (top_group["id"], top_group["label"], top_group["label_en"]) == ("cat", "猫", "cat")
    assert top_group["probability"] > row["predictions"][0]["probability"] + 0.2
    assert "groups" not in classify(server, photos["chelsea"]).json()["results"][0]


def test_a_model_imported_while_serving_is_loaded_and_unloaded_without_a_restart(
    server, r18_store, tmp_path, resnet18_weights, photos
):
    import torch

    from localvision.config import Settings
    from localvision.models.importing import import_model

    state = torch.load(resnet18_weights, weights_only=True)
    torch.manual_seed(7)
    state["fc.weight"] = torch.randn(1000, 512)
    weights = tmp_path / "late.pth"
    torch.save(state, weights)
    import_model(Settings(model_dir=r18_store), "late-model", "resnet18", weights, None, None, False)
    before = classify(server, photos["coffee"], model="late-model")
    assert before.status_code == 404
    r = httpx.post(server + "/api/v1/models/late-model/load")
    assert r.status_code == 202 and r.json()["state"] == "loading"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        models = {m["name"]: m for m in httpx.get(server + "/api/v1/models").json()["models"]}
        if models["late-model"]["state"] != "loading":
            break
        time.sleep(0.2)
    assert models["late-model"]["state"] == "ready", models["late-model"]
    answered = classify(server, photos["coffee"], model="late-model")
    assert answered.status_code == 200 and answered.json()["model"] == "late-model"
    assert httpx.post(server + "/api/v1/models/late-model/unload").json()["state"] == "unloaded"
    gone = classify(server, photos["coffee"], model="late-model")
    assert gone.status_code == 503 and gone.json()["error"]["code"] == "model_not_ready"
    refused = httpx.post(server + "/api/v1/models/efficientnet_lite0/unload")
    assert refused.status_code == 422  # the default model stays
    missing = httpx.post(server + "/api/v1/models/nothing-here/load")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_model"


def test_the_cli_speaks_both_languages_with_groups_and_not_sure(photo_dir):
    from localvision.cli import app

    runner = CliRunner()
    args = ["classify", str(photo_dir / "coffee.jpg"), str(photo_dir / "chelsea.jpg"), "-m",
            "efficientnet_lite0", "--precision", "fp32"]  # fmt: skip
    table = runner.invoke(app, [*args, "--lang", "zh", "--groups"])
    assert table.exit_code == 0, table.output
    assert "意式浓缩咖啡 (espresso)" in table.stdout and "猫 (cat) (group)" in table.stdout
    rows = json.loads(runner.invoke(app, [*args, "--lang", "zh", "-f", "json"]).stdout)
    assert rows[0]["predictions"][0] == {**rows[0]["predictions"][0], "label": "意式浓缩咖啡",
                                         "label_en": "espresso"}  # fmt: skip
    assert rows[0]["uncertain"] is False
    text = runner.invoke(app, [*args, "--lang", "zh", "-f", "csv", "--min-confidence", "0.99"])
    parsed = list(csv.DictReader(io.StringIO(text.stdout)))
    assert parsed[0]["label_en_1"] == "espresso" and parsed[0]["uncertain"] == "true"
    unsure = runner.invoke(app, [*args, "--min-confidence", "0.99"])
    assert unsure.stdout.count("not sure") == 2
