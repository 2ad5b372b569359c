"""The HTTP API, against the real app on loopback with the real bundled model and real photos."""

from __future__ import annotations

import csv
import io
import zipfile

import httpx
import pytest
from corpus import bad_input_cases
from servers import LiveServer, wait_ready


@pytest.fixture(scope="module")
def api(live_server):
    with httpx.Client(base_url=live_server, timeout=60) as client:
        yield client


def history_rows(api, n):
    return api.get("/api/v1/history", params={"limit": n}).json()["items"]


def test_health_and_readiness(api):
    assert api.get("/healthz").json() == {"status": "ok"}
    r = api.get("/readyz")
    assert r.status_code == 200 and r.json()["model"] == "efficientnet_lite0"


def test_models_endpoint_describes_the_loaded_model(api):
    body = api.get("/api/v1/models").json()
    assert body["ready"] is True
    assert body["model"]["name"] == "efficientnet_lite0"
    assert body["model"]["num_labels"] == 1000
    assert body["model"]["weights"]["origin"] == "package"
    assert body["limits"]["max_upload_mb"] == 10


def test_classify_coffee_is_espresso_and_recorded(api, photos):
    r = api.post("/api/v1/classify", files={"file": ("coffee.jpg", photos["coffee"], "image/jpeg")})
    assert r.status_code == 200
    body = r.json()
    assert body["model"] == "efficientnet_lite0" and body["elapsed_ms"] > 0
    (row,) = body["results"]
    assert row["filename"] == "coffee.jpg" and row["error"] is None
    assert row["predictions"][0]["label"] == "espresso"
    assert len(row["predictions"]) == 3
    (last,) = history_rows(api, 1)
    assert last["filename"] == "coffee.jpg" and last["predictions"] == row["predictions"]
    import hashlib

    assert last["sha256"] == hashlib.sha256(photos["coffee"]).hexdigest()
    assert last["client"] == "127.0.0.1" and last["model"] == "efficientnet_lite0"


def test_several_images_one_bad_fails_only_its_row(api, photos):
    files = [
        ("file", ("coffee.jpg", photos["coffee"], "image/jpeg")),
        ("file", ("notes.jpg", b"hello, not an image", "image/jpeg")),
        ("file", ("rocket.jpg", photos["rocket"], "image/jpeg")),
    ]
    r = api.post("/api/v1/classify", files=files, params={"top_k": 5})
    assert r.status_code == 200
    rows = r.json()["results"]
    assert [x["filename"] for x in rows] == ["coffee.jpg", "notes.jpg", "rocket.jpg"]
    assert rows[0]["predictions"][0]["label"] == "espresso" and len(rows[0]["predictions"]) == 5
    assert rows[1]["predictions"] == [] and rows[1]["error"]["code"] == "unsupported_format"
    assert rows[2]["predictions"][0]["label"] == "missile"
    assert [h["filename"] for h in history_rows(api, 3)] == ["rocket.jpg", "notes.jpg", "coffee.jpg"]


def test_classify_as_csv(api, photos):
    r = api.post(
        "/api/v1/classify",
        files={"file": ("coffee.jpg", photos["coffee"])},
        params={"format": "csv", "top_k": 2},
    )
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert r.headers["content-type"].startswith("text/csv")
    assert rows[0]["filename"] == "coffee.jpg" and rows[0]["label_1"] == "espresso"
    assert "label_2" in rows[0] and "label_3" not in rows[0]


def test_classic_predict_endpoint(api, photos):
    r = api.post("/predict", files={"file": ("coffee.jpg", photos["coffee"], "image/jpeg")})
    assert r.status_code == 200
    top = r.json()
    assert len(top) == 3 and top[0]["label"] == "espresso"
    assert top[0]["confidence"] == pytest.approx(top[0]["probability"] * 100, abs=0.01)
    assert history_rows(api, 1)[0]["filename"] == "coffee.jpg"


def test_classic_predict_rejects_a_non_image_with_a_typed_error(api):
    r = api.post("/predict", files={"file": ("x.png", b"<html></html>", "image/png")})
    assert r.status_code == 415
    assert r.json()["error"]["code"] == "unsupported_format"


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_zip_one_row_per_member_and_history(api, photos):
    archive = make_zip(
        {
            "photos/coffee.jpg": photos["coffee"],
            "photos/camera.jpg": photos["camera"],
            "readme.txt": b"not an image",
            "../escape.jpg": photos["rocket"],
        }
    )
    r = api.post("/api/v1/classify/zip", files={"file": ("batch.zip", archive, "application/zip")})
    assert r.status_code == 200
    rows = {x["filename"]: x for x in r.json()["results"]}
    assert rows["photos/coffee.jpg"]["predictions"][0]["label"] == "espresso"
    assert rows["photos/camera.jpg"]["predictions"][0]["label"] == "tripod"
    assert rows["readme.txt"]["error"]["code"] == "unsupported_format"
    # a hostile name is only a label: classified, never written anywhere
    assert rows["../escape.jpg"]["predictions"][0]["label"] == "missile"
    recorded = {h["filename"]: h for h in history_rows(api, 4)}
    assert set(recorded) == set(rows)


def test_zip_as_csv(api, photos):
    archive = make_zip({"coffee.jpg": photos["coffee"], "bad.bin": b"\x00" * 10})
    r = api.post(
        "/api/v1/classify/zip", files={"file": ("b.zip", archive)}, params={"format": "csv"}
    )
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["filename"], x["label_1"], x["error_code"]) for x in rows] == [
        ("coffee.jpg", "espresso", ""),
        ("bad.bin", "", "unsupported_format"),
    ]


def test_zip_that_is_not_a_zip(api):
    r = api.post("/api/v1/classify/zip", files={"file": ("x.zip", b"PK nothing")})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_archive"


def test_nested_archive_is_an_error_row(api, photos):
    inner = make_zip({"coffee.jpg": photos["coffee"]})
    r = api.post("/api/v1/classify/zip", files={"file": ("o.zip", make_zip({"in.zip": inner}))})
    assert r.json()["results"][0]["error"]["code"] == "nested_archive"


def test_history_csv_holds_the_same_rows_as_the_json(api):
    items = api.get("/api/v1/history", params={"limit": 1000}).json()["items"]
    r = api.get("/api/v1/history.csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == len(items) > 0
    for item, row in zip(items, rows):
        assert row["filename"] == item["filename"] and row["sha256"] == (item["sha256"] or "")
        top = item["predictions"][0]["label"] if item["predictions"] else ""
        assert row["label_1"] == top
        assert row["error_code"] == (item["error"]["code"] if item["error"] else "")


def test_history_pages(api):
    total = api.get("/api/v1/history").json()["total"]
    first = api.get("/api/v1/history", params={"limit": 2, "offset": 0}).json()["items"]
    second = api.get("/api/v1/history", params={"limit": 2, "offset": 2}).json()["items"]
    assert total >= 4 and len(first) == len(second) == 2
    assert {i["id"] for i in first}.isdisjoint({i["id"] for i in second})
    assert first[0]["id"] > second[0]["id"]


@pytest.mark.parametrize(
    "request_kwargs,status,code",
    [
        ({"data": {"x": "1"}}, 422, "no_file"),
        ({"content": b"{}", "headers": {"content-type": "application/json"}}, 422, "no_file"),
        ({"files": {"file": ("e.jpg", b"")}, "params": {"top_k": 0}}, 422, "invalid_argument"),
        ({"files": {"file": ("e.jpg", b"")}, "params": {"top_k": "many"}}, 422, "invalid_argument"),
        ({"files": {"file": ("e.jpg", b"")}, "params": {"format": "xml"}}, 422, "invalid_argument"),
    ],
    ids=["no-file-part", "json-body", "top-k-zero", "top-k-not-a-number", "unknown-format"],
)
def test_bad_requests_get_typed_json_errors(api, request_kwargs, status, code):
    r = api.post("/api/v1/classify", **request_kwargs)
    assert r.status_code == status
    assert r.json()["error"]["code"] == code
    assert r.json()["error"]["message"]


def test_every_corpus_case_through_http(api):
    cases = bad_input_cases()
    files = [("file", (c.filename, c.data)) for c in cases]
    rows = api.post("/api/v1/classify", files=files).json()["results"]
    assert [r["error"]["code"] if r["error"] else "ok" for r in rows] == [c.expect for c in cases]


def test_unknown_route_and_method_are_json(api):
    assert api.get("/nope").json()["error"]["code"] == "not_found"
    r = api.get("/api/v1/classify")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_docs_work_without_internet(api):
    html = api.get("/docs").text
    assert "/swagger/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    assert api.get("/swagger/swagger-ui-bundle.js").status_code == 200
    assert api.get("/swagger/swagger-ui.css").status_code == 200
    assert "/api/v1/classify" in api.get("/openapi.json").json()["paths"]


@pytest.fixture(scope="module")
def degraded(tmp_path_factory):
    """The real app asked to serve resnet18 with a corrupt weights file."""
    from localvision.config import Settings
    from localvision.server.app import create_app

    d = tmp_path_factory.mktemp("degraded")
    bad = d / "resnet18-corrupt.pth"
    bad.write_bytes(b"PK\x03\x04 this is not a state dict")
    settings = Settings(model="resnet18", weights=bad, offline=True, db=f"sqlite:///{d}/h.db")
    with LiveServer(create_app(settings)) as server:
        wait_ready(server.url)
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield client


def test_degraded_mode_says_why(degraded, photos):
    assert degraded.get("/healthz").status_code == 200
    r = degraded.get("/readyz")
    assert r.status_code == 503 and r.json()["status"] == "not_ready"
    assert "resnet18-corrupt.pth" in r.json()["reason"]
    for path in ("/api/v1/classify", "/predict"):
        r = degraded.post(path, files={"file": ("coffee.jpg", photos["coffee"])})
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "model_not_ready"
        assert "resnet18-corrupt.pth" in r.json()["error"]["message"]
    models = degraded.get("/api/v1/models").json()
    assert models["ready"] is False and "corrupt" in models["reason"]
    assert degraded.get("/").status_code == 200  # the UI still loads, to show the banner


def test_degraded_mode_in_the_kserve_and_torchserve_protocols(degraded, photos):
    assert degraded.get("/v2/health/live").status_code == 200
    ready = degraded.get("/v2/health/ready")
    assert ready.status_code == 503 and "resnet18-corrupt.pth" in ready.json()["error"]
    model = degraded.get("/v2/models/resnet18/ready")
    assert model.status_code == 503 and model.json()["ready"] is False
    body = {"inputs": [{"name": "IMAGE", "shape": [1], "datatype": "BYTES", "data": ["eA=="]}]}
    r = degraded.post("/v2/models/resnet18/infer", json=body)
    assert r.status_code == 503 and r.json()["code"] == "model_not_ready"
    assert "resnet18-corrupt.pth" in r.json()["error"]
    assert degraded.get("/ping").status_code == 500 and degraded.get("/ping").json() == {"status": "Unhealthy"}
    r = degraded.put("/predictions/resnet18", content=photos["coffee"])
    assert r.status_code == 503 and r.json()["type"] == "ServiceUnavailableException"


# --- defects from the review (issue 10), each pinned ----------------------------------------------
def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_predict_with_several_files_says_where_to_send_them(api, photos):
    """It used to answer for the last file only, silently."""
    files = [("file", ("a.jpg", photos["coffee"])), ("file", ("b.jpg", photos["rocket"]))]
    r = api.post("/predict", files=files)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "too_many_files" and "/api/v1/classify" in error["message"]


def test_a_zip_sent_to_classify_is_classified_member_by_member(api, photos):
    """It used to come back as "not an image"."""
    archive = _zip({"coffee.jpg": photos["coffee"], "notes.txt": b"not an image"})
    files = [("file", ("photos.zip", archive)), ("file", ("rocket.jpg", photos["rocket"]))]
    r = api.post("/api/v1/classify", files=files)
    assert r.status_code == 200
    rows = r.json()["results"]
    assert [x["filename"] for x in rows] == ["photos.zip/coffee.jpg", "photos.zip/notes.txt",
                                             "rocket.jpg"]  # fmt: skip
    assert rows[0]["predictions"][0]["label"] == "espresso"
    assert rows[1]["error"]["code"] == "unsupported_format"
    assert rows[2]["predictions"][0]["label"] == "missile"
    broken = api.post("/api/v1/classify", files={"file": ("x.zip", b"PK\x03\x04broken")})
    assert broken.json()["results"][0]["error"]["code"] == "invalid_archive"


def test_a_zip_with_more_images_than_the_queue_is_classified_in_chunks(api, photos):
    """300 images > queue_size (256): the whole ZIP used to be submitted at once, and an idle
    server answered 503 overloaded. The road takes it a chunk at a time."""
    from PIL import Image

    small = io.BytesIO()
    Image.open(io.BytesIO(photos["coffee"])).resize((96, 64)).save(small, "JPEG")
    archive = _zip({f"{i:03d}.jpg": small.getvalue() for i in range(300)})
    r = api.post("/api/v1/classify/zip", files={"file": ("many.zip", archive)}, timeout=300)
    assert r.status_code == 200, r.text
    rows = r.json()["results"]
    assert len(rows) == 300 and all(row["error"] is None for row in rows)
    assert [row["filename"] for row in rows] == [f"{i:03d}.jpg" for i in range(300)]


def test_a_file_name_that_looks_like_a_formula_stays_text_in_the_csv(api, photos):
    name = "=HYPERLINK(A1)&.jpg"  # (httpx would percent-encode quotes in a part's name)
    r = api.post("/api/v1/classify", files={"file": (name, photos["coffee"])},
                 params={"format": "csv"})  # fmt: skip
    (row,) = list(csv.DictReader(io.StringIO(r.text)))
    assert row["filename"] == "'" + name
    exported = api.get("/api/v1/history.csv").text
    assert "'=HYPERLINK" in exported and ',=HYPERLINK' not in exported


def test_the_batcher_runs_with_the_settings_values(tmp_path, lite0):
    """No default copied into a signature: the served batcher's limits are the settings' (the
    batcher's own signature once said max_batch 16 against Settings' 8)."""
    from localvision.config import Settings
    from localvision.server.app import create_app

    settings = Settings(model="efficientnet_lite0", offline=True, db=f"sqlite:///{tmp_path}/h.db",
                        max_batch=3, max_wait_ms=7, queue_size=11)  # fmt: skip
    with LiveServer(create_app(settings, classifier=lite0)) as live:
        wait_ready(live.url)
        batcher = live.server.config.app.state.service.model.batcher
    assert (batcher.max_batch, batcher.max_wait * 1000, batcher.queue_size) == (3, 7, 11)
