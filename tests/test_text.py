"""Reading the text in photos, through every door the lead owns: /api/v1/classify?text=true, the
ZIP route, /predict, the CSV answer, `classify --text`; and bad inputs (no text, 50 MP, a 20000x10
strip, a sign turned a quarter or upside down) each get an answer or a typed error, never a 500.
Real OCR (rapidocr's PP-OCR models, from the store's package), a real server on loopback and a
real photo with a sign on it (corpus.sign_photo_bytes)."""

from __future__ import annotations

import csv
import io
import zipfile

import httpx
import pytest
import textcorpus
from corpus import SIGN, sign_photo_bytes
from typer.testing import CliRunner

from localvision.cli import app
from localvision.text.package import text_package

CLASSIFY = "/api/v1/classify"


@pytest.fixture(scope="module")
def sign() -> bytes:
    return sign_photo_bytes()


def post(url: str, path: str, files, **params) -> httpx.Response:
    return httpx.post(f"{url}{path}", files=files, params=params, timeout=120)


def texts(row: dict) -> list[str]:
    return [line["text"] for line in row["text"]]


def test_a_sign_is_read_in_reading_order_with_boxes_on_the_sign(live_server, sign):
    r = post(live_server, CLASSIFY, {"file": ("sign.jpg", sign)}, text="true", lang="zh")
    assert r.status_code == 200, r.text
    (row,) = r.json()["results"]
    assert texts(row) == list(SIGN)
    assert row["predictions"][0]["label_en"] == "espresso"  # the labels are still answered
    for line in row["text"]:
        assert 0.8 < line["confidence"] <= 1
        xs, ys = zip(*line["box"])
        assert len(line["box"]) == 4
        assert 10 <= min(xs) and max(xs) <= 320 and 10 <= min(ys) and max(ys) <= 140  # the sign
    first, second = (line["box"] for line in row["text"])
    assert max(y for _, y in first) <= min(y for _, y in second) + 5  # one under the other


def test_text_is_answered_only_when_asked(live_server, sign):
    r = post(live_server, CLASSIFY, {"file": ("sign.jpg", sign)})
    assert "text" not in r.json()["results"][0]


def test_the_zip_route_reads_each_member_and_a_bad_member_fails_its_row(live_server, sign):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("sign.jpg", sign)
        z.writestr("notes.jpg", b"not an image")
    r = post(live_server, f"{CLASSIFY}/zip", {"file": ("photos.zip", buf.getvalue())},
             text="true", format="csv")  # fmt: skip
    assert r.status_code == 200, r.text
    rows = {row["filename"]: row for row in csv.DictReader(io.StringIO(r.text.lstrip("\ufeff")))}
    assert rows["sign.jpg"]["text"] == "\n".join(SIGN)
    assert rows["notes.jpg"]["error_code"] == "unsupported_format" and rows["notes.jpg"]["text"] == ""


def test_predict_answers_its_array_and_the_text_when_asked(live_server, sign):
    plain = post(live_server, "/predict", {"file": ("sign.jpg", sign)}).json()
    assert isinstance(plain, list) and plain[0]["label"] == "espresso"
    read = post(live_server, "/predict", {"file": ("sign.jpg", sign)}, text="true").json()
    assert read["predictions"] == plain and texts(read) == list(SIGN)


@pytest.mark.parametrize(
    "make,expect",
    [(textcorpus.no_text_photo, "no-text"),
     (textcorpus.thin_strip, "no-text"),
     (lambda: textcorpus.huge_photo(49.9), "sign"),  # just under the 50 MP limit
     (lambda: textcorpus.rotated_sign(180), "sign"),
     (lambda: textcorpus.rotated_sign(90), "sign")],
    ids=["no-text", "20000x10-strip", "50-megapixels", "upside-down", "quarter-turn"],
)  # fmt: skip
def test_awkward_photos_get_an_answer_never_a_500(live_server, make, expect):
    r = post(live_server, CLASSIFY, {"file": ("photo.jpg", make())}, text="true")
    assert r.status_code == 200, r.text
    (row,) = r.json()["results"]
    assert row["error"] is None, row["error"]
    read = "".join(texts(row)).replace(" ", "")
    if expect == "no-text":
        assert row["text"] == []
    else:  # every line of the sign, in whichever order a turned photo gives them
        assert all(line.replace(" ", "") in read for line in textcorpus.SIGN_LINES), read


def test_classify_text_writes_a_text_column(tmp_path, sign):
    (tmp_path / "sign.jpg").write_bytes(sign)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    out = tmp_path / "results.csv"
    args = ["classify", str(tmp_path), "--text", "--model", "efficientnet_lite0", "--backend",
            "torch", "-f", "csv", "-o", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, args, prog_name="localvision")
    assert result.exit_code == 1, result.output  # one row failed, and only that row
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in csv.DictReader(io.StringIO(
        out.read_text("utf-8-sig")))}  # fmt: skip
    assert rows["sign.jpg"]["text"] == "\n".join(SIGN) and rows["sign.jpg"]["label_1"] == "espresso"
    assert rows["broken.jpg"]["error_code"] and rows["broken.jpg"]["text"] == ""


def test_models_lists_the_text_reader_and_its_package(tmp_path):
    store = ["--model-dir", str(tmp_path)]
    before = CliRunner().invoke(app, ["models", *store], env={"COLUMNS": "300"})
    assert "text reader ppocr-v6-small: made from the rapidocr" in before.output
    text_package(tmp_path, "ppocr-v6-small")
    after = CliRunner().invoke(app, ["models", *store], env={"COLUMNS": "300"})
    assert "text reader ppocr-v6-small: ready" in after.output and "PP-OCRv6" in after.output
