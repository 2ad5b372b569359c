"""`--write-xmp`, read back by a real reader: exiftool (Debian's libimage-exiftool-perl, which
scripts/test.sh installs), the library digiKam and most photo tools' metadata code agrees with.
Sidecars made by exiftool itself, with other keywords and fields, must survive our merge; a
rerun never doubles our keywords; Chinese keywords and hierarchical subjects come through. With
--text, the text read becomes dc:description, never over someone else's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from corpus import GOLDEN, SIGN, real_photo_bytes, sign_photo_bytes
from typer.testing import CliRunner

from localvision.cli import app
from localvision.models.groups import group_map
from localvision.streams import xmp

LITE0 = ["--model", "efficientnet_lite0", "--precision", "fp32"]
EXIFTOOL = shutil.which("exiftool")


@pytest.fixture(scope="module")
def exiftool() -> str:
    assert EXIFTOOL, "exiftool is missing: apt-get install libimage-exiftool-perl (scripts/test.sh)"
    return EXIFTOOL


def read(exiftool: str, sidecar: Path, *tags: str) -> dict:
    """What exiftool reads from a sidecar (all its XMP, or `tags`); list tags always as lists."""
    proc = subprocess.run([exiftool, "-j", *(tags or ["-XMP:all"]), str(sidecar)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    (tags,) = json.loads(proc.stdout)
    for key in ("Subject", "HierarchicalSubject"):
        if isinstance(tags.get(key), str):
            tags[key] = [tags[key]]
    return tags


def classify(*args):
    result = CliRunner().invoke(app, ["classify", *map(str, args), *LITE0, "--format", "json"],
                                env={"COLUMNS": "400"})  # fmt: skip
    assert "Traceback" not in result.output
    return result


def expected(row: dict) -> tuple[list[str], list[str]]:
    """The keywords a row should give, from the row itself and the groups' data file: each
    label at least 0.2 (min_confidence) probable, after its group where it has one."""
    lang = "zh" if row["predictions"][0]["label"] != row["predictions"][0]["label_en"] else "en"
    group_of = {int(i): g for g in group_map("imagenet") for i in g.members}
    flat, tree = [], []
    for p in row["predictions"]:
        if p["probability"] < 0.2:
            continue
        g = group_of.get(p["index"])
        if g:
            flat += [g.names[lang], p["label"]]
            tree.append(f"{g.names[lang]}|{p['label']}")
        else:
            flat.append(p["label"])
            tree.append(p["label"])
    return list(dict.fromkeys(flat)), list(dict.fromkeys(tree))


@pytest.fixture
def album(tmp_path, photos) -> Path:
    d = tmp_path / "album"
    d.mkdir()
    for name in ("coffee", "chelsea"):
        (d / f"{name}.jpg").write_bytes(photos[name])
    (d / "astronaut.jpg").write_bytes(real_photo_bytes("astronaut"))  # "not sure"
    return d


def test_keywords_and_hierarchical_subjects_read_by_exiftool(exiftool, album, tmp_path,
                                                             lite0_package):  # fmt: skip
    result = classify(album, "--write-xmp", "--sort-into", tmp_path / "sorted")
    assert result.exit_code == 0, result.stderr
    rows = {Path(r["path"]).stem: r for r in json.loads(result.stdout)}
    assert "2 XMP sidecars written" in result.stderr
    for name in ("coffee", "chelsea"):
        assert rows[name]["predictions"][0]["label"] == GOLDEN[name]
        tags = read(exiftool, album / f"{name}.jpg.xmp")
        flat, tree = expected(rows[name])
        assert tags["Subject"] == flat and tags["HierarchicalSubject"] == tree
        assert tags["Classifier"] == "efficientnet_lite0"
        assert GOLDEN[name] in flat and any("|" in t for t in tree), tree  # both are in groups
        # the copy beside the sorted link says the same
        beside = tmp_path / "sorted" / GOLDEN[name] / f"{name}.jpg.xmp"
        assert read(exiftool, beside)["Subject"] == flat
    assert rows["astronaut"]["uncertain"] is True
    assert not (album / "astronaut.jpg.xmp").exists()  # "not sure" claims no keyword
    assert not list(album.glob(".*"))  # no temporary file left behind


def test_an_existing_sidecar_is_merged_and_a_rerun_doubles_nothing(exiftool, album,
                                                                   lite0_package):  # fmt: skip
    coffee, sidecar = album / "coffee.jpg", album / "coffee.jpg.xmp"
    # someone's sidecar, written by exiftool: their keywords (one of them also ours), a
    # hierarchical subject, a title and a rating, in three rdf:Descriptions
    subprocess.run(
        [exiftool, "-q", "-XMP-dc:Subject=holiday", f"-XMP-dc:Subject={GOLDEN['coffee']}",
         "-XMP-dc:Subject=family", "-XMP-lr:HierarchicalSubject=places|kitchen",
         "-XMP-dc:Title=Our kitchen", "-XMP-xmp:Rating=5", "-o", str(sidecar)],
        check=True,
    )  # fmt: skip
    for _ in range(2):
        result = classify(coffee, "--write-xmp")
        assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)
    flat, tree = expected(row)
    tags = read(exiftool, sidecar)
    assert tags["Subject"] == ["holiday", GOLDEN["coffee"], "family"] + [
        k for k in flat if k != GOLDEN["coffee"]
    ]
    assert tags["HierarchicalSubject"] == ["places|kitchen", *tree]
    assert (tags["Title"], tags["Rating"]) == ("Our kitchen", 5)

    # in Chinese now: our English keywords are replaced; theirs stay, "espresso" too
    result = CliRunner().invoke(app, ["classify", str(coffee), *LITE0, "--format", "json",
                                      "--write-xmp", "--lang", "zh"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    (row_zh,) = json.loads(result.stdout)
    flat_zh, tree_zh = expected(row_zh)
    assert row_zh["predictions"][0]["label"] != GOLDEN["coffee"]  # a Chinese label
    tags = read(exiftool, sidecar)
    assert tags["Subject"] == ["holiday", GOLDEN["coffee"], "family", *flat_zh]
    assert tags["HierarchicalSubject"] == ["places|kitchen", *tree_zh]
    assert all("\u4e00" <= k[0] <= "\u9fff" for k in flat_zh)  # CJK, read back intact
    assert (tags["Title"], tags["Rating"]) == ("Our kitchen", 5)


def test_the_lightroom_form_photo_xmp(exiftool, album, lite0_package):
    result = classify(album / "coffee.jpg", "--write-xmp", "--xmp-sidecar", "photo.xmp")
    assert result.exit_code == 0, result.stderr
    assert not (album / "coffee.jpg.xmp").exists()
    (row,) = json.loads(result.stdout)
    assert read(exiftool, album / "coffee.xmp")["Subject"] == expected(row)[0]


def test_an_unreadable_sidecar_is_left_as_it_is(album, lite0_package):
    sidecar = album / "coffee.jpg.xmp"
    sidecar.write_bytes(b"<x:xmpmeta> not XML at all")
    result = classify(album / "coffee.jpg", album / "chelsea.jpg", "--write-xmp")
    assert result.exit_code == 1  # something failed, and said so
    assert "warning: sidecar_failed:" in result.stderr and "left as it is" in result.stderr
    assert sidecar.read_bytes() == b"<x:xmpmeta> not XML at all"
    rows = json.loads(result.stdout)
    assert [r["predictions"][0]["label"] for r in rows] == [GOLDEN["coffee"], GOLDEN["chelsea"]]
    assert (album / "chelsea.jpg.xmp").exists()  # the next photo went on


# --- the text read (--text): dc:description -------------------------------------------------------
def description(exiftool: str, sidecar: Path) -> str | None:
    """The caption photo tools show: dc:description's x-default, as exiftool reads it."""
    return read(exiftool, sidecar, "-XMP-dc:Description").get("Description")


def test_the_text_is_the_description_and_never_someone_elses(exiftool, tmp_path):
    """The writer itself, with text that would break XML written as it comes, and the sidecars
    a person's tool made: their caption stays; ours is replaced only while it is ours."""
    photo = tmp_path / "sign.jpg"
    photo.touch()
    sidecar = tmp_path / "sign.jpg.xmp"
    text = '禁止吸烟\nNo Smoking <b>&"\' & ]]> 出口'
    xmp.write(photo, ["espresso"], ["espresso"], "m", "photo.jpg.xmp", text)
    assert description(exiftool, sidecar) == text  # UTF-8 and escaping, exactly
    xmp.write(photo, ["espresso"], ["espresso"], "m", "photo.jpg.xmp", "EXIT 2026")
    assert description(exiftool, sidecar) == "EXIT 2026"  # ours, so replaced
    for none in (None, ""):  # no text read (or not asked): the description stays
        xmp.write(photo, ["cup"], ["cup"], "m", "photo.jpg.xmp", none)
        tags = read(exiftool, sidecar)
        assert (tags["Description"], tags["Subject"]) == ("EXIT 2026", ["cup"])
    xmp.write(photo, [], [], "m", "photo.jpg.xmp", "bad \x00\x1b char\r\nnext")
    assert description(exiftool, sidecar) == "bad  char\nnext"  # what XML can hold

    # a person edits our caption: theirs now, kept, and no longer ours to replace
    subprocess.run([exiftool, "-q", "-overwrite_original", "-XMP-dc:Description=Our café",
                    str(sidecar)], check=True)  # fmt: skip
    xmp.write(photo, ["cup"], ["cup"], "m", "photo.jpg.xmp", "禁止吸烟")
    tags = read(exiftool, sidecar)
    assert tags["Description"] == "Our café" and "AddedDescription" not in tags
    assert tags["Subject"] == ["cup"]  # the keywords still merged

    # a sidecar someone's tool made, with a caption in two languages: never touched
    other = tmp_path / "other.jpg"
    other.touch()
    subprocess.run([exiftool, "-q", "-XMP-dc:Description=Menu board",
                    "-XMP-dc:Description-zh-CN=菜单", "-XMP-dc:Title=Lunch",
                    "-o", str(tmp_path / "other.jpg.xmp")], check=True)  # fmt: skip
    xmp.write(other, [], [], "m", "photo.jpg.xmp", "禁止吸烟")
    tags = read(exiftool, tmp_path / "other.jpg.xmp", "-XMP-dc:all")
    assert (tags["Description"], tags["Description-zh-CN"], tags["Title"]) == (
        "Menu board", "菜单", "Lunch")  # fmt: skip


def test_classify_text_write_xmp_describes_the_photo(exiftool, tmp_path, lite0_package):
    """The sign photo through the CLI: without --text (as before) keywords and no description;
    with --text its lines, Chinese and English, read back by exiftool as they were read."""
    photo, sidecar = tmp_path / "sign.jpg", tmp_path / "sign.jpg.xmp"
    photo.write_bytes(sign_photo_bytes())
    plain = classify(photo, "--write-xmp")
    assert plain.exit_code == 0, plain.stderr
    (row,) = json.loads(plain.stdout)
    keywords = expected(row)[0]
    assert keywords and read(exiftool, sidecar)["Subject"] == keywords
    assert "Description" not in read(exiftool, sidecar)  # no --text: no description

    result = classify(photo, "--write-xmp", "--text")
    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert [line["text"] for line in row["text"]] == list(SIGN)
    tags = read(exiftool, sidecar)
    assert tags["Description"] == "\n".join(SIGN)
    assert tags["Subject"] == keywords  # the keywords as they were, not doubled
