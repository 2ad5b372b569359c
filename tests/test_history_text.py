"""The text read in photos, in the history: stored when a request asks for it (?text=true),
answered by GET /api/v1/history with its boxes, searched with ?text= (a Chinese phrase finds
the Chinese sign; English ignores case; % and _ are plain characters), and exported as the CSV's
`text` column.

One real server per backend (an SQLite file, then a real PostgreSQL server: the module runs
on both through `new_db`), fed three photos once: the sign read, a photo without text read,
and the same sign classified without asking for text.
"""

from __future__ import annotations

import csv
import io

import httpx
import pytest
from corpus import SIGN, sign_photo_bytes
from servers import LiveServer

from localvision.config import Settings
from localvision.server.app import create_app


@pytest.fixture(scope="module")
def history(new_db, lite0, photos):
    settings = Settings(model="efficientnet_lite0", offline=True, db=new_db())
    sign = sign_photo_bytes()
    with LiveServer(create_app(settings, classifier=lite0)) as live:
        with httpx.Client(base_url=live.url, timeout=120) as client:
            files = [("file", ("sign.jpg", sign, "image/jpeg")),
                     ("file", ("chelsea.jpg", photos["chelsea"], "image/jpeg"))]  # fmt: skip
            r = client.post("/api/v1/classify", params={"text": "true"}, files=files)
            assert r.status_code == 200, r.text
            assert [line["text"] for line in r.json()["results"][0]["text"]] == list(SIGN)
            r = client.post("/api/v1/classify", files={"file": ("unread.jpg", sign)})
            assert r.status_code == 200 and "text" not in r.json()["results"][0]
            yield client


def items(client: httpx.Client, **params) -> dict[str, dict]:
    r = client.get("/api/v1/history", params=params)
    assert r.status_code == 200, r.text
    return {i["filename"]: i for i in r.json()["items"]}


def test_the_lines_read_are_kept_with_their_boxes_and_null_when_not_asked(history):
    rows = items(history)
    assert [line["text"] for line in rows["sign.jpg"]["text"]] == list(SIGN)
    line = rows["sign.jpg"]["text"][0]
    assert len(line["box"]) == 4 and 0 < line["confidence"] <= 1
    assert rows["unread.jpg"]["text"] is None  # not asked for: not "no text"
    assert isinstance(rows["chelsea.jpg"]["text"], list)


@pytest.mark.parametrize("query", ["禁止", "吸烟", "no smoking", "SMOKING", " smok "])
def test_a_text_search_finds_the_sign_in_either_language_in_any_case(history, query):
    assert list(items(history, text=query)) == ["sign.jpg"]


@pytest.mark.parametrize("query", ["%", "_", "禁止饮食", "smoking allowed"])
def test_a_text_search_matches_only_what_is_written(history, query):
    assert items(history, text=query) == {}


def test_the_text_search_combines_with_the_other_filters(history):
    assert list(items(history, text="禁止", filename="sign")) == ["sign.jpg"]
    assert items(history, text="禁止", filename="unread") == {}
    assert len(items(history, text="")) == 3  # blank: no condition


def test_the_csv_export_has_the_text_and_honours_the_text_search(history):
    r = history.get("/api/v1/history.csv")
    assert r.status_code == 200
    rows = {row["filename"]: row for row in csv.DictReader(io.StringIO(r.text))}
    assert rows["sign.jpg"]["text"] == "\n".join(SIGN)
    assert rows["unread.jpg"]["text"] == ""
    found = list(csv.DictReader(io.StringIO(history.get("/api/v1/history.csv",
                                                        params={"text": "禁止"}).text)))  # fmt: skip
    assert [row["filename"] for row in found] == ["sign.jpg"]
