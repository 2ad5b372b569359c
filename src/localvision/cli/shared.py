"""What the commands that classify share: the groups of settings they take, loading the model,
naming what runs, --output checked before the model loads, and --sort-into / --write-xmp
(streams/library.py) for classify and watch. What they print goes through render.py."""

from __future__ import annotations

from pathlib import Path

import typer

from ..config import Settings
from ..errors import InvalidArgument
from . import render

# The settings of a command that loads a model and classifies with it, in the order --help
# lists them.
LOADING = (
    "model", "weights", "top_k", "offline", "backend", "device", "precision", "exact_decode",
    "recheck_margin", "batch_size", "max_pixels", "labels", "lang", "min_confidence", "groups",
    "model_dir",
)  # fmt: skip
READING = ("text",)  # classify --text, watch --text: the text in each photo too
RAY = ("ray", "ray_address", "replicas", "autoscale", "ray_cpus_per_replica")
LIBRARY = ("sort_into", "sort_mode", "write_xmp", "xmp_sidecar")  # --sort-into, --write-xmp

MoveOpt = typer.Option(False, "--move", help="Move the images into --sort-into (--sort-mode move).")


def load(settings: Settings):
    """The classifier the settings describe; its typed errors end the command (exit 2), and so
    does --text where the text reader is not installed (before any photo is read)."""
    from ..classifier import from_settings

    if settings.text:
        from ..text.reader import require_reader

        require_reader()
    clf = from_settings(settings)
    if clf.notice:
        render.warning(clf.notice)
    return clf


def describe(clf) -> str:
    """What actually runs: "model resnet18 · openvino int8 (cpu)"."""
    b = clf.backend
    return f"model {clf.name} · {b.name} {b.precision} ({b.device})"


def check_output(output: Path | None) -> None:
    """--output names a file in a folder that exists, said before the model loads, so a long
    run is never lost at its end to a typo in the path."""
    if output is None:
        return
    if output.is_dir():
        raise InvalidArgument(f"--output {output} is a folder; name a file in it.")
    if not output.parent.is_dir():
        raise InvalidArgument(f"--output {output}: the folder {output.parent} does not exist.")


def write_output(output: Path, text: str) -> None:
    """Write the results to --output; a file that cannot be written is a typed error."""
    try:
        output.write_text(text, "utf-8")
    except OSError as exc:
        why = exc.strerror or exc
        raise InvalidArgument(f"Cannot write to --output {output}: {why}.") from None


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
