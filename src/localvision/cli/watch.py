"""The CLI's side of watched folders and photo libraries: `watch` (streams/watch.py) and what
`classify` and `watch` do besides writing rows, --sort-into and --write-xmp (streams/library.py).
What it prints goes through cli_render, like every command's."""

from __future__ import annotations

import signal
from pathlib import Path

import typer

from . import cli_render as render
from .config import Settings
from .errors import FolderNotFound, InvalidArgument, SortLoop
from .report import cli_rows


def check_library(settings: Settings, move: bool) -> Settings:
    """--move is --sort-mode move, and needs --sort-into; OUT must be a folder (or not yet
    exist)."""
    if move:
        if settings.sort_into is None:
            raise InvalidArgument("--move needs --sort-into OUT: the folder to move images into.")
        settings = settings.model_copy(update={"sort_mode": "move"})
    out = settings.sort_into
    if out is not None and out.exists() and not out.is_dir():
        raise InvalidArgument(f"--sort-into {out}: that is a file, not a folder.")
    return settings


def file_results(library, results) -> bool:
    """--sort-into and --write-xmp for each answered image; a failure is a warning with its code
    and the next image goes on. Returns whether all went well."""
    if library is None:
        return True
    ok = True
    for result in results:
        for exc in library.file(result):
            render.warning(f"{exc.code}: {exc.message}")
            ok = False
    return ok


def watch(settings: Settings, folder: Path, output: Path | None, recursive: bool) -> None:
    """Watch `folder` until Ctrl+C (or SIGTERM), writing one row per image; ends the command."""
    from .cli import describe, load
    from .imaging import IMAGE_SUFFIXES
    from .streams.library import Library
    from .streams.watch import RowWriter, Watcher

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
        writer = RowWriter(output, settings.top_k, settings.lang)
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
