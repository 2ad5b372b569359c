"""The example photos bundled with the UI (server/static/examples/): small JPEGs, each listed with
its source and licence in the folder's README.md, and each still recognized as what it shows by
the real EfficientNet-Lite0 weights (the Recognize page offers them as one-click examples)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from localvision.server.routes.ui import STATIC

EXAMPLES = STATIC / "examples"
# The photo's top label with the bundled model (chelsea: the model hesitates between cat kinds).
EXPECTED = {
    "coffee.jpg": {"espresso"},
    "chelsea.jpg": {"tiger cat", "Egyptian cat", "tabby"},
    "rocket.jpg": {"missile"},
    "grace_hopper.jpg": {"academic gown", "military uniform", "mortarboard"},
    "astronaut.jpg": None,  # ImageNet has no astronaut; any answer will do
}


def photos() -> list[Path]:
    return sorted(EXAMPLES.glob("*.jpg"))


def test_the_examples_are_the_five_photos():
    assert [p.name for p in photos()] == sorted(EXPECTED)


@pytest.mark.parametrize("path", photos(), ids=lambda p: p.name)
def test_each_example_is_a_small_jpeg(path):
    with Image.open(path) as image:
        assert image.format == "JPEG"
        assert max(image.size) <= 640
        assert min(image.size) >= 200  # still a photo worth looking at
    assert path.stat().st_size <= 60 * 1024


def test_each_example_names_its_source_and_licence():
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([^`]+)` \|.*$", readme, re.M)}
    assert sorted(rows) == sorted(p.name for p in photos())
    for name, row in rows.items():
        assert re.search(r"CC0|public domain", row), f"{name}: no licence named"
        assert re.search(r"scikit-image|matplotlib", row), f"{name}: no source named"


def test_the_model_recognizes_the_examples(lite0):
    results = lite0.predict(photos(), top_k=3)
    for path, result in zip(photos(), results):
        assert result.error is None, path.name
        wanted = EXPECTED[path.name]
        if wanted is not None:
            assert result.predictions[0].label in wanted, (path.name, result.predictions)
    coffee = results[[p.name for p in photos()].index("coffee.jpg")]
    assert coffee.predictions[0].probability > 0.5  # the page's own test clicks this one
