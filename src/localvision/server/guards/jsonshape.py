"""A cheap bound on a JSON body, checked before it is parsed: how many values it holds and how
deep it nests, counted from its bytes.

`json.loads` builds a Python object for every value, so a body of tiny values costs far more
than its size: 16 MB of `[],` is 5.5 million lists (about a GB, two seconds with the interpreter
held), and 100,000 `[` overflow its recursion. A route that knows how large a valid body can be
(the KServe v2 requests, the page's results for POST /api/v1/results.csv) calls
`check_structure` first: it walks the body's structural bytes (quotes, brackets, braces, commas)
in C-speed slices of a MB and refuses one with more values or deeper nesting than allowed,
before anything is built.
"""

from __future__ import annotations

from ...errors import InvalidRequest

SLICE = 1 << 20  # bytes per C call in the scan: the interpreter is never held for long
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b"[]{},")))
_OPEN, _CLOSE, _BACKSLASH = frozenset(b"[{"), frozenset(b"]}"), ord("\\")


def check_structure(data: bytes, most_values: int, max_depth: int, *, what: str = "The JSON",
                    advice: dict[str, str] | None = None) -> None:  # fmt: skip
    """Refuses JSON with more than `most_values` values or nested deeper than `max_depth`, from
    its bytes (InvalidRequest, `what` naming the body and `advice` adding, per "values" or
    "depth", what a good one looks like): quotes are found with `bytes.find`, the stretches
    between strings are reduced to their brackets, braces and commas by `translate` a MB at a
    time, and only those are walked (so the work is bounded by the limits, not by the body).
    Values are counted as 1 + commas + containers, an upper bound."""
    refuse = _Refusals(what, advice or {})
    walk = _Walk(most_values, max_depth, refuse)
    start, inside = 0, False
    for at in _string_quotes(data, 8 * most_values, refuse):
        if not inside:
            walk.between_strings(data, start, at)
        inside, start = not inside, at + 1
    if not inside:
        walk.between_strings(data, start, len(data))


def _string_quotes(data: bytes, most: int, refuse: "_Refusals"):
    """Positions of the quotes that open and close strings: not those after an odd run of
    backslashes (escaped, inside a string). More than `most` quotes: refused."""
    at, count = 0, 0
    while (found := data.find(b'"', at)) >= 0:
        count += 1
        if count > most:
            raise refuse.values(most // 8)
        escaped = found > at and data[found - 1] == _BACKSLASH and _odd_run(data, at, found)
        at = found + 1
        if not escaped:
            yield found


def _odd_run(data: bytes, start: int, end: int) -> bool:
    """Whether the backslashes that end data[start:end] are odd in number, counted a slice at a
    time from the end (a hostile body can be one run of millions)."""
    run = 0
    while end > start:
        piece = data[max(start, end - SLICE) : end]
        tail = len(piece) - len(piece.rstrip(b"\\"))
        run += tail
        if tail < len(piece):
            break
        end -= len(piece)
    return run % 2 == 1


class _Walk:
    """Depth and values so far, fed the stretches of a body between its strings."""

    def __init__(self, most_values: int, max_depth: int, refuse: "_Refusals"):
        self.most_values, self.max_depth, self.refuse = most_values, max_depth, refuse
        self.values, self.depth, self.seen = 1, 0, 0

    def between_strings(self, data: bytes, start: int, end: int) -> None:
        for at in range(start, end, SLICE):
            marks = data[at : min(at + SLICE, end)].translate(None, _NOT_STRUCTURE)
            self.seen += len(marks)
            if self.seen > 2 * self.most_values:  # walked no further: far past any request
                raise self.refuse.values(self.most_values)
            for c in marks:
                self._mark(c)

    def _mark(self, c: int) -> None:
        if c in _OPEN:
            self.values, self.depth = self.values + 1, self.depth + 1
            if self.depth > self.max_depth:
                raise self.refuse.depth(self.max_depth)
        elif c in _CLOSE:
            self.depth -= 1
        else:  # a comma
            self.values += 1
        if self.values > self.most_values:
            raise self.refuse.values(self.most_values)


class _Refusals:
    """The typed refusals, in the caller's words."""

    def __init__(self, what: str, advice: dict[str, str]):
        self.what, self.advice = what, advice

    def _say(self, sentence: str, kind: str) -> InvalidRequest:
        extra = self.advice.get(kind)
        return InvalidRequest(f"{self.what} {sentence}; {extra}" if extra else
                              f"{self.what} {sentence}.")  # fmt: skip

    def values(self, most_values: int) -> InvalidRequest:
        return self._say(f"has more than {most_values} values", "values")

    def depth(self, max_depth: int) -> InvalidRequest:
        return self._say(f"nests deeper than {max_depth} levels", "depth")
