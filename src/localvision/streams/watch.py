"""`localvision watch DIR`: classify each image as it arrives in a folder, one row per image.

File events come from watchfiles (Rust's `notify`: inotify on Linux, FSEvents on macOS,
ReadDirectoryChangesW on Windows, or polling for network shares). It is already installed with
uvicorn, its `watch()` generator yields on a timeout too (so files waiting to settle are looked
at again without an event) and it ends on Ctrl+C; watchdog would add a dependency and a thread
of our own for the same.

A file is not read while it may still be being written: it is classified once its size and
modification time have stayed the same for `watch_settle_s`. A file that then fails to decode
is held for one more settle time before its error row is written: if it grows meanwhile (a
writer that pauses longer than the settle time), it is classified again when it settles, so a
photo still arriving is never reported as broken. Images that settle together go through the
road together, in the model's batches.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from ..errors import InvalidArgument
from ..inputs import files_in
from ..report import CLI_LEAD, rows_to_csv, table

# How often pending files are looked at when no event comes (and the longest an event waits
# to be grouped with others): well under any settle time a person would choose.
TICK_S = 0.2

Signature = tuple[int, int]  # size, mtime in ns


def signature(path: str) -> Signature | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


@dataclass
class Pending:
    signature: Signature | None
    changed: float  # when (monotonic) the signature was last seen changing
    held: object = None  # an error Result waiting one more settle time (the file may still grow)


class Watcher:
    """Pending files, settling, and the rows for those that settled.

    folder: the folder as given (rows name files under it, as `classify DIR` does);
    classify(paths) -> Results (the road); report(results): writes the rows."""

    def __init__(
        self,
        folder: Path,
        *,
        recursive: bool,
        suffixes: Iterable[str],
        settle_s: float,
        chunk: int,
        classify: Callable[[list[str]], list],
        report: Callable[[list], None],
        clock: Callable[[], float] = time.monotonic,
    ):
        self.folder = folder
        self.root = folder.resolve()
        self.recursive = recursive
        self.suffixes = {s.lower() for s in suffixes}
        self.settle_s = settle_s
        self.chunk = chunk
        self.classify = classify
        self.report = report
        self.clock = clock
        self.pending: dict[str, Pending] = {}  # by the name rows use
        self.reported: dict[str, Signature] = {}  # what each file was when its row was written
        self.rows = 0

    # --- which files ---
    def name(self, path: str) -> str | None:
        """The name a row gives an event's path (under the folder as given), or None for a file
        not watched: not named like an image, hidden (a temporary or an AppleDouble ._ file),
        or in a subfolder without --recursive."""
        rel = Path(os.path.relpath(path, self.root))
        if not rel.parts or rel.parts[0] == os.pardir or any(p.startswith(".") for p in rel.parts):
            return None
        if len(rel.parts) > 1 and not self.recursive:
            return None
        if rel.suffix.lower() not in self.suffixes:
            return None
        return str(self.folder / rel)

    def existing(self, under: Path | None = None) -> list[str]:
        """The images in the folder (or in one of its subfolders, `under`)."""
        top = under or self.root
        files = files_in(top, self.recursive, hidden=False)  # name() refuses hidden ones anyway
        return sorted(n for f in files if (n := self.name(str(f))))

    # --- what happened ---
    def seen(self, name: str, now: float, settled: bool = False) -> None:
        """A file was created or changed (or found at the start: `settled` if it is old)."""
        sig = signature(name)
        if sig is None:
            self.pending.pop(name, None)
            return
        if self.reported.get(name) == sig:
            return  # a change of its metadata only (a hard link made, a chmod)
        known = self.pending.get(name)
        if known is None or known.signature != sig:
            self.pending[name] = Pending(sig, now - self.settle_s if settled else now)

    def gone(self, name: str) -> None:
        self.pending.pop(name, None)
        self.reported.pop(name, None)  # the same photo copied back later is new again

    def tick(self, now: float) -> int:
        """Classify what has settled; write the rows that are final. Returns rows written."""
        ready, final = [], []
        for name, p in list(self.pending.items()):
            sig = signature(name)
            if sig is None:
                del self.pending[name]
            elif sig != p.signature:
                self.pending[name] = Pending(sig, now)  # still growing: start again
            elif now - p.changed >= self.settle_s:
                if p.held is not None:  # broken, and unchanged for another settle time
                    final.append(p.held)
                    del self.pending[name]
                else:
                    ready.append(name)
        if final:
            self._write(final)
        written = len(final)
        for start in range(0, len(ready), self.chunk):
            written += self._answer(sorted(ready)[start : start + self.chunk], now)
        return written

    def _answer(self, names: list[str], now: float) -> int:
        results = self.classify(names)
        done = []
        for name, result in zip(names, results):
            p = self.pending.get(name)
            sig = signature(name)
            if p is None or sig != p.signature:  # it changed while it was being classified
                if sig is not None:
                    self.pending[name] = Pending(sig, now)
                continue
            if result.ok:
                done.append(result)
                del self.pending[name]
            else:
                p.held, p.changed = result, now  # one more settle time: is it still arriving?
        self._write(done)
        return len(done)

    def _write(self, results: list) -> None:
        if not results:
            return
        for r in results:
            sig = signature(r.source)
            if sig is not None:
                self.reported[r.source] = sig
        self.report(results)
        self.rows += len(results)

    # --- the loop ---
    def run(self, existing: bool, polling: bool, ready: Callable[[], None],
            stop: threading.Event | None = None) -> None:  # fmt: skip
        """Watch until Ctrl+C (KeyboardInterrupt, left to the caller) or `stop` is set. `ready()`
        is called once the folder is being watched, so no file arriving after it is missed."""
        from watchfiles import Change, watch

        started = False
        for changes in watch(
            self.root, recursive=self.recursive, force_polling=polling or None,
            poll_delay_ms=int(TICK_S * 1000), rust_timeout=int(TICK_S * 1000),
            yield_on_timeout=True, debounce=int(TICK_S * 1000), step=50,
            watch_filter=None, raise_interrupt=True, stop_event=stop,
        ):  # fmt: skip
            now = self.clock()
            if not started:  # the first timeout: the watcher is running, so scan and announce
                started = True
                for name in self.existing() if existing else ():
                    self.seen(name, now, settled=True)
                ready()
            for change, path in sorted(changes, key=lambda c: c[1]):
                if self.recursive and change is Change.added and os.path.isdir(path):
                    # a folder moved in whole: its files raise no events of their own
                    for name in self.existing(Path(path)):
                        self.seen(name, now)
                    continue
                name = self.name(path)
                if name is None:
                    continue
                if change is Change.deleted:
                    self.gone(name)
                else:
                    self.seen(name, now)
            self.tick(self.clock())


class RowWriter:
    """Appends rows to FILE as they come: JSON Lines, or CSV when FILE ends in .csv (the header
    once, when the file is new or empty); stdout (JSON Lines) without FILE. Flushed per batch,
    so another program can follow the file.

    The CSV's columns are fixed by the settings, not by the rows of the first batch: with
    --text every row has a `text` cell (empty for an error row), so a first batch of error rows
    does not leave the column out of the header. A CSV that already has other columns (from a
    run with other --top-k, --lang or --text) is refused rather than appended to out of line."""

    def __init__(self, output: Path | None, k: int, lang: str, text: bool = False):
        self.csv = output is not None and output.suffix.lower() == ".csv"
        self.k, self.lang, self.text = k, lang, text
        if output is None:
            self.file, self.header = sys.stdout, False
            return
        if self.csv:
            self._check_columns(output)
        self.file = open(output, "a", encoding="utf-8", newline="")
        self.header = self.csv and self.file.tell() == 0

    def columns(self) -> list[str]:
        """The CSV header these settings give (the one `classify --format csv` gives)."""
        row = {"path": "", "model": "", "predictions": [], "uncertain": False, "error": None}
        return table([row | ({"text": []} if self.text else {})], CLI_LEAD, k=self.k,
                     lang=self.lang)[0]  # fmt: skip

    def _check_columns(self, output: Path) -> None:
        try:
            with open(output, encoding="utf-8-sig", newline="") as f:
                there = next(csv.reader(f), None)
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise InvalidArgument(f"Cannot append to --output {output}: {exc}.") from None
        if there is not None and there != self.columns():
            raise InvalidArgument(
                f"--output {output} has other columns than this watch writes (it was written "
                "with other --top-k, --lang or --text); its rows would be out of line.",
                hint="give another --output file, or the options the file was written with",
            )

    def write(self, rows: list[dict]) -> None:
        if self.csv:
            if self.text:  # an error row read no text: an empty cell, the column kept
                rows = [{**r, "text": r.get("text") or []} for r in rows]
            text = rows_to_csv(rows, lead=CLI_LEAD, k=self.k, lang=self.lang, header=self.header)
            self.header = False
        else:
            text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        self.file.write(text)
        self.file.flush()

    def close(self) -> None:
        if self.file is not sys.stdout:
            self.file.close()
