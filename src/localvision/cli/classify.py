"""`localvision classify PATHS...`: the top-k labels of each image, as a table, JSON or CSV
(render.py); with --ray, a Ray Data job over the files (scale/batch.py).

Exit codes: 0 every input succeeded, 1 some inputs failed, 2 a usage, model or weights error.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from ..config import Settings
from ..errors import InvalidArgument, UnsupportedFormat
from ..inputs import Found, expand_paths
from ..report import cli_rows
from ..results import Result
from ..streams.library import Library
from . import render
from .options import settings_options
from .shared import (
    LIBRARY,
    LOADING,
    RAY,
    READING,
    MoveOpt,
    check_library,
    check_output,
    describe,
    file_results,
    load,
    write_output,
)  # fmt: skip


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


@settings_options(*LOADING, *READING, *RAY, *LIBRARY)
def classify(
    paths: list[str] = typer.Argument(..., help="Image files, directories or globs."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write results here."),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Descend into directories."),
    strict: bool = typer.Option(
        False, "--strict",
        help="Report each file skipped in a directory (not named like an image) as an error.",
    ),  # fmt: skip
    *,
    settings: Settings,
    move: bool = MoveOpt,
):
    """Classify images and print the top-k labels for each. With --ray: a Ray Data job over
    the files (or object-store URLs), written as CSV or Parquet (--output x.parquet)."""
    settings = check_library(settings, move)
    found = expand_paths(paths, recursive)
    if not (found.paths if strict else found.images):
        if found.skipped:
            render.note(skipped_note(found.skipped))
        raise InvalidArgument("No images found in the given paths.")
    check_output(output)
    if settings.ray:
        if settings.sort_into is not None or settings.write_xmp or settings.text:
            raise InvalidArgument(
                "--sort-into, --write-xmp and --text work on this machine, not --ray."
            )
        _classify_on_ray(settings, found, strict, fmt, output)
    clf = load(settings)
    classified = iter(_run(clf, found.images))
    results = [
        skipped_result(p) if p in found.skipped else next(classified)
        for p in found.paths
        if strict or p not in found.skipped
    ]
    rows = cli_rows(results, clf.name)
    running = describe(clf)
    lang, k = settings.lang, settings.top_k
    if output:
        write_output(output, render.results_text(rows, fmt.value, running, k, lang))
    elif fmt is Format.table:
        render.out.print(render.results_table(rows, running, lang))
    else:
        sys.stdout.write(render.results_text(rows, fmt.value, running, k, lang))
    library = Library.from_settings(settings, clf)
    filed = file_results(library, results)
    if library and library.summary():
        render.note(library.summary())
    if found.skipped and not strict:
        render.note(skipped_note(found.skipped))
    raise typer.Exit(0 if filed and all(r.ok for r in results) else 1)


def _suffix(path: str) -> str:
    return Path(path).suffix.lower() or "no extension"


def skipped_note(skipped: set[str]) -> str:
    """e.g. "skipped 3 files that are not images (.pdf, .txt); --strict reports each"."""
    n = len(skipped)
    kinds = ", ".join(sorted({_suffix(p) for p in skipped}))
    what = "file that is not an image" if n == 1 else "files that are not images"
    return f"skipped {n} {what} ({kinds}); --strict reports each as an error"


def skipped_result(path: str) -> Result:
    suffix = Path(path).suffix.lower()
    why = f"'{suffix}' is not an image file extension" if suffix else "it has no file extension"
    return Result(path, error=UnsupportedFormat(f"Skipped: {why} (the file was not read)."))


def _classify_on_ray(settings: Settings, found: Found, strict: bool, fmt: Format, output):
    """classify --ray: the same rows as a Ray Data job (scale/batch.py); ends the command."""
    from ..models.resolve import resolve
    from ..scale import batch, require_ray

    require_ray()
    parquet = output is not None and output.suffix.lower() == ".parquet"
    if fmt is Format.json or (output is None and fmt is not Format.csv and not parquet):
        raise InvalidArgument(
            "--ray writes CSV or Parquet: give --output results.parquet, --output results.csv "
            "or --format csv."
        )
    name = resolve(settings).spec.name  # packaged into the store once, before the actors start
    count, ok = batch.run(
        settings, found.paths, found.skipped, strict,
        lambda p: cli_rows([skipped_result(p)], name)[0], output, sys.stdout,
    )  # fmt: skip
    if output:
        render.note(f"wrote {count} rows to {output} (Ray Data, {name})")
    if found.skipped and not strict:
        render.note(skipped_note(found.skipped))
    raise typer.Exit(0 if ok else 1)


def _run(clf, files: list[str]):
    """The classifier's answers with its settings' top_k, lang, floor, groups and text."""
    from rich.progress import Progress

    if len(files) <= 4:
        return clf.predict(files)
    with Progress(console=render.err, transient=True) as progress:
        task = progress.add_task("Classifying", total=len(files))
        return clf.predict(files, progress=lambda n: progress.advance(task, n))
