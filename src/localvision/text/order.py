"""Text lines in reading order: top to bottom by rows, left to right within a row (pure).

A detector answers lines in the order it found them; people read rows. Two lines share a row
when their vertical extents overlap by more than half the shorter one, so a price beside its
name reads as one row even when their boxes are not exactly level."""

from __future__ import annotations

from typing import Sequence

from ..results import TextLine


def _extent(line: TextLine) -> tuple[float, float]:
    ys = [y for _, y in line.box]
    return min(ys), max(ys)


def _left(line: TextLine) -> float:
    return min(x for x, _ in line.box)


def same_row(a: TextLine, b: TextLine) -> bool:
    (a0, a1), (b0, b1) = _extent(a), _extent(b)
    overlap = min(a1, b1) - max(a0, b0)
    return overlap > 0.5 * min(a1 - a0, b1 - b0)


def reading_order(lines: Sequence[TextLine]) -> list[TextLine]:
    """The lines in reading order (a new list)."""
    rows: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda ln: (_extent(ln)[0], _left(ln))):
        if rows and same_row(rows[-1][0], line):
            rows[-1].append(line)
        else:
            rows.append([line])
    return [line for row in rows for line in sorted(row, key=_left)]
