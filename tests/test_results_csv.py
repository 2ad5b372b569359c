"""POST /api/v1/results.csv (server/routes/results_csv.py): the rows a classify call returned,
sent back, answered as the classify route's own CSV, through the one CSV writer. Against the
real app on loopback with the real bundled model and real photos."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest
from servers import LiveServer

PATH = "/api/v1/results.csv"
FORMULA = "=HYPERLINK(A1)&.jpg"  # a file name a spreadsheet would run


@pytest.fixture(scope="module")
def api(live_server):
    with httpx.Client(base_url=live_server, timeout=60) as client:
        yield client


def batch(photos) -> list:
    return [
        ("file", ("coffee.jpg", photos["coffee"], "image/jpeg")),
        ("file", (FORMULA, photos["chelsea"], "image/jpeg")),
        ("file", ("notes.txt", b"not an image", "text/plain")),
    ]


def table(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_rows_sent_back_are_the_classify_routes_own_csv(api, photos, lang):
    params = {"lang": lang, "top_k": 2}
    rows = api.post("/api/v1/classify", files=batch(photos), params=params).json()["results"]
    own = api.post("/api/v1/classify", files=batch(photos), params={**params, "format": "csv"})
    r = api.post(PATH, json={"results": rows}, params={"lang": lang})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="localvision-results.csv"'
    assert r.text == own.text  # same columns, same cells
    header = table(r.text)[0]
    assert header[:3] == ["filename", "label_1", "label_en_1" if lang == "zh" else "index_1"]


def test_a_formula_file_name_stays_text(api, photos):
    rows = api.post("/api/v1/classify", files=batch(photos)).json()["results"]
    got = table(api.post(PATH, json={"results": rows}).text)
    assert got[2][0] == "'" + FORMULA
    assert not any(c.startswith(("=", "+", "-", "@")) for row in got for c in row)


def test_the_language_follows_accept_language_like_every_route(api, photos):
    rows = api.post("/api/v1/classify", files=batch(photos)[:1],
                    headers={"Accept-Language": "zh-CN,zh;q=0.9"}).json()["results"]  # fmt: skip
    r = api.post(PATH, json={"results": rows}, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "label_en_1" in table(r.text)[0]
    bad = api.post(PATH, json={"results": rows}, params={"lang": "xx"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_argument"


def test_groups_add_the_top_group_of_each_row(api, photos):
    rows = api.post("/api/v1/classify", files=batch(photos), params={"group": True}).json()
    got = table(api.post(PATH, json={"results": rows["results"], "groups": True}).text)
    header = got[0]
    assert header[-4:] == ["group", "group_probability", "error_code", "error_message"]
    cat = dict(zip(header, got[2]))
    top = rows["results"][1]["groups"][0]
    assert cat["group"] == top["label"] and float(cat["group_probability"]) == pytest.approx(
        top["probability"], abs=1e-6
    )
    txt = dict(zip(header, got[3]))
    assert txt["group"] == "" and txt["error_code"] == "unsupported_format"


def test_thousands_of_rows_pass_the_json_cap_of_the_other_routes(api, photos):
    (row,) = api.post("/api/v1/classify", files=batch(photos)[:1]).json()["results"]
    rows = [{**row, "filename": f"photo-{n}.jpg"} for n in range(8000)]
    body = json.dumps({"results": rows}).encode()
    assert len(body) > 1024 * 1024  # more than API_JSON_BYTES (guards/body.py)
    r = api.post(PATH, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text[:300]
    assert len(table(r.text)) == 8001


@pytest.mark.parametrize(
    "body, where",
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe{", "not JSON"),
        (b"[]", "Invalid results"),
        (b'{"results": {}}', "results"),
        (b'{"results": [{"predictions": []}]}', "results.0.filename"),
        (b'{"results": [{"filename": "a", "predictions": [{"label": "x", "index": 1, '
         b'"probability": "high"}]}]}', "results.0.predictions.0.probability"),
        (b'{"results": [{"filename": "a", "predictions": [{"label": "x", "index": 1, '
         b'"probability": NaN}]}]}', "probability"),
        (b'{"results": [{"filename": "a", "error": "bad"}]}', "results.0.error"),
        (b'{"results": [], "lang": "zh"}', "lang"),
        (b'{"results": [' + b"[" * 50 + b"]" * 50 + b"]}", "nested deeper"),
        (b'{"results": [{"filename": "a", "predictions": [{"label": "x", "index": 1, '
         b'"probability": 1' + b"0" * 5000 + b"}]}]}", "not JSON"),
    ],
)  # fmt: skip
def test_a_malformed_body_is_a_typed_422(api, body, where):
    r = api.post(PATH, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_argument" and where in error["message"], error


def test_no_rows_is_a_header(api):
    r = api.post(PATH, json={"results": []})
    assert r.status_code == 200 and table(r.text)[0][0] == "filename"


def test_it_takes_auth_like_the_classify_route(tmp_path, lite0, photos):
    from localvision.auth import AuthStore
    from localvision.config import Settings
    from localvision.server.app import create_app

    db = f"sqlite:///{tmp_path}/auth.db"
    store = AuthStore.open(db)
    store.add_user("bob", "bob-password-1", role="user")
    key = store.create_key("bob", "tests")[1]
    store.close()
    settings = Settings(model="efficientnet_lite0", offline=True, db=db, auth="on")
    with LiveServer(create_app(settings, classifier=lite0)) as live:
        bearer = {"Authorization": f"Bearer {key}"}
        rows = [{"filename": "a.jpg", "predictions": [], "uncertain": False, "error": None}]
        assert httpx.post(live.url + PATH, json={"results": rows}).status_code == 401
        r = httpx.post(live.url + PATH, json={"results": rows}, headers=bearer)
        assert r.status_code == 200 and table(r.text)[1][0] == "a.jpg"

