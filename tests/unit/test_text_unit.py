"""Reading text, its parts on their own: the road's Read step with a fake preparer, backend and
reader (per-row errors, both drivers, a file object read once), the reading order, and the
reader's package in the store (made from the rapidocr wheel, checked by SHA-256)."""

from __future__ import annotations

import asyncio
import io
import json

import numpy as np
import pytest

from localvision.errors import CorruptImage, TextModelDamaged, TextReadingFailed
from localvision.prepare import Prepared
from localvision.results import Answer, TextLine, text_of
from localvision.road import Item, Road
from localvision.text.order import reading_order
from localvision.text.package import text_package

pytestmark = pytest.mark.unit

LABELS = ("cat", "dog")
ASK_TEXT = Answer(top_k=1, lang="en", min_confidence=0.1, groups=False, text=True)


class Spec:
    labels = LABELS
    groups = None

    def labels_in(self, lang):
        return self.labels


class Preparer:
    """b"0"/b"1": a photo of class 0/1; b"bad": a damaged file."""

    def prepare(self, source, exact=None):
        if source == b"bad":
            raise CorruptImage("damaged")
        logits = np.zeros(2, np.float32)
        logits[int(source)] = 9.0
        return Prepared(logits)


class Reader:
    """Reads "line of <bytes>"; fails on the photo of class 1."""

    def __init__(self):
        self.read_bytes = []

    def read(self, data):
        self.read_bytes.append(data)
        if data == b"1":
            raise TextReadingFailed("the engine failed")
        return [TextLine(f"line of {data.decode()}", 0.9, ((0, 0), (1, 0), (1, 1), (0, 1)))]


def infer(arrays):
    z = np.stack(arrays)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


async def ainfer(arrays):
    return infer(arrays)


async def run_jobs(jobs):
    return [job() for job in jobs]


def items():
    return [Item("a", b"0"), Item("b", b"bad"), Item("c", b"1"), Item("d", io.BytesIO(b"0"))]


@pytest.mark.parametrize("driver", ["run", "run_async"])
def test_the_road_reads_text_per_row_and_an_error_fails_only_its_row(driver):
    reader = Reader()
    road = Road(Preparer(), Spec(), chunk=2, recheck_margin=0, reader=reader)
    if driver == "run":
        rows = road.run(items(), ASK_TEXT, infer, workers=2)
    else:
        rows = asyncio.run(road.run_async(items(), ASK_TEXT, ainfer, run_jobs))
    a, b, c, d = rows
    assert a.predictions[0].label == "cat" and text_of(a.text) == "line of 0"
    assert b.error.code == "corrupt_image" and b.text is None  # never decoded: never read
    assert c.error.code == "text_reading_failed" and c.predictions == []  # error or answer
    assert d.ok and text_of(d.text) == "line of 0"  # a file object read once, its bytes kept
    assert sorted(reader.read_bytes) == [b"0", b"0", b"1"]


def test_without_text_asked_nothing_is_read_and_no_text_is_answered():
    reader = Reader()
    road = Road(Preparer(), Spec(), chunk=4, recheck_margin=0, reader=reader)
    rows = road.run(items()[:1], Answer(top_k=1, lang="en", min_confidence=0.1, groups=False),
                    infer)  # fmt: skip
    assert reader.read_bytes == [] and rows[0].text is None and "text" not in rows[0].to_dict()


def test_a_road_without_a_reader_says_so_per_row():
    road = Road(Preparer(), Spec(), chunk=4, recheck_margin=0)
    (row,) = road.run(items()[:1], ASK_TEXT, infer)
    assert row.error.code == "text_reading_unavailable"


def line(text: str, x: float, y: float, w: float = 50, h: float = 20) -> TextLine:
    return TextLine(text, 0.9, ((x, y), (x + w, y), (x + w, y + h), (x, y + h)))


def test_lines_are_read_in_rows_top_to_bottom_then_left_to_right():
    lines = [line("price", 200, 14), line("name", 10, 10), line("footer", 10, 100),
             line("second", 10, 45)]  # fmt: skip
    assert [ln.text for ln in reading_order(lines)] == ["name", "price", "second", "footer"]


def test_the_package_is_made_from_the_wheel_and_refused_when_a_part_changes(tmp_path):
    package = text_package(tmp_path, "ppocr-v6-small")
    manifest = json.loads((package.path / "manifest.json").read_text())
    assert manifest["kind"] == "text" and manifest["engine"]["name"] == "rapidocr"
    assert set(manifest["parts"]) == {"detector", "orientation", "recogniser"}
    assert all(len(p["sha256"]) == 64 for p in manifest["parts"].values())
    assert text_package(tmp_path, "ppocr-v6-small").path == package.path  # found, not made again
    with open(package.file("recogniser"), "r+b") as f:
        f.seek(100)
        f.write(b"\x00damaged")
    with pytest.raises(TextModelDamaged) as info:
        text_package(tmp_path, "ppocr-v6-small")
    assert info.value.status == 503 and "SHA-256" in info.value.message
