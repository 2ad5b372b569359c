"""names.py: the one check for the names people give. A model name from a URL never reaches
outside the store; a class, project or model name the filesystem would refuse half-way is
refused whole, with a typed error, before anything is made."""

from __future__ import annotations

import http.client
import json
import shutil

import httpx
import pytest
from servers import LiveServer

from localvision.errors import InvalidClassName, InvalidModelName
from localvision.models.store import ModelStore
from localvision.names import NAME_BYTES, check_folder_name, check_model_name, folder_name
from localvision.training.examples import check_class_name

EMOJI_100 = "🐱" * 100  # 400 bytes of UTF-8: the review's correction label
CHINESE_86 = "猫" * 86  # 258 bytes
CHINESE_85 = "猫" * 85  # 255 bytes: the most a folder name may have


@pytest.mark.parametrize("name", ["resnet18", "my-model", "shop.v2", "a_b-c.d", "x" * 200])
@pytest.mark.unit
def test_model_names_that_are_taken(name):
    assert check_model_name(name) == name


@pytest.mark.parametrize("name", ["", ".", "..", "../x", "a/b", "a\\b", ".hidden", "-x", "Cats",
                                  "猫", "x" * 201, "a b", "a\x00b"])  # fmt: skip
@pytest.mark.unit
def test_model_names_that_are_refused(name):
    with pytest.raises(InvalidModelName):
        check_model_name(name)


@pytest.mark.parametrize("name", ["..", "../outside", "a/b", "/etc", ""])
@pytest.mark.unit
def test_the_store_checks_every_name_it_is_given(tmp_path, name):
    store = ModelStore(tmp_path)
    with pytest.raises(InvalidModelName):
        store.path(name)
    with pytest.raises(InvalidModelName):
        store.get(name)


@pytest.mark.parametrize("name", [EMOJI_100, CHINESE_86, "a" * 256])
@pytest.mark.unit
def test_a_name_longer_than_a_folder_name_may_be_is_refused_by_its_bytes(name):
    with pytest.raises(InvalidClassName) as caught:
        check_folder_name(name)
    assert f"at most {NAME_BYTES}" in caught.value.message
    with pytest.raises(InvalidClassName):
        check_class_name(name)


@pytest.mark.parametrize("name", [CHINESE_85, "a" * 100, "Golden Retriever", "=HYPERLINK(1)"])
@pytest.mark.unit
def test_names_that_fit_are_kept_as_written(name):
    assert check_class_name(name) == name


@pytest.mark.parametrize("name", ["a/b", "..", ".x", "a\\b", "tab\there", "", "   "])
@pytest.mark.unit
def test_a_class_name_that_is_a_path_or_hidden_is_refused(name):
    with pytest.raises(InvalidClassName):
        check_class_name(name)


@pytest.mark.unit
def test_a_made_folder_name_always_fits():
    assert len(folder_name(EMOJI_100).encode()) <= NAME_BYTES
    assert folder_name("CON") == "CON_" and folder_name("a/b:c") == "a_b_c"


# --- over HTTP ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory, lite0, lite0_package):
    """The service with its store at ROOT/models, and a package at ROOT itself: what a name
    with `..` would read if the store followed it."""
    from localvision.config import Settings
    from localvision.server.app import create_app

    root = tmp_path_factory.mktemp("outside")
    shutil.copy(lite0_package / "manifest.json", root / "manifest.json")
    (root / "weights.safetensors").symlink_to(lite0_package / "weights.safetensors")
    (root / "models").mkdir()
    (root / "models" / "efficientnet_lite0").symlink_to(lite0_package, target_is_directory=True)
    settings = Settings(model="efficientnet_lite0", model_dir=root / "models", offline=True,
                        db=f"sqlite:///{root}/history.db")  # fmt: skip
    with LiveServer(create_app(settings, classifier=lite0)) as live:
        yield live, root


def raw_get(live, path: str) -> tuple[int, dict]:
    """GET with the path exactly as written (curl --path-as-is): no client folds the `..`."""
    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


@pytest.mark.parametrize("path", ["/api/v1/models/../labels", "/api/v1/models/%2e%2e/labels",
                                  "/api/v1/models/..%2flabels/labels"])  # fmt: skip
def test_a_model_name_from_the_url_cannot_leave_the_store(server, path):
    live, _ = server
    status, body = raw_get(live, path)
    assert status in (404, 422), body
    assert "labels" not in body or body.get("model") is None
    assert body["error"]["code"] in ("invalid_model_name", "not_found"), body


def test_a_correction_with_a_label_too_long_for_a_folder_is_refused_and_makes_nothing(server,
                                                                                      photos):
    live, root = server
    teach = root / "models" / ".teach"
    before = sorted(p.relative_to(root) for p in teach.rglob("*")) if teach.exists() else []
    for label in (EMOJI_100, CHINESE_86):
        r = httpx.post(f"{live.url}/api/v1/feedback",
                       files={"file": ("coffee.jpg", photos["coffee"], "image/jpeg")},
                       data={"model": "efficientnet_lite0", "label": label}, timeout=60)  # fmt: skip
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "invalid_class_name"
    after = sorted(p.relative_to(root) for p in teach.rglob("*")) if teach.exists() else []
    assert after == before
    fits = httpx.post(f"{live.url}/api/v1/feedback",
                      files={"file": ("coffee.jpg", photos["coffee"], "image/jpeg")},
                      data={"model": "efficientnet_lite0", "label": CHINESE_85}, timeout=60)
    assert fits.status_code == 201, fits.text
    assert (teach / fits.json()["project"] / CHINESE_85).is_dir()
