"""The Teach API on the real service over loopback: projects, classes and photos kept in the
store (training/examples.py); training with the real `localvision train --mode head` on the
bundled EfficientNet-Lite0, followed live over SSE, the new model answering at once; one
training at a time, cancel, a restart during a training; a model that is not the project's own
is never replaced; corrections ("wrong, it is X") and their limits; auth.

One model is trained per module (the `trained` fixture), on 3 classes x 3 real photos x 3 random
crops (tests/trainset.py).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from httpx_sse import connect_sse
from PIL import Image
from servers import LiveServer, free_port, users_with_keys
from trainset import make_trainset

T = "/api/v1/teach"


# --- fixtures -------------------------------------------------------------------------------------
def _settings(root: Path, **extra):
    from localvision.config import Settings

    # torch: a trained model loads in the server without an OpenVINO export first (the export
    # and its agreement are test_train's); the API is what is tested here
    return Settings(model="efficientnet_lite0", model_dir=root / "models", offline=True,
                    backend="torch", db=f"sqlite:///{root}/history.db", **extra)  # fmt: skip


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
    """The job's Server-Sent Events until `until(event, data)` holds, or the job has finished,
    reconnecting as a browser's EventSource does (with the Last-Event-ID it saw) when a
    response ends while the job runs."""
    got, last_id = [], None
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=httpx.Timeout(10.0, read=timeout), headers=headers) as client:
        while time.monotonic() < deadline and not (got and finished(*got[-1])):
            more = {"Last-Event-ID": last_id} if last_id else {}
            try:
                with connect_sse(client, "GET", url + T + "/job/events", headers=more) as sse:
                    assert sse.response.status_code == 200, sse.response.read()
                    timer = threading.Timer(deadline - time.monotonic(), sse.response.close)
                    timer.start()
                    try:
                        for event in sse.iter_sse():
                            got.append((event.event, event.json()))
                            last_id = event.id or last_id
                            if until(*got[-1]):
                                return got
                    finally:
                        timer.cancel()
            except httpx.HTTPError:
                return got  # closed or gone: a server stopping, or the time is up
    return got


def sse_ids(url: str, headers=None) -> list[str]:
    """The ids of a finished job's events, as one response gives them."""
    with connect_sse(httpx.Client(timeout=30), "GET", url + T + "/job/events",
                     headers=dict(headers or {})) as sse:  # fmt: skip
        return [event.id for event in sse.iter_sse()]


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
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_model_name")
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


# --- corrections --------------------------------------------------------------------------------
def feedback(url: str, data: bytes, model: str, label: str, predicted=None, headers=None):
    form = {"model": model, "label": label, **({"predicted": predicted} if predicted else {})}
    return httpx.post(url + "/api/v1/feedback", files={"file": ("mine.jpg", data, "image/jpeg")},
                      data=form, headers=headers, timeout=60)  # fmt: skip


def test_a_correction_is_kept_as_an_example_of_the_models_project(server, photos):
    url = server.url
    r = feedback(url, photos["coffee"], "efficientnet_lite0", "my mug", predicted="espresso")
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["project"], made["class"], made["model"]) == (
        "efficientnet_lite0", "my mug", "efficientnet_lite0")  # fmt: skip
    project = httpx.get(url + T + "/projects/efficientnet_lite0").json()
    # the base is the model corrected; what training makes is not called after a registry model
    assert (project["base"], project["model_name"]) == ("efficientnet_lite0",
                                                        "efficientnet_lite0-custom")  # fmt: skip
    (example,) = project["examples"]
    assert (example["id"], example["class"], example["source"], example["model"],
            example["predicted"]) == (made["id"], "my mug", "feedback", "efficientnet_lite0",
                                      "espresso")  # fmt: skip
    # the same name after normalisation is the same class; the same photo is one example
    again = feedback(url, photos["coffee"], "efficientnet_lite0", "My_Mug").json()
    assert (again["class"], again["duplicate"]) == ("my mug", True)
    # a later correction of the same photo wins: it moves
    moved = feedback(url, photos["coffee"], "efficientnet_lite0", "cup").json()
    assert (moved["class"], moved.get("moved_from")) == ("cup", "my mug")
    counts = {c["name"]: c["count"] for c in
              httpx.get(url + T + "/projects/efficientnet_lite0").json()["classes"]}  # fmt: skip
    assert counts == {"cup": 1, "my mug": 0}
    # refused, and nothing kept: not an image, an unknown model, a name that is a path
    before = httpx.get(url + T + "/projects").json()
    for r, status, code in [
        (feedback(url, b"%PDF-1.4 not a photo", "efficientnet_lite0", "cup"), 415,
         "unsupported_format"),
        (feedback(url, photos["camera"], "no-such-model", "cup"), 404, "unknown_model"),
        (feedback(url, photos["camera"], "efficientnet_lite0", "../up"), 422,
         "invalid_class_name"),
    ]:  # fmt: skip
        assert (r.status_code, r.json()["error"]["code"]) == (status, code)
    assert httpx.get(url + T + "/projects").json() == before
    assert httpx.delete(url + T + "/projects/efficientnet_lite0").status_code == 200


# --- auth on --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def guarded(tmp_path_factory, lite0, lite0_package):
    from localvision.server.app import create_app

    root = _store(tmp_path_factory, lite0_package, "teach_auth")
    settings = _settings(root, auth="on")
    keys = users_with_keys(settings.db, {"ada": ("ada-password-1", "admin"),
                                         "bob": ("bob-password-1", "user")})  # fmt: skip
    with LiveServer(create_app(settings, classifier=lite0)) as live:
        yield SimpleNamespace(url=live.url, keys=keys, models=root / "models")


def test_with_auth_on_only_admins_teach_and_everyone_may_correct(guarded, photos):
    url = guarded.url
    ada = {"Authorization": f"Bearer {guarded.keys['ada']}"}
    bob = {"Authorization": f"Bearer {guarded.keys['bob']}"}
    assert httpx.get(url + T + "/projects").status_code == 401
    made = create(url, "desk", ["pen", "mug"], headers=ada)
    assert made["created_by"] == "ada"
    for method, path in [("GET", T + "/projects"), ("POST", T + "/projects"),
                         ("GET", T + "/projects/desk"), ("DELETE", T + "/projects/desk"),
                         ("POST", T + "/projects/desk/classes"),
                         ("POST", T + "/projects/desk/train"), ("GET", T + "/job"),
                         ("GET", T + "/job/events"), ("POST", T + "/job/cancel"),
                         ("GET", "/api/v1/models/desk/report"),
                         ("GET", "/api/v1/models/desk/report/per_class.csv")]:  # fmt: skip
        r = httpx.request(method, url + path, headers=bob, json={"name": "x"})
        assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden"), (method, path)
    # a user's correction: the project is made for the model, the photo is tied to the user
    r = feedback(url, photos["chelsea"], "efficientnet_lite0", "our cat", "tiger cat", bob)
    assert r.status_code == 201, r.text
    project = httpx.get(url + T + "/projects/efficientnet_lite0", headers=ada).json()
    assert project["created_by"] == "bob"
    assert [(e["class"], e["user"]) for e in project["examples"]] == [("our cat", "bob")]
    folder = guarded.models / ".teach" / "efficientnet_lite0" / "our cat"
    side = json.loads((folder / f".{r.json()['id']}.json").read_text())
    assert (side["user"], side["source"], side["predicted"]) == ("bob", "feedback", "tiger cat")
    (row,) = upload(url, "desk", "mug", [("coffee.jpg", photos["coffee"])], headers=ada)
    ex = httpx.get(url + T + "/projects/desk", headers=ada).json()["examples"]
    assert [(e["id"], e["user"]) for e in ex] == [(row["id"], "ada")]


# --- the limits on corrections -------------------------------------------------------------------
def colours(n: int) -> list[bytes]:
    """n different small photos (PNG)."""
    out = []
    for i in range(n):
        png = io.BytesIO()
        Image.new("RGB", (64, 48), (20 * i, 255 - 20 * i, 90)).save(png, "PNG")
        out.append(png.getvalue())
    return out


def kept_photos(models: Path, project: str) -> list[str]:
    folder = models / ".teach" / project
    return sorted(p.name for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")
                  and p.parent != folder)  # fmt: skip


def test_corrections_are_limited_per_user_and_per_model_and_the_count_survives_a_restart(
    tmp_path_factory, lite0, lite0_package
):
    from localvision.server.app import create_app

    root = _store(tmp_path_factory, lite0_package, "teach_quota")
    models, model = root / "models", "efficientnet_lite0"
    settings = _settings(root, auth="on", feedback_max_photos_per_user=2,
                         feedback_max_photos_per_model=5)  # fmt: skip
    keys = users_with_keys(settings.db, {"ada": ("ada-password-1", "admin"),
                                         "bob": ("bob-password-1", "user"),
                                         "cy": ("cy-password-1", "user"),
                                         "dee": ("dee-password-1", "user")})  # fmt: skip
    who = {name: {"Authorization": f"Bearer {key}"} for name, key in keys.items()}
    shots = colours(8)

    def refused(r, status: int, code: str) -> None:
        assert r.status_code == status, r.text
        assert r.json()["error"]["code"] == code

    with LiveServer(create_app(settings, classifier=lite0)) as live:
        url = live.url
        for shot in shots[:2]:
            assert feedback(url, shot, model, "red", headers=who["bob"]).status_code == 201
        kept = kept_photos(models, model)
        assert len(kept) == 2
        # bob's third in a day: a rate, said with when there is room again; nothing kept
        r = feedback(url, shots[2], model, "red", headers=who["bob"])
        refused(r, 429, "too_many_corrections")
        wait = int(r.headers["Retry-After"])
        assert 23 * 3600 < wait <= 24 * 3600 and r.json()["error"]["retry_after"] == wait
        assert kept_photos(models, model) == kept
        # a photo bob already sent, corrected again, adds nothing: not refused
        again = feedback(url, shots[0], model, "blue", headers=who["bob"])
        assert again.status_code == 201 and again.json()["moved_from"] == "red"
        # another user still may send; an admin is not held to the per-user limit
        for shot in shots[2:4]:
            assert feedback(url, shot, model, "red", headers=who["cy"]).status_code == 201
        assert feedback(url, shots[4], model, "red", headers=who["ada"]).status_code == 201
        # the model's project holds 5 corrections: full, for everyone, no Retry-After
        for user in ("dee", "ada"):
            r = feedback(url, shots[5], model, "red", headers=who[user])
            refused(r, 507, "corrections_full")
            assert "Retry-After" not in r.headers
        assert len(kept_photos(models, model)) == 5
        # an admin's photos added on the Teach page are not corrections: not limited
        (row,) = upload(url, model, "red", [("six.png", shots[6])], headers=who["ada"])
        assert "id" in row, row
        kept = kept_photos(models, model)
        assert len(kept) == 6
    # a restart counts what is on disk: the limits hold
    with LiveServer(create_app(settings, classifier=lite0)) as live:
        refused(feedback(live.url, shots[7], model, "red", headers=who["bob"]), 429,
                "too_many_corrections")  # fmt: skip
        refused(feedback(live.url, shots[7], model, "red", headers=who["dee"]), 507,
                "corrections_full")  # fmt: skip
    assert kept_photos(models, model) == kept


# --- training -------------------------------------------------------------------------------------
def teach_project(url: str, name: str, trainset: dict[str, list[Path]], headers=None) -> dict:
    """A project with the trainset's classes, its photos uploaded through the API; returns
    class -> the ids of its photos."""
    create(url, name, sorted(trainset), headers=headers)
    ids = {}
    for cls, paths in trainset.items():
        rows = upload(url, name, cls, [(p.name, p.read_bytes()) for p in paths], headers)
        assert all("id" in r for r in rows), rows
        ids[cls] = [r["id"] for r in rows]
    return ids


@pytest.fixture(scope="module")
def trained(server, trainset):
    """The project "shapes" trained through the API (`--mode head`), followed to the end over
    SSE: (its job, the events seen)."""
    teach_project(server.url, "shapes", trainset)
    r = httpx.post(server.url + T + "/projects/shapes/train", json={"mode": "head"})
    assert r.status_code == 202, r.text
    assert (r.json()["state"], r.json()["name"]) == ("queued", "shapes")
    seen = follow(server.url, finished, timeout=240)
    job = httpx.get(server.url + T + "/job").json()
    assert job["state"] == "done", (job, [e for e, _ in seen])
    return SimpleNamespace(job=job, events=seen)


def test_training_through_the_api_makes_a_model_that_answers_at_once(server, trained, trainset,
                                                                    tmp_path):
    url, job = server.url, trained.job
    kinds = [e for e, _ in trained.events]
    assert kinds[0] == "state" and "start" in kinds and "epoch" in kinds and "done" in kinds
    start = next(d for e, d in trained.events if e == "start")
    assert (start["classes"], start["mode"]) == (sorted(trainset), "head")
    epochs = [d for e, d in trained.events if e == "epoch"]
    assert [d["epoch"] for d in epochs] == list(range(1, len(epochs) + 1))
    assert job["metrics"]["val_acc"] >= 0.9 and job["model_state"] == "ready"
    # the new model is served now, and in the model picker
    listed = httpx.get(url + "/api/v1/models").json()
    assert any(m["name"] == "shapes" and m["state"] == "ready" for m in listed["models"])
    # new crops of the same photos (another seed), over HTTP with model=shapes
    fresh = make_trainset(tmp_path, classes=3, crops=1, seed=7)
    files = [("file", (f"{c}-{i}.jpg", p.read_bytes(), "image/jpeg"))
             for c, paths in fresh.items() for i, p in enumerate(paths)]  # fmt: skip
    r = httpx.post(url + "/api/v1/classify", params={"model": "shapes"}, files=files, timeout=60)
    assert r.status_code == 200, r.text
    tops = [row["predictions"][0]["label"] for row in r.json()["results"]]
    assert tops == [c for c, paths in fresh.items() for _ in paths]
    # the project knows its model; a reload of the page finds the job as it ended
    project = {p["name"]: p for p in httpx.get(url + T + "/projects").json()}["shapes"]
    assert project["model"]["name"] == "shapes" and project["model"]["report"] is True
    assert project["job"]["id"] == job["id"] and project["job"]["state"] == "done"
    replay = follow(url, finished)
    assert [e for e, _ in replay][-1] == "state" and "epoch" in [e for e, _ in replay]
    # a client that comes back with the last id it saw gets only what came after it
    ids = sse_ids(url)
    assert len(ids) == len(replay) and len(set(ids)) == len(ids)
    assert sse_ids(url, {"Last-Event-ID": ids[2]}) == ids[3:]
    assert sse_ids(url, {"Last-Event-ID": "another-job-7"}) == ids  # another job's: all


def test_the_report_of_a_trained_model(server, trained):
    url = server.url
    report = httpx.get(url + "/api/v1/models/shapes/report").json()
    assert report["accuracy"] >= 0.9
    png = httpx.get(url + "/api/v1/models/shapes/report/confusion_matrix.png")
    assert (png.status_code, png.headers["content-type"]) == (200, "image/png")
    assert png.content.startswith(b"\x89PNG")
    csv = httpx.get(url + "/api/v1/models/shapes/report/per_class.csv")
    assert csv.content.decode("utf-8-sig").startswith("class,precision,recall")
    # only the report's own files: no other file of the package, no path out of the folder
    for name in ("report.json.bak", "..%2Fmanifest.json", "%2E%2E%2Fmanifest.json",
                 "..%2F..%2Fefficientnet_lite0%2Fmanifest.json", ".hidden.png"):  # fmt: skip
        r = httpx.get(url + "/api/v1/models/shapes/report/" + name)
        assert r.status_code == 404 and "architecture" not in r.text, name
    r = httpx.get(url + "/api/v1/models/efficientnet_lite0/report")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "report_not_found")


def test_a_correction_on_a_trained_model_goes_to_its_project(server, trained, photos):
    r = feedback(server.url, photos["camera"], "shapes", "people", predicted="machine")
    assert r.status_code == 201, r.text
    assert (r.json()["project"], r.json()["class"]) == ("shapes", "people")
    r = httpx.delete(f"{server.url}{T}/projects/shapes/photos/{r.json()['id']}")
    assert r.status_code == 200


def test_a_training_the_trainer_refuses_fails_with_its_reason(server, trained, trainset):
    url = server.url
    create(url, "lonely", ["people"])
    upload(url, "lonely", "people", [(p.name, p.read_bytes()) for p in trainset["people"][:3]])
    # refused before anything runs: a model that is not there, a model as its own base
    for project, base, status in [("lonely", "lonely", 404), ("shapes", "shapes", 422)]:
        r = httpx.post(f"{url}{T}/projects/{project}/train", json={"base": base})
        assert r.status_code == status, r.text
    assert httpx.post(url + T + "/projects/lonely/train", json={}).status_code == 202
    end = follow(url, finished)[-1][1]
    assert (end["state"], end["error"]["code"]) == ("failed", "dataset_one_class")
    assert "people" in end["error"]["message"] and "Traceback" not in json.dumps(end)
    assert not (server.models / "lonely").exists()
    assert httpx.delete(url + T + "/projects/lonely").status_code == 200


def fingerprint(package: Path) -> tuple[bytes, str]:
    """A package's manifest, byte for byte, and its weights' SHA-256."""
    weights = hashlib.sha256((package / "weights.safetensors").read_bytes()).hexdigest()
    return (package / "manifest.json").read_bytes(), weights


def test_training_replaces_only_the_projects_own_model(server, trained, trainset, lite0_package):
    """An imported model (1000 classes), or another project's, is never replaced by training a
    project under its name: refused by the route at once (409), and by the trainer the job
    runs (`--retrain`); training a project again under its own model's name still works."""
    from localvision.config import Settings
    from localvision.models.importing import import_model

    url, models = server.url, server.models
    import_model(Settings(model_dir=models), "myimported", "efficientnet_lite0",
                 lite0_package / "weights.safetensors", None, None, False)  # fmt: skip
    before = {name: fingerprint(models / name) for name in ("myimported", "shapes")}
    create(url, "p2", ["cup", "mug"])
    for name in ("myimported", "shapes"):
        r = httpx.post(f"{url}{T}/projects/p2/train", json={"name": name, "mode": "head"})
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == "model_not_from_project"
    # the job's own command refuses it too, before it reads any photo
    for name in ("myimported", "shapes"):
        child = subprocess.run(
            [sys.executable, "-m", "localvision", "train", str(models / ".teach" / "p2"),
             "--name", name, "--retrain", "--progress", "jsonl", "--offline"],
            capture_output=True, text=True, timeout=120, check=False,
            env={**os.environ, "LOCALVISION_MODEL_DIR": str(models)},
        )  # fmt: skip
        last = json.loads(child.stdout.splitlines()[-1])
        assert (child.returncode, last["code"]) == (2, "model_not_from_project"), child.stderr
    assert {name: fingerprint(models / name) for name in before} == before
    # the project "shapes" trained again: its own model is replaced, and says where it came from
    r = httpx.post(url + T + "/projects/shapes/train", json={"mode": "head"})
    assert r.status_code == 202, r.text
    follow(url, finished, timeout=240)
    job = httpx.get(url + T + "/job").json()
    assert (job["state"], job["name"], job["project"]) == ("done", "shapes", "shapes"), job
    manifest = json.loads((models / "shapes" / "manifest.json").read_text())
    assert (manifest["source"]["kind"], manifest["source"]["project"]) == ("trained", "shapes")
    assert manifest["created_at"] >= json.loads(before["shapes"][0])["created_at"]
    assert fingerprint(models / "myimported") == before["myimported"]
    assert httpx.delete(url + T + "/projects/p2").status_code == 200


def test_a_model_trained_before_manifests_named_their_project_is_still_its_own():
    """Older trained packages have no source.project: the Teach folder they were trained on
    (training.data) says it."""
    from localvision.models.store import Package
    from localvision.training.run import trained_project

    def package(source: dict, data: list[str]) -> Package:
        return Package(Path("/nowhere"), {"source": source, "training": {"data": data}})

    trained = {"kind": "trained", "base": "efficientnet_lite0"}
    assert trained_project(package(trained, ["/m/.teach/pets"])) == "pets"
    assert trained_project(package({**trained, "project": "cats"}, ["/m/.teach/pets"])) == "cats"
    assert trained_project(package(trained, ["/home/me/photos/pets"])) is None
    assert trained_project(package({"kind": "import"}, ["/m/.teach/pets"])) is None


def alive(pid: int) -> bool:
    """The process runs (a zombie waiting for its parent to reap it does not count)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def job_file(models: Path, project: str) -> dict:
    return json.loads((models / ".teach" / project / "job.json").read_text())


def test_one_training_at_a_time_and_cancel_leaves_the_store_as_it_was(server, trained, trainset,
                                                                      photos):
    url = server.url
    ids = teach_project(url, "slow", trainset)
    before = sorted(p.name for p in server.models.iterdir())
    r = httpx.post(url + T + "/projects/slow/train", json={"mode": "finetune", "epochs": 50})
    assert r.status_code == 202, r.text
    # while it runs: no second training (anywhere), and the photos it reads stay
    busy = httpx.post(url + T + "/projects/shapes/train", json={})
    assert (busy.status_code, busy.json()["error"]["code"]) == (409, "training_busy")
    people = ids["people"][0]
    for r in (httpx.delete(f"{url}{T}/projects/slow/photos/{people}"),
              httpx.delete(f"{url}{T}/projects/slow/classes/people"),
              httpx.delete(f"{url}{T}/projects/slow")):  # fmt: skip
        assert (r.status_code, r.json()["error"]["code"]) == (409, "training_busy")
    seen = follow(url, lambda e, d: e in ("start", "phase") or finished(e, d))
    assert seen[-1][0] in ("start", "phase"), seen  # the trainer has its data: it is working
    pid = job_file(server.models, "slow")["pid"]
    assert alive(pid)
    # the service answers meanwhile (the trainer is another process, on train_threads)
    r = httpx.post(url + "/api/v1/classify", files={"file": ("c.jpg", photos["coffee"])},
                   timeout=60)  # fmt: skip
    assert r.json()["results"][0]["predictions"][0]["label"] == "espresso"
    assert httpx.post(url + T + "/job/cancel").json()["state"] == "running"
    end = follow(url, finished)[-1][1]
    assert (end["state"], end["error"]) == ("cancelled", None)
    assert not alive(pid)
    assert sorted(p.name for p in server.models.iterdir()) == before  # no package, no leftovers
    assert job_file(server.models, "slow")["state"] == "cancelled"
    assert httpx.post(url + T + "/job/cancel").json()["state"] == "cancelled"  # as it is
    assert httpx.delete(url + T + "/projects/slow").status_code == 200


def test_a_server_stopped_during_a_training_shows_it_interrupted(
    tmp_path_factory, lite0, lite0_package, trainset
):
    from localvision.server.app import create_app

    root = _store(tmp_path_factory, lite0_package, "restart")
    # no early stop: a tiny set can reach its best in a few epochs and finish before the stop
    models, settings = root / "models", _settings(root, train_patience=1000)
    # a real `localvision serve`, killed (SIGKILL: no shutdown at all) while its training runs
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "localvision", "serve", "--model", "efficientnet_lite0",
         "--offline", "--model-dir", str(models), "--db", settings.db, "--port", str(port)],
        env={**os.environ, "LOCALVISION_AUTH": "off", "LOCALVISION_TRAIN_PATIENCE": "1000",
             "LOCALVISION_TRAIN_EPOCHS": "1000"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, proc)
        teach_project(url, "pets", trainset)
        assert httpx.post(url + T + "/projects/pets/train", json={"mode": "finetune"}).is_success
        follow(url, lambda e, d: e == "start" or finished(e, d))
        assert job_file(models, "pets")["state"] == "running"
        pid = job_file(models, "pets")["pid"]
    finally:
        proc.kill()
        proc.wait()
    # the next server finds the job it left: failed, and its trainer (if still there) ended
    with LiveServer(create_app(settings, classifier=lite0)) as live:
        job = httpx.get(live.url + T + "/job").json()
        assert (job["state"], job["error"]["code"]) == ("failed", "training_interrupted")
        deadline = time.monotonic() + 30
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(pid)
        assert not (models / "pets").exists()
        # a server that stops gracefully during a training ends it the same way
        first = job["id"]
        slow = {"mode": "finetune", "epochs": 1000}
        assert httpx.post(live.url + T + "/projects/pets/train", json=slow).status_code == 202
        follow(live.url, lambda e, d: e == "start" or finished(e, d))
        pid = job_file(models, "pets")["pid"]
        # a page still following the job does not hold the server up
        page = threading.Thread(target=follow, args=(live.url, lambda e, d: False, 120),
                                daemon=True)  # fmt: skip
        page.start()
        time.sleep(1)
        stopping = time.monotonic()
    live.thread.join(timeout=60)
    assert not live.thread.is_alive() and time.monotonic() - stopping < 40
    assert not alive(pid)
    with LiveServer(create_app(settings, classifier=lite0)) as live:
        job = httpx.get(live.url + T + "/job").json()
        assert job["id"] != first
        assert (job["state"], job["error"]["code"]) == ("failed", "training_interrupted")
        events = follow(live.url, finished)
        assert events[-1][1]["state"] == "failed"
    assert not (models / "pets").exists()


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("the server did not become ready")
