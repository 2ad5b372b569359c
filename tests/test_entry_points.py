"""One road, four entry points: the Python API, the CLI, POST /api/v1/classify and the ZIP route
give the same results, errors included, for the same mixed inputs (real photos in several
formats and sizes, a large JPEG that takes the fast decode and its near-tie re-check, and broken
files of several kinds)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import httpx
import pytest
from corpus import photo, real_photo_bytes
from PIL import Image
from servers import LiveServer, wait_ready
from typer.testing import CliRunner

SETTINGS = {"model": "efficientnet_lite0", "offline": True, "precision": "fp32"}


@pytest.fixture(scope="module")
def mixed(photos) -> list[tuple[str, bytes]]:
    big = io.BytesIO()
    photo("chelsea").resize((2600, 1950), Image.Resampling.LANCZOS).save(big, "JPEG", quality=92)
    coffee = photos["coffee"]
    return [
        ("coffee.jpg", coffee),
        ("chelsea.png", real_photo_bytes("chelsea", "PNG")),
        ("camera.webp", real_photo_bytes("camera", "WEBP")),
        ("big-chelsea.jpg", big.getvalue()),  # 1/4-scale decode; a near-tie, so re-checked
        ("notes.jpg", b"hello, this is not an image"),
        ("cut.jpg", coffee[: len(coffee) // 3]),
        ("empty.jpg", b""),
        ("header.png", real_photo_bytes("rocket", "PNG")[:30]),
        ("grace_hopper.jpg", photos["grace_hopper"]),
    ]


def normalise(rows: list[dict], name_key: str) -> list[tuple]:
    """(name, [(index, label, probability to 1e-5)], error) per row: what must be identical."""
    return [
        (
            Path(row[name_key]).name,
            [(p["index"], p["label"], round(p["probability"], 5)) for p in row["predictions"]],
            row["error"],
        )
        for row in rows
    ]


def via_python(mixed) -> list[tuple]:
    from localvision import load_classifier

    clf = load_classifier(**SETTINGS)
    results = clf.predict([d for _, d in mixed], top_k=3, names=[n for n, _ in mixed])
    return normalise([{"path": r.source, **r.to_dict()} for r in results], "path")


def via_cli(mixed, tmp_path) -> list[tuple]:
    from localvision.cli import app

    paths = []
    for name, data in mixed:
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    args = ["classify", *paths, "--format", "json", "--top-k", "3", "--model", SETTINGS["model"]]
    result = CliRunner().invoke(app, [*args, "--precision", "fp32"])
    assert result.exit_code == 1, result.output  # some inputs failed, the others did not
    return normalise(json.loads(result.stdout), "path")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The service loading its own model from the same settings."""
    from localvision.config import Settings
    from localvision.server.app import create_app

    db = tmp_path_factory.mktemp("entry-db") / "h.db"
    settings = Settings(**SETTINGS, db=f"sqlite:///{db}", rate_limit="off")
    with LiveServer(create_app(settings)) as live:
        wait_ready(live.url, timeout=120)
        yield live.url


def via_http(mixed, server) -> list[tuple]:
    files = [("file", (name, data)) for name, data in mixed]
    r = httpx.post(server + "/api/v1/classify", files=files, params={"top_k": 3}, timeout=120)
    assert r.status_code == 200, r.text
    return normalise(r.json()["results"], "filename")


def via_zip(mixed, server) -> list[tuple]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in mixed:
            zf.writestr(name, data)
    r = httpx.post(
        server + "/api/v1/classify/zip",
        files={"file": ("mixed.zip", buf.getvalue())},
        params={"top_k": 3},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    return normalise(r.json()["results"], "filename")


def test_every_entry_point_gives_the_same_answers(mixed, server, tmp_path):
    reference = via_python(mixed)
    codes = [row[2]["code"] if row[2] else None for row in reference]
    assert codes == [None] * 4 + ["unsupported_format", "corrupt_image", "empty_file"] + [
        "corrupt_image", None
    ]
    # the enlarged cat is a near-tie; its re-checked answer is the full decode's
    assert [row[1][0][1] for row in reference if row[1]] == [
        "espresso", "tiger cat", "tripod", "Egyptian cat", "academic gown"
    ]
    assert via_cli(mixed, tmp_path) == reference
    assert via_http(mixed, server) == reference
    assert via_zip(mixed, server) == reference
