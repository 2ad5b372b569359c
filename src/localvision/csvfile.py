"""The one CSV writer: every CSV the project writes (classify results, the history export, video
segments, the Ray job's output, a training report's tables) is made here.

Every text cell that a spreadsheet would read as a formula (it starts with =, +, -, @, a tab or
a carriage return) is prefixed with a single quote, as OWASP's CSV-injection guidance says: file
names, ZIP member names and class names are chosen by whoever sends them, and
`=HYPERLINK(...)` in one must stay text when someone opens the file. Numbers pass unchanged.

    csv_text(header, rows)            the text (header None: rows only, a later part of a file)
    write_csv(path, header, rows)     a file, whole or not at all, with a BOM for Excel
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from .files import atomic_write

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """A cell as text a spreadsheet will not evaluate (numbers pass unchanged, None is empty)."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(header: Sequence | None, rows: Iterable[Sequence]) -> str:
    """Rows (and the header, unless None) as CSV text, every cell through `safe_cell`."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    if header is not None:
        writer.writerow([safe_cell(c) for c in header])
    for row in rows:
        writer.writerow([safe_cell(c) for c in row])
    return buf.getvalue()


def write_csv(path: Path, header: Sequence, rows: Iterable[Sequence], *, bom: bool = True) -> None:
    """A CSV file, whole or not at all. bom: UTF-8 with a byte-order mark, without which Excel
    opens Chinese text as mojibake."""
    text = csv_text(header, rows)
    atomic_write(Path(path), ("\ufeff" if bom else "") + text)
