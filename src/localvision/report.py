"""Results as CSV, shared by the CLI, the HTTP API and the history export: one row per image,
top-k flattened into label_N, index_N, probability_N columns, then the error if any. The text
is made by the one CSV writer (csvfile.py), which keeps every cell from being read as a
formula."""

from __future__ import annotations

from typing import Iterable, Sequence

from .csvfile import csv_text


# The CLI's columns before the predictions (and the Ray Data job's: scale/batch.py).
CLI_LEAD = ("path", "model")


def cli_rows(results, model: str) -> list[dict]:
    """Results as the CLI writes them: one dict per image, its path and model first."""
    return [{"path": r.source, "model": model, **r.to_dict()} for r in results]


def prediction_columns(k: int, english: bool = False) -> list[str]:
    """label_N, index_N, probability_N; with `english`, label_en_N after label_N (when the
    labels are in another language)."""
    cols: list[str] = []
    for n in range(1, k + 1):
        cols += [f"label_{n}"] + ([f"label_en_{n}"] if english else [])
        cols += [f"index_{n}", f"probability_{n}"]
    return cols


def prediction_cells(predictions: Sequence[dict], k: int, english: bool = False) -> list:
    cells: list = []
    width = 4 if english else 3
    for n in range(k):
        p = predictions[n] if n < len(predictions) else None
        if p is None:
            cells += [""] * width
            continue
        cells += [p["label"]] + ([p.get("label_en", p["label"])] if english else [])
        cells += [p["index"], f"{p['probability']:.6f}"]
    return cells


def error_cells(error: dict | None) -> list[str]:
    return [error["code"], error["message"]] if error else ["", ""]


def widest(rows: Iterable[dict]) -> int:
    return max((len(r["predictions"]) for r in rows), default=1) or 1


def table(
    rows: list[dict], lead: Sequence[str], tail: Sequence[str] = (), k: int | None = None,
    lang: str | None = None,
) -> tuple[list[str], list[list]]:  # fmt: skip
    """The header and each row's cells, as the CSV has them (before the formula guard): every
    writer of rows (CSV here, Parquet in scale/batch.py) has the same columns.

    rows: dicts with the `lead` and `tail` keys, "predictions" and "error" (and "uncertain",
    which gets a column when the rows have it; and "text", the lines read in the photo, which
    gets a `text` column when any row has it: the lines in reading order, one per line of the
    cell). lang other than en: English labels beside."""
    k = k or widest(rows)
    english = bool(lang) and lang != "en"
    flag = bool(rows) and "uncertain" in rows[0]
    text = any("text" in row for row in rows)
    header = [*lead, *prediction_columns(k, english), *(["uncertain"] if flag else []),
              *(["text"] if text else []), *tail, "error_code", "error_message"]  # fmt: skip
    cells = [
        [row[c] for c in lead]
        + prediction_cells(row["predictions"], k, english)
        + ([str(bool(row["uncertain"])).lower()] if flag else [])
        + (["\n".join(line["text"] for line in row.get("text") or ())] if text else [])
        + [row[c] for c in tail]
        + error_cells(row["error"])
        for row in rows
    ]
    return header, cells


def rows_to_csv(
    rows: list[dict], lead: Sequence[str], tail: Sequence[str] = (), k: int | None = None,
    lang: str | None = None, header: bool = True,
) -> str:  # fmt: skip
    """The rows as CSV text (see `table`); header=False: the rows only (a later part of a file
    written in parts)."""
    names, cells = table(rows, lead, tail, k, lang)
    return csv_text(names if header else None, cells)
