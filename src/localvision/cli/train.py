"""`localvision train DATA --name NAME`: teach a model the user's own classes (training/).

A thin shell over training/run.py: the options, the progress (a rich bar on stderr, JSON Lines
on stdout, or none) and the exit codes the Teach page's server relies on (it runs this command
as a child with --progress jsonl):

    0    the model was written (also after Ctrl+C once an epoch had finished: the best so far)
    2    refused: bad data or options, a name taken (without --replace; with --retrain, by a
         model not trained from the same Teach project) or reserved
    1    an internal failure (a bug), said as one line
    130  Ctrl+C before any epoch finished: nothing written
    143  SIGTERM (the Teach page's Cancel): stopped at once, nothing written

With --progress jsonl, stdout carries only JSON objects, one per line; an error that ends the
command is one `{"event": "error", ...}` line there too (and its usual line on stderr).
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from ..errors import LocalVisionError, TrainingOptionInvalid
from ..training import EXIT_INTERRUPTED, EXIT_TERMINATED
from . import render
from .options import Given, settings_options


class Terminated(BaseException):
    """SIGTERM: stop now, keep nothing (a BaseException, so no `except Exception` keeps going)."""


def _terminate(signum, frame):
    raise Terminated()


@settings_options(
    "train_mode", "train_epochs", "train_seed", "train_val_fraction", "train_lr",
    "train_optimizer", "train_label_smoothing", "train_patience", "train_progress",
    "train_threads", "model_dir", "offline",
)  # fmt: skip
def train(
    data: Optional[list[Path]] = typer.Argument(
        None,
        help="Labelled photos: a folder with one sub-folder per class (train/ and val/ "
        "sub-folders are used as given), a ZIP of one, or a CSV of path,label.",
    ),
    name: str = typer.Option(..., "--name", help="The new model's name in the store."),
    base: Optional[str] = typer.Option(
        None, "--base",
        help="The model to start from: a registry or store model (default: --model's, auto).",
    ),  # fmt: skip
    from_feedback: Optional[str] = typer.Option(
        None, "--from-feedback",
        help="Also train on a Teach project's photos (<model_dir>/.teach/PROJECT: the Teach "
        "page's uploads and the corrections of results).",
    ),  # fmt: skip
    replace: bool = typer.Option(False, "--replace", help="Replace a model of that name."),
    retrain: bool = typer.Option(
        False, "--retrain",
        help="Replace a model of that name only if it was trained from the same Teach project "
        "(DATA is <model_dir>/.teach/PROJECT, or --from-feedback PROJECT); any other is "
        "refused (model_not_from_project). The Teach page's training runs with it.",
    ),
    *,
    given: Given,
):
    """Teach a model your own classes: a new last layer (--mode head, seconds), the last stages
    too (finetune, minutes) or every layer (full), from a base model; the result is a model in
    the store, with its report (per-epoch CSV, confusion matrices, per-class figures)."""
    from ..training.run import Request

    jsonl = _wants_jsonl(given.get("train_progress"))
    emit = _jsonl if jsonl else (lambda event: None)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        try:
            settings = given.settings()  # here: a refused value is an event with --progress jsonl
        except typer.BadParameter as exc:  # a value of an option: typed, so a client can branch
            raise TrainingOptionInvalid(f"{exc.param_hint}: {exc.message}") from None
        request = Request(name=name, data=tuple(data or ()), base=base,
                          from_feedback=from_feedback, replace=replace,
                          retrain=retrain)  # fmt: skip
        if settings.train_progress == "rich":
            outcome = _with_bar(settings, request)
        else:
            outcome = _run(settings, request, emit)
    except LocalVisionError as exc:
        if jsonl:
            _jsonl({"event": "error", **exc.to_dict(), "hint": exc.hint})
        raise  # rendered once, on stderr, exit 2 (base.py)
    except KeyboardInterrupt:
        render.note("stopped before any epoch finished; nothing was written")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Terminated:
        render.note("terminated; nothing was written")
        raise typer.Exit(EXIT_TERMINATED) from None
    except Exception as exc:  # a bug: one line (and one event), exit 1
        if jsonl:
            _jsonl({"event": "error", "code": "internal_error",
                    "message": f"{type(exc).__name__}: {str(exc)[:300]}",
                    "hint": None})  # fmt: skip
        render.render_unexpected(exc)
        raise typer.Exit(1) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    _summary(outcome, jsonl)


def _wants_jsonl(given: str | None) -> bool:
    if given is not None:
        return given == "jsonl"
    try:
        from ..config import Settings

        return Settings().train_progress == "jsonl"
    except Exception:  # a bad LOCALVISION_* value: said by Given.settings, in its words
        return False


def _jsonl(event: dict) -> None:
    sys.stdout.write(json.dumps(_rounded(event), ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _rounded(value):
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _run(settings, request, emit):
    from ..training.run import train as run_training

    return run_training(settings, request, emit)


def _with_bar(settings, request):
    """The run with a rich progress bar on stderr: the features pass, then the epochs with
    their loss, accuracy and ETA."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )  # fmt: skip

    columns = (
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[stats]}"), TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, console=render.err) as bar:
        tasks: dict[str, int] = {}

        def task(key: str, description: str, total: int):
            if key not in tasks:
                tasks[key] = bar.add_task(description, total=total, stats="")
            return tasks[key]

        def emit(event: dict) -> None:
            kind = event["event"]
            if kind == "start":
                bar.console.print(escape(
                    f"training {event['name']}: {event['mode']} on {event['base']}, "
                    f"{len(event['classes'])} classes, {event['train']} train / {event['val']} "
                    f"val images" + (f", {event['skipped']} skipped" if event["skipped"] else "")
                ), highlight=False)  # fmt: skip
            elif kind == "phase" and event["phase"] == "features":
                bar.update(task("features", "features", event["total"]), completed=event["done"])
            elif kind == "epoch":
                t = task("epochs", "epochs", event["epochs"])
                stats = (f"loss {event['train_loss']:.3f} acc {event['train_acc']:.0%} · val "
                         f"loss {event['val_loss']:.3f} acc {event['val_acc']:.0%}")  # fmt: skip
                bar.update(t, completed=event["epoch"], stats=stats)

        outcome = _run(settings, request, emit)
        if "epochs" in tasks:  # stopped early: the bar ends where training did
            bar.update(tasks["epochs"], total=bar.tasks[tasks["epochs"]].completed)
    return outcome


def _summary(outcome, jsonl: bool) -> None:
    m = outcome.metrics
    why = {"early": " (stopped early)", "interrupted": " (interrupted: the best epoch so far)"}
    text = (
        f"{outcome.package.name}: trained, validation accuracy {m['val_acc']:.1%}, loss "
        f"{m['val_loss']:.3f}{why.get(outcome.stopped, '')}; model {outcome.package.path}, "
        f"report {outcome.report}"
    )
    if jsonl:
        render.note(text)  # stdout is the events'
    else:
        render.out.print(escape(text), highlight=False, soft_wrap=True)
