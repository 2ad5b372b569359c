"""The Teach API on the real service over loopback: projects, classes and photos kept in the
store (training/examples.py); training with the real `localvision train --mode head` on the
bundled EfficientNet-Lite0, followed live over SSE, the new model answering at once; one
training at a time, cancel, a restart during a training; corrections ("wrong, it is X"); auth.

One model is trained per module (the `trained` fixture), on 3 classes x 3 real photos x 3 random
crops (tests/trainset.py).
"""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from httpx_sse import connect_sse
from PIL import Image

from conftest import LiveServer, users_with_keys
from trainset import make_trainset

T = "/api/v1/teach"


# --- fixtures -------------------------------------------------------------------------------------
def _settings(root: Path, **extra):
    from localvision.config import Settings

    return Settings(model="efficientnet_lite0", model_dir=root / "models", offline=True,
                    db=f"sqlite:///{root}/history.db", **extra)  # fmt: skip


def _store(tmp_path_factory, lite0_package, name: str) -> Path:
    """A private folder: a model store with the session's efficientnet_lite0 package in it."""
    root = tmp_path_factory.mktemp(name)
    (root / "models").mkdir()
    (root / "models" / "efficientnet_lite0").symlink_to(lite0_package, target_is_directory=True)
    return root


@pytest.fixture(scope="module")
def trainset(tmp_path_factory) -> dict[str, list[Path]]:
    return make_trainset(tmp_path_factory.mktemp("trainset"), classes=3, crops=3)


@pytest.fixture(scope="module")
def server(tmp_path_factory, lite0, lite0_package):
    from localvision.server.app import create_app

    root = _store(tmp_path_factory, lite0_package, "teach")
    settings = _settings(root)
    with LiveServer(create_app(settings, classifier=lite0)) as live:
        yield SimpleNamespace(url=live.url, models=root / "models", settings=settings)


def create(url: str, name: str, classes=(), headers=None, **extra) -> dict:
    body = {"name": name, "classes": list(classes), **extra}
    r = httpx.post(url + T + "/projects", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def upload(url: str, project: str, cls: str, files: list[tuple[str, bytes]], headers=None):
    parts = [("files", (n, data, "application/octet-stream")) for n, data in files]
    r = httpx.post(f"{url}{T}/projects/{project}/classes/{cls}/photos", files=parts,
                   data={"source": "upload"}, headers=headers, timeout=60)  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()["rows"]


def follow(url: str, until, timeout: float = 180.0, headers=None) -> list[tuple[str, dict]]:
    """The job's Server-Sent Events until `until(event, data)` holds, or the stream ends."""
    got = []
    with httpx.Client(timeout=httpx.Timeout(10.0, read=timeout), headers=headers) as client:
        with connect_sse(client, "GET", url + T + "/job/events") as source:
            assert source.response.status_code == 200, source.response.read()
            timer = threading.Timer(timeout, source.response.close)
            timer.start()
            try:
                for sse in source.iter_sse():
                    got.append((sse.event, sse.json()))
                    if until(sse.event, got[-1][1]):
                        return got
            except httpx.HTTPError:
                pass
            finally:
                timer.cancel()
    return got


def finished(event: str, data: dict) -> bool:
    return event == "state" and data["state"] in ("done", "failed", "cancelled")


def wait_state(url: str, states, timeout: float = 60, headers=None) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = httpx.get(url + T + "/job", headers=headers).json()
        if job and job["state"] in states:
            return job
        time.sleep(0.2)
    raise AssertionError(f"the job did not reach {states}: {job}")


def packages(models: Path) -> set[str]:
    return {p.name for p in models.iterdir()}


# --- the photo store ------------------------------------------------------------------------------
def test_projects_classes_and_photos(server, photos):
    url = server.url
    made = create(url, "kitchen", ["cup", "cat"], title="My kitchen")
    assert (made["name"], made["title"], made["base"], made["model_name"], made["model"]) == (
        "kitchen", "My kitchen", "efficientnet_lite0", "kitchen", None)  # fmt: skip
    assert [c["name"] for c in made["classes"]] == ["cat", "cup"]
    again = httpx.post(url + T + "/projects", json={"name": "kitchen"})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "project_exists")
    bad = httpx.post(url + T + "/projects", json={"name": "Not A Model Name"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_argument")
    # classes: a normalised duplicate, a path, a hidden name are refused; Chinese is a name
    for name, status, code in [("Cup ", 409, "class_exists"), ("c_u-p", 201, None),
                               ("a/b", 422, "invalid_class_name"),
                               (".hidden", 422, "invalid_class_name"),
                               ("Val", 422, "invalid_class_name"), ("杯子", 201, None)]:
        r = httpx.post(f"{url}{T}/projects/kitchen/classes", json={"name": name})
        assert r.status_code == status, (name, r.text)
        if code:
            assert r.json()["error"]["code"] == code
    # photos: two good ones, a text file (its own row fails), the first again (one example)
    rows = upload(url, "kitchen", "cup", [("coffee.jpg", photos["coffee"]),
                                          ("rocket.jpg", photos["rocket"]),
                                          ("notes.jpg", b"just some text, not an image"),
                                          ("coffee-again.jpg", photos["coffee"])])  # fmt: skip
    assert [r.get("duplicate") for r in rows] == [False, False, None, True]
    assert rows[2]["error"]["code"] == "unsupported_format"
    assert rows[0]["id"] == rows[3]["id"] and len(rows[0]["id"]) == 16
    # the same photo in another class of the project is refused (a label conflict)
    (conflict,) = upload(url, "kitchen", "cat", [("coffee.jpg", photos["coffee"])])
    assert conflict["error"]["code"] == "example_in_other_class"
    (cat,) = upload(url, "kitchen", "杯子", [("chelsea.jpg", photos["chelsea"])])
    missing = httpx.post(f"{url}{T}/projects/kitchen/classes/dog/photos",
                         files=[("files", ("x.jpg", photos["camera"]))])  # fmt: skip
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "class_not_found")

    project = httpx.get(url + T + "/projects/kitchen").json()
    counts = {c["name"]: c["count"] for c in project["classes"]}
    assert counts == {"cat": 0, "cup": 2, "c_u-p": 0, "杯子": 1}
    by_id = {e["id"]: e for e in project["examples"]}
    assert set(by_id) == {rows[0]["id"], rows[1]["id"], cat["id"]}
    assert by_id[rows[0]["id"]]["source"] == "upload" and by_id[rows[0]["id"]]["user"] is None
    # the bytes come back as uploaded, and that is what lies on disk (an ImageFolder)
    got = httpx.get(url + by_id[rows[0]["id"]]["url"])
    assert (got.status_code, got.headers["content-type"]) == (200, "image/jpeg")
    assert got.content == photos["coffee"]
    folder = server.models / ".teach" / "kitchen"
    assert (folder / "cup" / f"{rows[0]['id']}.jpg").read_bytes() == photos["coffee"]
    side = json.loads((folder / "cup" / f".{rows[0]['id']}.json").read_text())
    assert (side["filename"], side["source"], side["class"]) == ("coffee.jpg", "upload", "cup")
    assert not list(folder.rglob("*.tmp"))
    listed = {p["name"]: p for p in httpx.get(url + T + "/projects").json()}
    assert listed["kitchen"]["examples"] == 3 and listed["kitchen"]["job"] is None

    # deleting: a photo, a class with its photos, the project with everything
    r = httpx.delete(f"{url}{T}/projects/kitchen/photos/{rows[1]['id']}")
    assert r.status_code == 200
    r = httpx.get(f"{url}{T}/projects/kitchen/photos/{rows[1]['id']}")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "photo_not_found")
    assert httpx.delete(f"{url}{T}/projects/kitchen/classes/杯子").json()["photos"] == 1
    assert not (folder / "杯子").exists()
    assert httpx.delete(url + T + "/projects/kitchen").status_code == 200
    assert not folder.exists()
    r = httpx.get(url + T + "/projects/kitchen")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "project_not_found")


def test_an_image_that_is_not_whole_or_too_big_fails_its_own_row(server, photos):
    create(server.url, "limits", ["a"])
    png = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(png, "PNG")
    rows = upload(server.url, "limits", "a", [("cut.jpg", photos["camera"][:3000]),
                                              ("empty.jpg", b""), ("red.png", png.getvalue())])  # fmt: skip
    assert [r.get("error", {}).get("code") for r in rows] == ["corrupt_image", "empty_file", None]
    folder = server.models / ".teach" / "limits" / "a"
    assert [p.suffix for p in folder.iterdir() if not p.name.startswith(".")] == [".png"]
