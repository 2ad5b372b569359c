"""`localvision models ...`, `localvision weights ...` and `localvision export`: the models a
person can use, their weights, and the exports serve and classify reuse (models/, weights.py,
export.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..config import Settings
from . import render
from .base import App
from .options import Given, choices, option, settings_options

models_app = App(
    help="List, import and remove models (the registry and the model store).",
    no_args_is_help=False,
)
weights_app = App(help="Show, download or import model weights.")

Backend = choices("backend")
Precision = choices("precision")
# What `export --format` writes: a serving backend's file (onnx = the onnxruntime backend's) or a
# file for another runtime (mobile.py). Not a setting: it names this one export's target.
ExportFormat = Literal["openvino", "onnx", "coreml", "tflite"]
FORMAT_BACKENDS = {"openvino": "openvino", "onnx": "onnxruntime"}


@models_app.callback(invoke_without_command=True)
@settings_options("offline", "model_dir")
def models(ctx: typer.Context, *, settings: Settings):
    """List the registry's and the store's models: their state (ready, weights downloadable,
    missing), size on disk and the precisions checked for them."""
    if ctx.invoked_subcommand is None:
        show_models(settings)


def show_models(settings: Settings) -> None:
    """The table of `localvision models` (and `weights status`)."""
    from ..models.catalog import catalog
    from ..text.package import state_line

    table = Table(title=f"localvision models · store {settings.model_dir}", title_justify="left")
    for col in ("model", "state", "size", "precisions", "classes", "where / how", "description"):
        table.add_column(col, overflow="fold")
    colours = {"ready": "green", "downloadable": "yellow", "present": "yellow"}
    for entry in catalog(settings):
        state = f"[{colours.get(entry.state, 'red')}]{entry.state}[/]"
        table.add_row(
            entry.name, state, entry.size, ", ".join(entry.precisions) or "–",
            str(entry.classes), escape(entry.detail), escape(entry.title),
        )  # fmt: skip
    render.out.print(table)
    render.out.print(
        "present / downloadable: packaged into the store on first use. auto = resnet18 when "
        "its weights are ready, present or downloadable, else efficientnet_lite0"
    )
    render.out.print(escape(state_line(settings.model_dir, settings.text_model)))


@models_app.command("import")
@settings_options("model_dir")
def models_import(
    name: str = typer.Argument(..., help="The new model's name."),
    arch: str = typer.Option(..., "--arch", help="Its architecture: resnet18, resnet50, "
                             "mobilenet_v3_large or efficientnet_lite0."),  # fmt: skip
    state_dict: Path = typer.Option(..., "--weights", dir_okay=False,
                                    help="Its state dict (a .pth/.pt file, or safetensors)."),
    # the setting's help, but this model's own labels: LOCALVISION_LABELS is the served model's
    labels: Optional[Path] = option("labels"),
    title: Optional[str] = typer.Option(None, "--title", help="A description to list it by."),
    replace: bool = typer.Option(False, "--replace", help="Replace a model of that name."),
    *,
    settings: Settings,
):
    """Add a model to the store from a state dict (a fine-tuned or test model). Without
    --labels it has ImageNet's 1000 classes (English and Chinese labels, and the groups)."""
    from ..models.importing import import_model

    package = import_model(settings, name, arch, state_dict, labels, title, replace)
    m = package.manifest
    render.out.print(escape(
        f"{name}: imported ({m['architecture']}, {m['num_classes']} classes, labels in "
        f"{', '.join(m['labels'])}) to {package.path}"
    ))  # fmt: skip


@models_app.command("remove")
@settings_options("model_dir")
def models_remove(
    name: str = typer.Argument(..., help="The model to remove from the store."),
    *,
    settings: Settings,
):
    """Remove a model from the store (its weights, manifest and exports)."""
    from ..models.store import ModelStore

    package = ModelStore.of(settings).remove(name)
    render.out.print(escape(f"{name}: removed {package.path}"))


@weights_app.command("status")
@settings_options("offline")
def weights_status(*, settings: Settings):
    """Where each model's weights are, or how to get them."""
    show_models(settings)


@weights_app.command("fetch")
def weights_fetch(model: str = typer.Argument("resnet18", help="Model whose weights to get.")):
    """Download a model's published weights into the torch hub cache (SHA-256 checked)."""
    from .. import weights as w
    from ..models import get_spec

    spec = get_spec(model)
    found = w.locate(spec)
    if found is not None:
        render.out.print(escape(f"{model}: already present at {found.path}"))
        return
    path = w.fetch(spec)
    render.out.print(escape(f"{model}: saved to {path}"))


@weights_app.command("import")
def weights_import(
    model: str = typer.Argument(..., help="Model the file belongs to."),
    file: Path = typer.Argument(..., help="The weights file obtained elsewhere."),
):
    """Copy a weights file obtained elsewhere into the cache, after checking its SHA-256."""
    from .. import weights as w
    from ..models import get_spec

    path = w.import_file(get_spec(model), file)
    render.out.print(escape(f"{model}: verified and saved to {path}"))


@settings_options("device", "weights", "offline", "model_dir", "converter_dir")
def export(
    model: str = typer.Argument(..., help="Model to export: a registry or store model."),
    to_format: Optional[ExportFormat] = typer.Option(
        None, "--format", help="The file to write: openvino or onnx (what serve and classify "
        "reuse), coreml (.mlpackage) or tflite (LiteRT), with labels and preprocessing inside.",
    ),  # fmt: skip
    to_backend: Optional[Backend] = typer.Option(
        None, "--backend", help="openvino (auto), onnxruntime, or torch (a precision check only)."
    ),
    to_precision: Optional[Precision] = typer.Option(
        None, "--precision", help="fp32 (auto), bf16, fp16 or int8; all but fp32 are checked."
    ),
    int8: bool = typer.Option(False, "--int8", help="The same as --precision int8."),
    calibration: Optional[Path] = typer.Option(
        None, "--calibration", file_okay=False,
        help="Folder of real images: INT8 calibrates on three quarters of them; every precision "
        "but fp32 is checked against fp32 on the held-out ones.",
    ),  # fmt: skip
    min_agreement: Optional[float] = typer.Option(
        None, "--min-agreement", min=0.0, max=1.0,
        help="Least top-1 agreement with fp32 (default: 0.98 for int8, 0.99 for bf16 and fp16).",
    ),  # fmt: skip
    force: bool = typer.Option(
        False, "--force", help="Keep an export below the bar (auto skips it)."
    ),
    rebuild: bool = typer.Option(False, "--rebuild", help="Export again even if cached."),
    setup_converter: bool = typer.Option(
        False, "--setup-converter", help="With --format tflite: first make (or remake) the "
        "converter's own environment under --converter-dir (torch + litert-torch, about 7 GB).",
    ),  # fmt: skip
    *,
    given: Given,
):
    """Export a model to a cached artifact that serve and classify reuse, or (--format coreml,
    tflite) to a file for a phone app.

    Every precision but fp32 is checked against fp32 on real images."""
    from ..export import Target
    from ..export import export as do_export
    from ..models.resolve import resolve

    settings = given.settings(model=model)  # MODEL is the `model` setting, as an argument
    precision = "int8" if int8 else to_precision
    if to_format in FORMAT_BACKENDS:
        to_backend = _format_backend(to_format, to_backend)
    elif to_format is not None:  # another runtime's file (mobile.py)
        from ..mobile import export_mobile, require_converter

        if setup_converter:
            _setup_converter(to_format, settings.converter_dir)
        require_converter(to_format, settings.converter_dir)  # before packaging: fails at once
        package = resolve(settings).package
        precision = "fp32" if precision in (None, "auto") else precision
        result = export_mobile(
            package, to_format, precision, rebuild=rebuild, converter_dir=settings.converter_dir
        )
        _report(model, result)
        return
    target = Target.from_settings(settings, to_backend, precision)
    package = resolve(settings).package  # packaged into the store on first use
    result = do_export(
        package, target, calibration_dir=calibration,
        min_agreement=min_agreement, force=force, rebuild=rebuild,
    )  # fmt: skip
    _report(model, result)


def _setup_converter(to_format: str, converter_dir: Path) -> None:
    """Make the converter environment a format needs (only LiteRT's has one), unless the one
    there is complete and made for the versions wanted now."""
    from ..errors import InvalidArgument
    from ..litert import ConverterEnv

    if to_format != "tflite":
        raise InvalidArgument(f"--setup-converter is for --format tflite; {to_format} needs none.")
    env = ConverterEnv.under(converter_dir)
    if env.ready():
        render.out.print(escape(f"LiteRT converter: ready at {env.path}"))
        return
    render.out.print(escape(f"LiteRT converter: installing torch and litert-torch into "
                            f"{env.path} (a few minutes) ..."))  # fmt: skip
    env.create()
    render.out.print("LiteRT converter: ready")


def _format_backend(to_format: str, to_backend: str | None) -> str:
    """The serving backend a --format names; a --backend that says otherwise is refused."""
    from ..errors import InvalidArgument

    backend = FORMAT_BACKENDS[to_format]
    if to_backend not in (None, "auto", backend):
        raise InvalidArgument(f"--format {to_format} is the {backend} backend's file, not "
                              f"{to_backend}'s; give one of them.")  # fmt: skip
    return backend


def _report(model: str, result) -> None:
    """What an export wrote (or found), and its precision check."""
    m = result.artifact.manifest
    verb = "exported" if result.created else "already exported"
    render.out.print(
        escape(f"{model}: {verb} {m['backend']} {m['precision']} to {result.artifact.path}")
    )
    if m["check"]:
        c = m["check"]
        render.out.print(
            f"  {m['precision']} top-1 agreement with fp32: {c['top1_agreement']:.1%} on "
            f"{c['held_out_images']} held-out images"
            + (f" ({c['calibration_images']} calibrated)" if c["calibration_images"] else "")
            + ("  \\[kept with --force; auto will not use it]" if c["forced"] else "")
        )
