"""The report folder a training run leaves beside its model: what Ultralytics' `yolo classify
train` leaves in its run folder, which is what users have learned to look for.

    epochs.csv                        one row per epoch (epoch, lr, losses, accuracies, seconds)
    confusion_matrix.png              true class (rows) × predicted class (columns), counts
    confusion_matrix_normalized.png   the same, each row as percentages of its true class
    per_class.csv                     class, precision, recall, f1, support (validation images)
    misclassified.jpg                 thumbnails of the wrong validation answers, "true → predicted"
                                      (no file when none is wrong)
    skipped.csv                       file, reason: the files that could not be read
    report.json                       all of it in one document (what the Teach page shows)

Drawn with Pillow (a dependency already; matplotlib is only a test dependency and would add
~40 MB to the image for two pictures). Class names may be Chinese: they are drawn with a CJK
font where one is installed (streams.annotate.cjk_font: Debian's fonts-wqy-microhei first),
else with Pillow's own font, whose missing glyphs are boxes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..csvfile import write_csv
from ..imaging import decode, read_source
from ..streams.annotate import cjk_font

FILES = {
    "epochs": "epochs.csv",
    "confusion_matrix": "confusion_matrix.png",
    "confusion_matrix_normalized": "confusion_matrix_normalized.png",
    "per_class": "per_class.csv",
    "misclassified": "misclassified.jpg",
    "skipped": "skipped.csv",
    "report": "report.json",
}
# The contact sheet: tiles of THUMB px, COLUMNS a row, at most SHEET_MAX pictures (the report
# says how many there were in all); thumbnails decode at a reduced scale.
THUMB = 160
CAPTION = 22  # the caption's line under each thumbnail
COLUMNS = 8
SHEET_MAX = 64
THUMB_PIXELS = 50_000_000  # the files were checked with the max_pixels setting already
# Matrix cells: large enough for "100%" in a readable size, smaller for many classes.
CELL_MAX, CELL_MIN = 64, 26
LABEL_MAX_PX = 240  # longer class names are cut with "…"
INK = (33, 37, 41)
GRID = (206, 212, 218)
BLUE_LIGHT, BLUE_DARK = np.array([247, 251, 255]), np.array([8, 48, 107])  # matplotlib "Blues"


@lru_cache(maxsize=16)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A font of this size that draws Chinese where a CJK font is installed."""
    path = cjk_font()
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size)


# --- the numbers ---------------------------------------------------------------------------------
def confusion(y_true: Sequence[int], y_pred: Sequence[int], n: int) -> np.ndarray:
    """(n, n + 1) counts: row = the true class, column = the predicted one; the last column
    counts the images the model gave no answer for (a prediction outside the classes: the
    trainer's -1 for an output that was not finite)."""
    true, pred = np.asarray(y_true, int).reshape(-1), np.asarray(y_pred, int).reshape(-1)
    if true.size and (true.min() < 0 or true.max() >= n):
        raise ValueError(f"true labels outside 0..{n - 1}")
    matrix = np.zeros((n, n + 1), dtype=np.int64)
    np.add.at(matrix, (true, np.where((pred >= 0) & (pred < n), pred, n)), 1)
    return matrix


def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if b else None  # undefined (no such answer / no such image): None


def per_class(matrix: np.ndarray, classes: Sequence[str]) -> list[dict]:
    """Precision (of the answers "c", how many were c), recall (of the images of c, how many were
    found), F1 and support per class, from `confusion`'s matrix; None where a ratio has nothing
    to count."""
    rows = []
    for i, name in enumerate(classes):
        hit, predicted, support = matrix[i, i], matrix[:, i].sum(), matrix[i].sum()
        p, r = _ratio(hit, predicted), _ratio(hit, support)
        if p is None or r is None:
            f1 = None
        else:
            f1 = 2 * p * r / (p + r) if p + r else 0.0
        rows.append({"class": name, "precision": p, "recall": r, "f1": f1, "support": int(support)})
    return rows


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(sum(values) / len(values)) if values else None


# --- the report ----------------------------------------------------------------------------------
def write_report(
    folder: Path,
    *,
    classes: Sequence[str],
    epochs: list[dict],
    y_true: Sequence[int],
    y_pred: Sequence[int],
    val_paths: Sequence[Path],
    skipped: Sequence[tuple[str, str]],
    summary: dict,
) -> dict:
    """Write the report folder (created) and return report.json's content."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    classes = list(classes)
    if not len(y_true) == len(y_pred) == len(val_paths):
        raise ValueError(
            f"{len(y_true)} true labels, {len(y_pred)} predictions, {len(val_paths)} paths"
        )
    n = len(classes)
    full = confusion(y_true, y_pred, n)
    matrix, unanswered = full[:, :n], int(full[:, n].sum())
    rows = per_class(full, classes)
    total = int(full.sum())
    wrong = [i for i, (t, p) in enumerate(zip(y_true, y_pred)) if t != p]

    _write_csv(
        folder / FILES["epochs"],
        _columns(epochs),
        [[e.get(k) for k in _columns(epochs)] for e in epochs],
    )
    _write_csv(
        folder / FILES["per_class"],
        ["class", "precision", "recall", "f1", "support"],
        [
            [r["class"], _cell(r["precision"]), _cell(r["recall"]), _cell(r["f1"]), r["support"]]
            for r in rows
        ],
    )
    _write_csv(folder / FILES["skipped"], ["file", "reason"], [list(s) for s in skipped])
    accuracy = _ratio(np.trace(matrix), total)
    title = f"{total} validation images" + (f", accuracy {accuracy:.1%}" if total else "")
    if unanswered:
        title += f", {unanswered} without an answer (not in the matrix)"
    draw_matrix(matrix, classes, normalized=False, title=title)[0].save(
        folder / FILES["confusion_matrix"]
    )
    draw_matrix(matrix, classes, normalized=True, title=title)[0].save(
        folder / FILES["confusion_matrix_normalized"]
    )
    sheet = folder / FILES["misclassified"]
    sheet.unlink(missing_ok=True)  # a report written again over an older one
    if wrong:
        shown = wrong[:SHEET_MAX]
        contact_sheet(
            [val_paths[i] for i in shown],
            [(classes[y_true[i]], _name(classes, y_pred[i])) for i in shown],
            title=f"{len(wrong)} of {total} validation images misclassified (true → predicted)"
            + (f", the first {len(shown)} shown" if len(shown) < len(wrong) else ""),
        ).save(sheet, quality=85)

    files = {k: v for k, v in FILES.items() if k != "misclassified" or wrong}
    report = {
        **summary,
        "classes": classes,
        "val_images": total,
        "accuracy": accuracy,
        "macro": {k: _mean(r[k] for r in rows) for k in ("precision", "recall", "f1")},
        "per_class": rows,
        "confusion_matrix": matrix.tolist(),
        "unanswered": unanswered,
        "misclassified": len(wrong),
        "misclassified_shown": min(len(wrong), SHEET_MAX),
        "misclassified_files": [str(val_paths[i]) for i in wrong],
        "skipped": len(skipped),
        "skipped_files": [{"file": f, "reason": r} for f, r in skipped],
        "epochs": epochs,
        "files": files,
    }
    text = json.dumps(report, indent=2, ensure_ascii=False, default=_json_default)
    (folder / FILES["report"]).write_text(text + "\n", encoding="utf-8")
    return json.loads(text)


def _name(classes: Sequence[str], index: int) -> str:
    return classes[index] if 0 <= index < len(classes) else "?"  # no answer


def _columns(epochs: list[dict]) -> list[str]:
    """The keys of the epoch rows in the order they first appear (a key missing in some: empty)."""
    seen: dict[str, None] = {}
    for e in epochs:
        seen.update(dict.fromkeys(e))
    return list(seen) or ["epoch"]


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    write_csv(path, header, [[_csv_value(v) for v in row] for row in rows])


def _csv_value(value) -> str:
    """None empty, floats to 6 significant digits (0.00015, not 0.00015000000000000001; the JSON
    keeps them whole)."""
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        return format(float(value), ".6g")
    return str(value)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


# --- drawing -------------------------------------------------------------------------------------
def _blue(t: float) -> tuple[int, int, int]:
    return tuple(int(v) for v in np.rint(BLUE_LIGHT + (BLUE_DARK - BLUE_LIGHT) * t))


def _fit(text: str, f, width: int) -> str:
    """text, cut with "…" to fit `width` px."""
    if f.getlength(text) <= width:
        return text
    while text and f.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


def draw_matrix(
    matrix: np.ndarray, classes: Sequence[str], *, normalized: bool, title: str = ""
) -> tuple[Image.Image, tuple[int, int, int]]:
    """The confusion matrix as a picture, and where its grid is: (left, top, cell size).

    Rows are the true classes, columns the predicted ones, both named; each cell holds its
    count (or, normalized, its share of the row's true class) on a white-to-blue scale."""
    n = len(classes)
    cell = max(CELL_MIN, min(CELL_MAX, 640 // max(n, 1)))
    f_label, f_cell, f_title = font(max(11, cell // 3)), font(max(9, cell * 2 // 7)), font(16)
    names = [_fit(c, f_label, LABEL_MAX_PX) for c in classes]
    label_w = int(max([f_label.getlength(s) for s in names] + [10])) + 12
    pad = 16
    axis = 22  # the "True" and "Predicted" axis titles
    left, top = pad + axis + label_w, pad + 28 + 24  # the heading, its line, then the grid
    width = left + n * cell + pad + 56  # room at the right for the colour scale
    height = top + n * cell + label_w + axis + pad
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)

    sums = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, sums, out=np.zeros(matrix.shape, float), where=sums > 0)
    shade = share if normalized else matrix / max(int(matrix.max()), 1)
    heading = "Confusion matrix, normalised by true class" if normalized else "Confusion matrix"
    draw.text((pad, pad), heading, font=f_title, fill=INK)
    if title:
        draw.text((pad, pad + 22), title, font=font(13), fill=(90, 98, 106))
    for i in range(n):
        for j in range(n):
            x, y = left + j * cell, top + i * cell
            colour = _blue(float(shade[i, j]))
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=colour, outline=GRID)
            if normalized:
                text = f"{share[i, j]:.0%}" if sums[i, 0] else "–"
            else:
                text = str(int(matrix[i, j]))
            light = shade[i, j] > 0.5
            draw.text(
                (x + cell / 2, y + cell / 2), text, font=f_cell, anchor="mm",
                fill="white" if light else INK,
            )  # fmt: skip
    # row names (true), right-aligned beside the grid
    for i, name in enumerate(names):
        draw.text((left - 6, top + i * cell + cell / 2), name, font=f_label, fill=INK, anchor="rm")
    # column names (predicted), written upwards under the grid
    for j, name in enumerate(names):
        strip = _text_image(name, f_label, label_w).rotate(90, expand=True)
        img.paste(strip, (left + j * cell + (cell - strip.width) // 2, top + n * cell + 4))
    draw.text((left + n * cell / 2, height - pad), "Predicted", font=f_label, fill=INK, anchor="md")
    true_label = _text_image("True", f_label, n * cell, centred=True).rotate(90, expand=True)
    img.paste(true_label, (pad, top + (n * cell - true_label.height) // 2))
    _scale(draw, (left + n * cell + 14, top), n * cell, normalized, int(matrix.max()))
    return img, (left, top, cell)


def _text_image(text: str, f, width: int, *, centred: bool = False) -> Image.Image:
    """A line of text on white, `width` px wide, right-aligned or centred (to be rotated: a
    right-aligned column name then ends at the grid)."""
    h = int(f.size * 1.4) if hasattr(f, "size") else 14
    strip = Image.new("RGB", (width, h), "white")
    at, anchor = ((width / 2, h / 2), "mm") if centred else ((width - 2, h / 2), "rm")
    ImageDraw.Draw(strip).text(at, text, font=f, fill=INK, anchor=anchor)
    return strip


def _scale(draw, origin: tuple[int, int], height: int, normalized: bool, peak: int) -> None:
    """The colour scale beside the grid, with its two ends named."""
    x, y = origin
    steps = max(height, 1)
    for k in range(steps):
        draw.line([x, y + k, x + 12, y + k], fill=_blue(1 - k / steps))
    draw.rectangle([x, y, x + 12, y + height], outline=GRID)
    small = font(11)
    draw.text((x + 16, y), "100%" if normalized else str(peak), font=small, fill=INK, anchor="lt")
    draw.text((x + 16, y + height), "0", font=small, fill=INK, anchor="lb")


def contact_sheet(
    paths: Sequence[Path], captions: Sequence[tuple[str, str]], *, title: str = ""
) -> Image.Image:
    """Thumbnails in a grid, each with "true → predicted" under it."""
    cols = min(COLUMNS, len(paths))
    rows = math.ceil(len(paths) / cols)
    f = font(13)
    caption_h, gap = CAPTION, 8
    head = 30 if title else 0
    tile_w, tile_h = THUMB + gap, THUMB + caption_h + gap
    width = max(cols * tile_w + gap, int(font(14).getlength(title)) + 2 * gap)
    sheet = Image.new("RGB", (width, head + rows * tile_h + gap), "white")
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((gap, gap), title, font=font(14), fill=INK)
    for k, (path, (true, predicted)) in enumerate(zip(paths, captions)):
        x, y = gap + (k % cols) * tile_w, head + gap + (k // cols) * tile_h
        thumb = _thumbnail(path)
        if thumb is None:
            draw.rectangle([x, y, x + THUMB - 1, y + THUMB - 1], fill=(222, 226, 230))
            draw.text((x + THUMB / 2, y + THUMB / 2), "?", font=font(32), fill=INK, anchor="mm")
        else:
            sheet.paste(thumb, (x + (THUMB - thumb.width) // 2, y + (THUMB - thumb.height) // 2))
        draw.text(
            (x + THUMB / 2, y + THUMB + caption_h / 2), _pair(true, predicted, f, THUMB),
            font=f, fill=(176, 0, 32), anchor="mm",
        )  # fmt: skip
    return sheet


def _pair(true: str, predicted: str, f, width: int) -> str:
    """ "true → predicted" in `width` px: when too long, each name is cut, so the arrow and both
    names stay in sight."""
    text = f"{true} → {predicted}"
    if f.getlength(text) <= width:
        return text
    half = (width - f.getlength(" → ")) / 2
    return f"{_fit(true, f, half)} → {_fit(predicted, f, half)}"


def _thumbnail(path: Path) -> Image.Image | None:
    try:
        img = decode(read_source(path), max_pixels=THUMB_PIXELS, draft_min_side=THUMB)
    except Exception:  # a file gone or changed since it was checked: a grey tile, not a crash
        return None
    img.thumbnail((THUMB, THUMB))
    return img
