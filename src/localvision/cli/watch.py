"""`localvision watch FOLDER`: classify each image as it arrives in a folder (streams/watch.py),
one row per image, the same rows as classify's, with --sort-into and --write-xmp
(streams/library.py) as classify has them. What it prints goes through render.py."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Optional

import typer

from ..config import Settings
from ..errors import FolderNotFound, InvalidArgument, SortLoop
from ..report import cli_rows
from . import render
from .options import settings_options
from .shared import (
    LIBRARY, LOADING, READING, MoveOpt, check_library, describe, file_results, load,
)  # fmt: skip


@settings_options("watch_existing", "watch_settle_s", "watch_polling", *LIBRARY, *LOADING,
                  *READING)  # fmt: skip
def watch(
    folder: Path = typer.Argument(..., help="The folder to watch."),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", dir_okay=False,
        help="Append one row per image here: JSON Lines, or CSV for a .csv file (default: JSON "
        "Lines on stdout).",
    ),  # fmt: skip
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Watch subfolders too."),
    *,
    settings: Settings,
    move: bool = MoveOpt,
):
    """Classify each image as it arrives in FOLDER (once it has finished arriving), one row per
    image, the same rows as classify's, until Ctrl+C."""
    run(check_library(settings, move), folder, output, recursive)


def run(settings: Settings, folder: Path, output: Path | None, recursive: bool) -> None:
    """Watch `folder` until Ctrl+C (or SIGTERM), writing one row per image; ends the command."""
    from ..imaging import IMAGE_SUFFIXES
    from ..streams.library import Library
    from ..streams.watch import RowWriter, Watcher

    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise FolderNotFound(f"Cannot watch {folder}: it {what}.")
    out = settings.sort_into
    if out is not None and recursive and out.resolve().is_relative_to(folder.resolve()):
        raise SortLoop(
            f"--sort-into {out} is inside {folder}, which is watched with --recursive: every "
            "sorted image would arrive again.",
            hint="sort into a folder outside the watched one, or watch without --recursive",
        )
    if output is not None and not output.parent.is_dir():  # said before the model loads
        raise InvalidArgument(f"--output {output}: the folder {output.parent} does not exist.")
    # SIGTERM (a service manager stopping it) ends it as Ctrl+C does: the rows so far are kept.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        clf = load(settings)
    except KeyboardInterrupt:  # while the model loads: nothing to keep
        render.note("stopped before the model was loaded")
        raise typer.Exit(0) from None
    library = Library.from_settings(settings, clf)
    try:
        writer = RowWriter(output, settings.top_k, settings.lang, settings.text)
    except OSError as exc:
        why = exc.strerror or exc
        raise InvalidArgument(f"Cannot write to --output {output}: {why}.") from None

    def report(results) -> None:
        writer.write(cli_rows(results, clf.name))
        file_results(library, results)

    watcher = Watcher(
        folder, recursive=recursive, suffixes=IMAGE_SUFFIXES, settle_s=settings.watch_settle_s,
        chunk=settings.batch_size, classify=clf.predict, report=report,
    )  # fmt: skip
    where = f" (rows to {output})" if output else ""
    try:
        watcher.run(
            settings.watch_existing, settings.watch_polling,
            lambda: render.note(f"watching {folder} for new images{where}, {describe(clf)}; "
                                "Ctrl+C to stop"),
        )  # fmt: skip
    except KeyboardInterrupt:
        pass
    finally:
        writer.close()
    n = watcher.rows
    render.note(f"stopped; {n} image{'s' * (n != 1)} classified")
    if library and library.summary():
        render.note(library.summary())
    raise typer.Exit(0)
