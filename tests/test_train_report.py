"""training/report.py: the report folder of a training run, on real photos (tests/trainset.py) and a
hand-computed case: the files, the numbers in them, the pictures (cells shaded by their counts,
Chinese class names drawn with real glyphs), the misclassified contact sheet."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from trainset import make_trainset

from localvision.training import report as rp
from localvision.training.report import draw_matrix, write_report

CLASSES = ("cat", "dog", "fox")
# A hand-computed case: rows = true, columns = predicted
#            cat dog fox
#   cat       3   1   0      precision cat 3/4, dog 2/3, fox 2/2
#   dog       0   2   0      recall    cat 3/4, dog 2/2, fox 2/3
#   fox       1   0   2      accuracy 7/9
Y_TRUE = [0, 0, 0, 0, 1, 1, 2, 2, 2]
Y_PRED = [0, 0, 0, 1, 1, 1, 0, 2, 2]
MATRIX = [[3, 1, 0], [0, 2, 0], [1, 0, 2]]


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[Path]:
    files = make_trainset(tmp_path_factory.mktemp("photos"), classes=3, crops=3)
    return [p for paths in files.values() for p in paths]


def run(folder: Path, photos, *, classes=CLASSES, y_true=Y_TRUE, y_pred=Y_PRED, **extra) -> dict:
    options = {
        "epochs": [
            {"epoch": 1, "lr": 0.1 * 0.1, "train_loss": 1.2, "val_acc": 0.5, "seconds": 1.5},
            {"epoch": 2, "lr": 0.005, "train_loss": 0.7, "val_acc": 7 / 9, "seconds": 1.25},
        ],
        "skipped": [("data/cat/notes.jpg", "unsupported_format")],
        "summary": {"name": "pets", "base": "efficientnet_lite0"},
        **extra,
    }
    return write_report(
        folder, classes=classes, y_true=y_true, y_pred=y_pred,
        val_paths=photos[: len(y_true)], **options,
    )  # fmt: skip


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def test_the_folder_holds_every_file(tmp_path, photos):
    out = run(tmp_path / "report", photos)
    folder = tmp_path / "report"
    assert sorted(p.name for p in folder.iterdir()) == sorted(rp.FILES.values())
    assert out["files"] == rp.FILES
    assert json.loads((folder / "report.json").read_text("utf-8")) == out
    assert out["name"] == "pets" and out["base"] == "efficientnet_lite0"  # the summary is kept
    assert read_csv(folder / "epochs.csv") == [
        ["epoch", "lr", "train_loss", "val_acc", "seconds"],
        ["1", "0.01", "1.2", "0.5", "1.5"],
        ["2", "0.005", "0.7", "0.777778", "1.25"],
    ]
    assert read_csv(folder / "skipped.csv") == [
        ["file", "reason"], ["data/cat/notes.jpg", "unsupported_format"]
    ]  # fmt: skip
    assert out["skipped"] == 1


def test_the_numbers_match_a_hand_computed_case(tmp_path, photos):
    out = run(tmp_path, photos)
    assert out["confusion_matrix"] == MATRIX
    assert out["val_images"] == 9 and out["accuracy"] == pytest.approx(7 / 9)
    expected = {  # class: precision, recall, f1, support
        "cat": (3 / 4, 3 / 4, 3 / 4, 4),
        "dog": (2 / 3, 1.0, 0.8, 2),
        "fox": (1.0, 2 / 3, 0.8, 3),
    }
    for row in out["per_class"]:
        p, r, f1, support = expected[row["class"]]
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((p, r, f1))
        assert row["support"] == support
    assert out["macro"]["recall"] == pytest.approx((3 / 4 + 1 + 2 / 3) / 3)
    assert read_csv(tmp_path / "per_class.csv") == [
        ["class", "precision", "recall", "f1", "support"],
        ["cat", "0.7500", "0.7500", "0.7500", "4"],
        ["dog", "0.6667", "1.0000", "0.8000", "2"],
        ["fox", "1.0000", "0.6667", "0.8000", "3"],
    ]


def test_a_class_never_answered_or_never_shown_has_no_precision_or_recall(tmp_path, photos):
    # "fox" is never predicted (precision undefined) and has no validation image (recall too)
    out = run(tmp_path, photos, y_true=[0, 0, 1], y_pred=[0, 1, 1])
    fox = out["per_class"][2]
    assert (fox["precision"], fox["recall"], fox["f1"], fox["support"]) == (None, None, None, 0)
    assert read_csv(tmp_path / "per_class.csv")[3] == ["fox", "", "", "", "0"]
    assert out["macro"]["precision"] == pytest.approx((1 + 0.5) / 2)


@pytest.mark.parametrize("normalized", [False, True])
def test_the_matrix_pictures_show_the_counts(tmp_path, photos, normalized):
    run(tmp_path, photos)
    name = "confusion_matrix_normalized.png" if normalized else "confusion_matrix.png"
    with Image.open(tmp_path / name) as im:
        im.load()
        picture = im.convert("RGB")
    drawn, (left, top, cell) = draw_matrix(np.array(MATRIX), CLASSES, normalized=normalized)
    assert picture.size == drawn.size
    assert picture.width > left + 3 * cell and picture.height > top + 3 * cell
    # each cell's shade (its corner, clear of the number) darkens with its count / row share
    shade = {}
    for i in range(3):
        for j in range(3):
            shade[i, j] = sum(picture.getpixel((left + j * cell + 3, top + i * cell + 3)))
    share = np.array(MATRIX) / (np.array(MATRIX).sum(axis=1, keepdims=True))
    value = share if normalized else np.array(MATRIX)
    order = sorted(shade, key=lambda ij: value[ij])
    assert [shade[ij] for ij in order] == sorted(shade.values(), reverse=True)
    assert shade[0, 2] == sum(rp.BLUE_LIGHT)  # an empty cell is the scale's light end
    # and each cell has its number written in it: not one flat colour
    for i in range(3):
        for j in range(3):
            box = (left + j * cell + 4, top + i * cell + 4, left + (j + 1) * cell - 4,
                   top + (i + 1) * cell - 4)  # fmt: skip
            assert len(picture.crop(box).getcolors(10_000)) > 2


def test_chinese_class_names_are_drawn_with_real_glyphs(tmp_path, photos):
    # scripts/test.sh installs fonts-wqy-microhei: without a CJK font this fails, never skips
    assert rp.cjk_font() is not None
    f = rp.font(24)
    cat, dog = (np.asarray(f.getmask(c)) for c in ("猫", "狗"))
    assert cat.any() and dog.any() and not np.array_equal(cat, dog)  # no tofu (one box for all)
    # the same matrix with the two names swapped is another picture: the names are drawn
    one, _ = draw_matrix(np.array([[2, 1], [0, 3]]), ("猫", "狗"), normalized=False)
    two, _ = draw_matrix(np.array([[2, 1], [0, 3]]), ("狗", "猫"), normalized=False)
    assert one.size == two.size and one.tobytes() != two.tobytes()
    out = run(tmp_path, photos, classes=("猫", "狗", "狐狸"))
    assert [r["class"] for r in out["per_class"]] == ["猫", "狗", "狐狸"]
    assert "狐狸" in (tmp_path / "report.json").read_text("utf-8")
    assert read_csv(tmp_path / "per_class.csv")[3][0] == "狐狸"


def test_the_misclassified_sheet_has_one_tile_per_wrong_answer(tmp_path, photos):
    out = run(tmp_path, photos)
    wrong = [i for i, (t, p) in enumerate(zip(Y_TRUE, Y_PRED)) if t != p]
    assert out["misclassified"] == out["misclassified_shown"] == 2
    assert out["misclassified_files"] == [str(photos[i]) for i in wrong]
    with Image.open(tmp_path / "misclassified.jpg") as im:
        im.load()
        assert im.format == "JPEG"
        sheet = im.convert("L")
    tile = rp.THUMB + 8
    assert sheet.width >= 2 * tile and sheet.height < 2 * (rp.THUMB + 8)  # one row of two
    # both tiles hold a picture (not the blank sheet)
    for k in range(2):
        x = 8 + k * tile
        box = sheet.crop((x, 40, x + rp.THUMB, 40 + rp.THUMB // 2))
        assert np.asarray(box).std() > 10


def test_many_misclassified_are_capped_on_the_sheet_and_counted_in_full(tmp_path, photos):
    n = rp.SHEET_MAX + 6
    paths = (photos * 10)[:n]
    out = write_report(
        tmp_path, classes=CLASSES, epochs=[], y_true=[0] * n, y_pred=[1] * n, val_paths=paths,
        skipped=[], summary={},
    )  # fmt: skip
    assert out["misclassified"] == n and out["misclassified_shown"] == rp.SHEET_MAX
    with Image.open(tmp_path / "misclassified.jpg") as im:
        rows = rp.SHEET_MAX // rp.COLUMNS
        assert im.width == rp.COLUMNS * (rp.THUMB + 8) + 8
        assert im.height == 30 + rows * (rp.THUMB + rp.CAPTION + 8) + 8  # the title, 8 rows
    assert read_csv(tmp_path / "epochs.csv") == [["epoch"]]


def test_no_misclassified_means_no_sheet(tmp_path, photos):
    run(tmp_path, photos)  # an earlier report in the same folder had one
    assert (tmp_path / "misclassified.jpg").exists()
    out = run(tmp_path, photos, y_pred=Y_TRUE)
    assert out["misclassified"] == 0 and out["accuracy"] == 1.0
    assert "misclassified" not in out["files"]
    assert not (tmp_path / "misclassified.jpg").exists()


def test_a_photo_gone_since_the_check_is_a_grey_tile(tmp_path, photos):
    gone = tmp_path / "gone.jpg"
    out = write_report(
        tmp_path / "r", classes=CLASSES, epochs=[], y_true=[0], y_pred=[2], val_paths=[gone],
        skipped=[], summary={},
    )  # fmt: skip
    assert out["misclassified"] == 1
    with Image.open(tmp_path / "r" / "misclassified.jpg") as im:
        centre = im.convert("RGB").getpixel((8 + 10, 30 + 8 + 10))
    assert max(abs(a - b) for a, b in zip(centre, (222, 226, 230))) < 12


def test_an_image_without_an_answer_counts_as_wrong_but_stays_out_of_the_matrix(tmp_path, photos):
    # the trainer writes -1 for an output that was not finite
    out = run(tmp_path, photos, y_true=[0, 0, 1, 2], y_pred=[0, -1, 1, 2])
    assert out["confusion_matrix"] == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    assert out["unanswered"] == 1 and out["val_images"] == 4
    assert out["accuracy"] == pytest.approx(3 / 4) and out["misclassified"] == 1
    cat = out["per_class"][0]
    assert (cat["precision"], cat["recall"], cat["support"]) == (1.0, 0.5, 2)
