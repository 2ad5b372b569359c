"""The `localvision` command: a thin shell around the Classifier (Typer + rich).

Exit codes: 0 every input succeeded, 1 some inputs failed, 2 a usage, model or weights error.
Every option can also be set as a LOCALVISION_<NAME> environment variable.
"""

from __future__ import annotations

import glob
import io
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .cli_admin import keys_app, serve_auth, users_app
from .config import Settings
from .errors import LocalVisionError
from .report import rows_to_csv

app = typer.Typer(
    help="localvision: local, offline image recognition (ResNet-18, ImageNet-1k).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
weights_app = typer.Typer(help="Show, download or import model weights.", no_args_is_help=True)
app.add_typer(weights_app, name="weights")
app.add_typer(keys_app, name="keys")
app.add_typer(users_app, name="users")

out = Console()
err = Console(stderr=True)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".jfif"}


def _help(name: str) -> str:
    """Each option's help comes from its one definition in Settings."""
    return Settings.model_fields[name].description or ""


def settings_from(**given) -> Settings:
    """Settings from the environment, overridden by the options given on the command line."""
    try:
        return Settings(**{k: v for k, v in given.items() if v is not None})
    except Exception as exc:  # pydantic ValidationError: a bad LOCALVISION_* value
        fail(LocalVisionError(f"Invalid setting: {exc}"))


def fail(exc: LocalVisionError, code: int = 2):
    err.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True)
    if exc.hint:
        err.print(f"  to fix: {escape(exc.hint)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


# Options shared by the commands that load a model.
ModelOpt = typer.Option(None, "--model", "-m", help=_help("model"))
WeightsOpt = typer.Option(None, "--weights", help=_help("weights"), dir_okay=False)
OfflineOpt = typer.Option(None, "--offline", help=_help("offline"))
BackendOpt = typer.Option(None, "--backend", help=_help("backend"))
DeviceOpt = typer.Option(None, "--device", help=_help("device"))
PrecisionOpt = typer.Option(None, "--precision", help=_help("precision"))
RecheckOpt = typer.Option(None, "--recheck-margin", min=0.0, max=1.0, help=_help("recheck_margin"))


def expand_paths(paths: list[str], recursive: bool) -> list[str]:
    """Files as given; directories to their image files; globs expanded. A path that matches
    nothing is kept, so it gets its own 'file not found' row."""
    found: list[str] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            walker = p.rglob("*") if recursive else p.glob("*")
            found += sorted(
                str(f) for f in walker if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
            )
        elif not p.exists() and glob.has_magic(raw):
            matches = sorted(glob.glob(raw, recursive=recursive))
            found += [m for m in matches if Path(m).is_file()] or [raw]
        else:
            found.append(raw)
    return found


def load(settings: Settings):
    from .classifier import from_settings

    try:
        clf = from_settings(settings)
    except LocalVisionError as exc:
        fail(exc)
    if clf.notice:
        err.print(f"[yellow]warning:[/] {clf.notice}", highlight=False, soft_wrap=True)
    return clf


@app.command()
def classify(
    paths: list[str] = typer.Argument(..., help="Image files, directories or globs."),
    model: Optional[str] = ModelOpt,
    weights: Optional[Path] = WeightsOpt,
    top_k: Optional[int] = typer.Option(None, "--top-k", "-k", help=_help("top_k"), min=1),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write results here."),
    offline: Optional[bool] = OfflineOpt,
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Descend into directories."),
    backend: Optional[str] = BackendOpt,
    device: Optional[str] = DeviceOpt,
    precision: Optional[str] = PrecisionOpt,
    exact_decode: Optional[bool] = typer.Option(None, "--exact-decode", help=_help("exact_decode")),
    recheck_margin: Optional[float] = RecheckOpt,
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help=_help("batch_size")),
    max_pixels: Optional[int] = typer.Option(None, "--max-pixels", help=_help("max_pixels")),
):
    """Classify images and print the top-k labels for each."""
    settings = settings_from(
        model=model, weights=weights, top_k=top_k, offline=offline, backend=backend,
        device=device, precision=precision, exact_decode=exact_decode, batch_size=batch_size,
        max_pixels=max_pixels, recheck_margin=recheck_margin,
    )  # fmt: skip
    files = expand_paths(paths, recursive)
    if not files:
        fail(LocalVisionError("No images found in the given paths."))
    clf = load(settings)
    results = _run(clf, files, settings.top_k)
    rows = [
        {"path": r.source, "model": clf.name, **r.to_dict()} for r in results
    ]
    running = describe(clf)
    text = render(rows, fmt, running, settings.top_k)
    if output:
        output.write_text(text, encoding="utf-8")
    elif fmt is Format.table:
        out.print(_table(rows, running))
    else:
        sys.stdout.write(text)
    raise typer.Exit(0 if all(r.ok for r in results) else 1)


def describe(clf) -> str:
    """What actually runs: "model resnet18 · openvino int8 (cpu)"."""
    b = clf.backend
    return f"model {clf.name} · {b.name} {b.precision} ({b.device})"


def _run(clf, files: list[str], k: int):
    from rich.progress import Progress

    if len(files) <= 4:
        return clf.predict(files, top_k=k)
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("Classifying", total=len(files))
        return clf.predict(files, top_k=k, progress=lambda n: progress.advance(task, n))


def render(rows: list[dict], fmt: Format, model: str, k: int) -> str:
    if fmt is Format.json:
        return json.dumps(rows, indent=2) + "\n"
    if fmt is Format.csv:
        return rows_to_csv(rows, lead=("path", "model"), k=k)
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(_table(rows, model))
    return console.file.getvalue()


def _table(rows: list[dict], model: str) -> Table:
    table = Table(title=f"localvision · {model}", title_justify="left")
    table.add_column("file", overflow="fold")
    table.add_column("top labels")
    for row in rows:
        if row["error"]:
            error = f"[red]{row['error']['code']}[/]: {escape(row['error']['message'])}"
            table.add_row(escape(row["path"]), error)
        else:
            labels = "\n".join(
                f"{p['probability'] * 100:5.1f}%  {p['label']}" for p in row["predictions"]
            )
            table.add_row(escape(row["path"]), labels)
    return table


@app.command()
def models(offline: Optional[bool] = OfflineOpt):
    """List the models and whether their weights are present, downloadable or missing."""
    from . import weights as w
    from .models import get_spec, model_names

    settings = settings_from(offline=offline)
    table = Table(title="localvision models", title_justify="left")
    for col in ("model", "weights", "where", "description"):
        table.add_column(col, overflow="fold")
    for name in model_names():
        spec = get_spec(name)
        st = w.status(spec, offline=settings.offline)
        colour = {"present": "green", "downloadable": "yellow"}.get(st.state, "red")
        table.add_row(name, f"[{colour}]{st.state}[/]", escape(st.detail), spec.title)
    out.print(table)
    out.print("auto = resnet18 when its weights are present or downloadable, else efficientnet_lite0")


@weights_app.command("status")
def weights_status(offline: Optional[bool] = OfflineOpt):
    """Where each model's weights are, or how to get them."""
    models(offline)


@weights_app.command("fetch")
def weights_fetch(model: str = typer.Argument("resnet18", help="Model whose weights to get.")):
    """Download a model's published weights into the torch hub cache (SHA-256 checked)."""
    from . import weights as w
    from .models import get_spec

    try:
        spec = get_spec(model)
        found = w.locate(spec)
        if found is not None:
            out.print(escape(f"{model}: already present at {found.path}"))
            return
        path = w.fetch(spec)
    except LocalVisionError as exc:
        fail(exc)
    out.print(escape(f"{model}: saved to {path}"))


@weights_app.command("import")
def weights_import(
    model: str = typer.Argument(..., help="Model the file belongs to."),
    file: Path = typer.Argument(..., help="The weights file obtained elsewhere."),
):
    """Copy a weights file obtained elsewhere into the cache, after checking its SHA-256."""
    from . import weights as w
    from .models import get_spec

    try:
        path = w.import_file(get_spec(model), file)
    except LocalVisionError as exc:
        fail(exc)
    out.print(escape(f"{model}: verified and saved to {path}"))


def _limit_malloc_arenas() -> None:
    """glibc gives each decoding thread its own malloc arena, and freed image buffers scattered over
    many arenas keep the server's RSS high; two arenas hold it flat at no measurable cost."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass  # not glibc


@app.command()
def serve(
    host: Optional[str] = typer.Option(None, "--host", help=_help("host")),
    port: Optional[int] = typer.Option(None, "--port", help=_help("port")),
    model: Optional[str] = ModelOpt,
    weights: Optional[Path] = WeightsOpt,
    db: Optional[str] = typer.Option(None, "--db", help=_help("db")),
    offline: Optional[bool] = OfflineOpt,
    backend: Optional[str] = BackendOpt,
    device: Optional[str] = DeviceOpt,
    precision: Optional[str] = PrecisionOpt,
    max_batch: Optional[int] = typer.Option(None, "--max-batch", help=_help("max_batch")),
    max_wait_ms: Optional[float] = typer.Option(None, "--max-wait-ms", help=_help("max_wait_ms")),
    exact_decode: Optional[bool] = typer.Option(None, "--exact-decode", help=_help("exact_decode")),
    recheck_margin: Optional[float] = RecheckOpt,
    rate_limit: Optional[str] = typer.Option(None, "--rate-limit", help=_help("rate_limit")),
    log_format: Optional[str] = typer.Option(None, "--log-format", help=_help("log_format")),
    auth: Optional[str] = typer.Option(None, "--auth", help=_help("auth")),
    insecure_no_auth: bool = typer.Option(
        False, "--insecure-no-auth",
        help="Serve a non-loopback address without auth: anyone who can reach it can use it.",
    ),  # fmt: skip
):
    """Run the web service and browser UI."""
    import uvicorn

    from .server.app import create_app
    from .server.protocol import uvicorn_options
    from .server.logs import logging_config

    settings = settings_from(
        host=host, port=port, model=model, weights=weights, db=db, offline=offline,
        backend=backend, device=device, precision=precision, max_batch=max_batch,
        max_wait_ms=max_wait_ms, exact_decode=exact_decode, recheck_margin=recheck_margin, auth=auth,
        rate_limit=rate_limit, log_format=log_format,
    )  # fmt: skip
    settings = serve_auth(settings, insecure_no_auth)
    shown = f"[{settings.host}]" if ":" in settings.host else settings.host
    err.print(f"localvision: open http://{shown}:{settings.port}/ in your browser", highlight=False)
    _limit_malloc_arenas()
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level="info",
        **uvicorn_options(settings),  # header deadline and size, keep-alive (server/protocol.py)
        log_config=logging_config(settings.log_format), access_log=False,  # ours: server/logs.py
    )  # fmt: skip


@app.command()
def bench(
    model: Optional[str] = ModelOpt,
    weights: Optional[Path] = WeightsOpt,
    backend: Optional[str] = BackendOpt,
    device: Optional[str] = DeviceOpt,
    precision: Optional[str] = PrecisionOpt,
    offline: Optional[bool] = OfflineOpt,
    batch: int = typer.Option(16, "--batch", help="Batch size for the throughput figure."),
    iterations: int = typer.Option(30, "--iterations", help="Timed batch-1 calls."),
):
    """Time the model alone: batch-1 latency (p50, p99) and batch throughput. The full suite
    (HTTP load, the classic baseline, ratios) is `python -m bench.run` in a source checkout."""
    from .benchmark import bench_backend

    settings = settings_from(
        model=model, weights=weights, backend=backend, device=device, precision=precision,
        offline=offline,
    )  # fmt: skip
    clf = load(settings)
    result = bench_backend(clf.backend, clf.spec.preprocess.crop, batch, iterations)
    table = Table(title=f"localvision bench · {describe(clf)}", title_justify="left")
    for key in result:
        table.add_column(key)
    table.add_row(*(str(v) for v in result.values()))
    out.print(table)


@app.command()
def export(
    model: str = typer.Argument(..., help="Model to export (resnet18 or efficientnet_lite0)."),
    to_backend: Optional[str] = typer.Option(
        None, "--backend", help="openvino (auto), onnxruntime, or torch (a precision check only)."
    ),
    to_precision: Optional[str] = typer.Option(
        None, "--precision", help="fp32 (auto), bf16, fp16 or int8; all but fp32 are checked."
    ),
    int8: bool = typer.Option(False, "--int8", help="The same as --precision int8."),
    device: Optional[str] = DeviceOpt,
    weights: Optional[Path] = WeightsOpt,
    calibration: Optional[Path] = typer.Option(
        None, "--calibration", file_okay=False,
        help="Folder of real images: INT8 calibrates on three quarters of them; every precision "
        "but fp32 is checked against fp32 on the held-out ones.",
    ),  # fmt: skip
    min_agreement: Optional[float] = typer.Option(
        None, "--min-agreement",
        help="Least top-1 agreement with fp32 (default: 0.98 for int8, 0.99 for bf16 and fp16).",
    ),  # fmt: skip
    force: bool = typer.Option(False, "--force", help="Keep an export below the bar (auto skips it)."),
    rebuild: bool = typer.Option(False, "--rebuild", help="Export again even if cached."),
    offline: Optional[bool] = OfflineOpt,
):
    """Export a model to a cached artifact that serve and classify reuse, checking every
    precision but fp32 against fp32 on real images."""
    from . import weights as w
    from .export import Target
    from .export import export as do_export
    from .models import get_spec

    settings = settings_from(offline=offline, device=device)
    target = Target.from_settings(settings, to_backend, "int8" if int8 else to_precision)
    try:
        spec = get_spec(model)
        located = w.resolve(spec, weights, settings.offline)
        result = do_export(
            spec, located.path, target, calibration_dir=calibration,
            min_agreement=min_agreement, force=force, rebuild=rebuild,
        )  # fmt: skip
    except LocalVisionError as exc:
        fail(exc)
    m = result.artifact.manifest
    verb = "exported" if result.created else "already exported"
    out.print(escape(f"{model}: {verb} {m['backend']} {m['precision']} to {result.artifact.path}"))
    if m["check"]:
        c = m["check"]
        out.print(
            f"  {m['precision']} top-1 agreement with fp32: {c['top1_agreement']:.1%} on "
            f"{c['held_out_images']} held-out images"
            + (f" ({c['calibration_images']} calibrated)" if c["calibration_images"] else "")
            + ("  [kept with --force; auto will not use it]" if c["forced"] else "")
        )


if __name__ == "__main__":
    app()
