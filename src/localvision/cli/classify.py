"""The `localvision` command: a thin shell around the Classifier (Typer + rich).

Exit codes: 0 every input succeeded, 1 some inputs failed, 2 a usage, model or weights error.
Every option that has a setting can also be set as a LOCALVISION_<NAME> environment variable.
What it prints is rendered in cli_render.py; errors that end a command are rendered there once
(cli_app.py routes them).
"""

from __future__ import annotations

import glob
import sys
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from . import cli_library
from . import cli_render as render
from .cli_admin import db_app, keys_app, serve_auth, users_app
from .cli_app import App
from .config import Settings
from .errors import InvalidArgument, UnsupportedFormat
from .imaging import IMAGE_SUFFIXES
from .report import cli_rows
from .results import Result
from .streams.library import Library

app = App(help="localvision: local, offline image recognition (ResNet-18, ImageNet-1k).")
weights_app = App(help="Show, download or import model weights.")
app.add_typer(weights_app, name="weights")
app.add_typer(keys_app, name="keys")
app.add_typer(users_app, name="users")
app.add_typer(db_app, name="db")



def _help(name: str) -> str:
    """Each option's help comes from its one definition in Settings."""
    return Settings.model_fields[name].description or ""


def _option(name: str, *decls: str, **options):
    """The option for setting `name`: its help and its bounds (ge/le) come from Settings."""
    for rule in Settings.model_fields[name].metadata:
        if getattr(rule, "ge", None) is not None:
            options.setdefault("min", rule.ge)
        if getattr(rule, "le", None) is not None:
            options.setdefault("max", rule.le)
    return typer.Option(None, *decls, help=_help(name), **options)


def _choices(name: str):
    """A setting's type (its Literal of choices), so the option lists and checks the same ones."""
    return Settings.model_fields[name].annotation


Backend = _choices("backend")
Lang = _choices("lang")
Device = _choices("device")
Precision = _choices("precision")
Auth = _choices("auth")
LogFormat = _choices("log_format")
Smoothing = _choices("video_smoothing")
RtspTransport = _choices("rtsp_transport")


def settings_from(**given) -> Settings:
    """Settings from the environment, overridden by the options given on the command line. A
    value Settings refuses is named as the option or LOCALVISION_* variable it came from."""
    given = {k: v for k, v in given.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error.get("loc") else None
        reason = render.explain(error)
        option = _option_named(name) if name in given else None
        if option is not None:
            raise typer.BadParameter(reason, param_hint=option) from None
        where = f"LOCALVISION_{name.upper()}" if name else "the settings"
        raise InvalidArgument(
            f"Invalid value for {where}: {reason}", hint=f"correct or unset {where}"
        ) from None


def _option_named(setting: str) -> str | None:
    """How the running command spells the option for a setting, e.g. "'--batch-size'"."""
    ctx = click_context()
    for param in ctx.command.params if ctx else ():
        if param.name == setting and param.opts:
            return " / ".join(f"'{o}'" for o in param.opts)
    return None


def click_context():
    from typer._click.globals import get_current_context

    return get_current_context(silent=True)


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


# Options shared by the commands that load a model.
ModelOpt = _option("model", "--model", "-m")
WeightsOpt = _option("weights", "--weights", dir_okay=False)
OfflineOpt = _option("offline", "--offline")
BackendOpt = _option("backend", "--backend")
DeviceOpt = _option("device", "--device")
PrecisionOpt = _option("precision", "--precision")
RecheckOpt = _option("recheck_margin", "--recheck-margin")
LabelsOpt = _option("labels", "--labels", dir_okay=False)
ModelDirOpt = _option("model_dir", "--model-dir", file_okay=False)
LangOpt = _option("lang", "--lang")
FloorOpt = _option("min_confidence", "--min-confidence")
RayOpt = _option("ray", "--ray")
RayAddressOpt = _option("ray_address", "--ray-address")
ReplicasOpt = _option("replicas", "--replicas")
AutoscaleOpt = _option("autoscale", "--autoscale")
RayCpusOpt = _option("ray_cpus_per_replica", "--ray-cpus-per-replica")
# --sort-into and --write-xmp, on classify and watch (streams/library.py)
SortMode = _choices("sort_mode")
XmpSidecar = _choices("xmp_sidecar")
SortIntoOpt = _option("sort_into", "--sort-into", file_okay=False)
SortModeOpt = _option("sort_mode", "--sort-mode")
MoveOpt = typer.Option(False, "--move", help="Move the images into --sort-into (--sort-mode move).")
WriteXmpOpt = _option("write_xmp", "--write-xmp")
XmpSidecarOpt = _option("xmp_sidecar", "--xmp-sidecar")


@dataclass
class Found:
    """What the PATHs name, in order: files as given, a directory's files, a glob's matches.
    `skipped`: files met in a directory whose names are not an image's (never read)."""

    paths: list[str] = field(default_factory=list)
    skipped: set[str] = field(default_factory=set)

    @property
    def images(self) -> list[str]:
        return [p for p in self.paths if p not in self.skipped]


def expand_paths(paths: list[str], recursive: bool) -> Found:
    """Files as given; directories to their files (those not named like images are skipped);
    globs expanded. A path that matches nothing is kept, so it gets its own 'file not found'
    row; so is a file named directly, whatever its name (it is decoded by its content)."""
    found = Found()
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            walker = p.rglob("*") if recursive else p.glob("*")
            for f in sorted(str(f) for f in walker if f.is_file()):
                found.paths.append(f)
                if Path(f).suffix.lower() not in IMAGE_SUFFIXES:
                    found.skipped.add(f)
        elif not p.exists() and glob.has_magic(raw):
            matches = sorted(glob.glob(raw, recursive=recursive))
            found.paths += [m for m in matches if Path(m).is_file()] or [raw]
        else:
            found.paths.append(raw)
    return found


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


def load(settings: Settings):
    """The classifier the settings describe; its typed errors end the command (exit 2)."""
    from .classifier import from_settings

    clf = from_settings(settings)
    if clf.notice:
        render.warning(clf.notice)
    return clf


@app.command()
def classify(
    paths: list[str] = typer.Argument(..., help="Image files, directories or globs."),
    model: Optional[str] = ModelOpt,
    weights: Optional[Path] = WeightsOpt,
    top_k: Optional[int] = _option("top_k", "--top-k", "-k"),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write results here."),
    offline: Optional[bool] = OfflineOpt,
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Descend into directories."),
    strict: bool = typer.Option(
        False, "--strict",
        help="Report each file skipped in a directory (not named like an image) as an error.",
    ),  # fmt: skip
    backend: Optional[Backend] = BackendOpt,
    device: Optional[Device] = DeviceOpt,
    precision: Optional[Precision] = PrecisionOpt,
    exact_decode: Optional[bool] = _option("exact_decode", "--exact-decode"),
    recheck_margin: Optional[float] = RecheckOpt,
    batch_size: Optional[int] = _option("batch_size", "--batch-size"),
    max_pixels: Optional[int] = _option("max_pixels", "--max-pixels"),
    labels: Optional[Path] = LabelsOpt,
    lang: Optional[Lang] = LangOpt,
    min_confidence: Optional[float] = FloorOpt,
    groups: Optional[bool] = _option("groups", "--groups"),
    model_dir: Optional[Path] = ModelDirOpt,
    ray: Optional[bool] = RayOpt,
    ray_address: Optional[str] = RayAddressOpt,
    replicas: Optional[int] = ReplicasOpt,
    autoscale: Optional[str] = AutoscaleOpt,
    ray_cpus_per_replica: Optional[float] = RayCpusOpt,
    sort_into: Optional[Path] = SortIntoOpt,
    sort_mode: Optional[SortMode] = SortModeOpt,
    move: bool = MoveOpt,
    write_xmp: Optional[bool] = WriteXmpOpt,
    xmp_sidecar: Optional[XmpSidecar] = XmpSidecarOpt,
):
    """Classify images and print the top-k labels for each. With --ray: a Ray Data job over
    the files (or object-store URLs), written as CSV or Parquet (--output x.parquet)."""
    settings = settings_from(
        model=model, weights=weights, top_k=top_k, offline=offline, backend=backend,
        device=device, precision=precision, exact_decode=exact_decode, batch_size=batch_size,
        max_pixels=max_pixels, recheck_margin=recheck_margin, labels=labels, lang=lang,
        min_confidence=min_confidence, groups=groups, model_dir=model_dir, ray=ray,
        ray_address=ray_address, replicas=replicas, autoscale=autoscale,
        ray_cpus_per_replica=ray_cpus_per_replica, sort_into=sort_into, sort_mode=sort_mode,
        write_xmp=write_xmp, xmp_sidecar=xmp_sidecar,
    )  # fmt: skip
    settings = cli_library.check_library(settings, move)
    found = expand_paths(paths, recursive)
    if not (found.paths if strict else found.images):
        if found.skipped:
            render.note(skipped_note(found.skipped))
        raise InvalidArgument("No images found in the given paths.")
    check_output(output)
    if settings.ray:
        if settings.sort_into is not None or settings.write_xmp:
            raise InvalidArgument("--sort-into and --write-xmp work on this machine, not --ray.")
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
    filed = cli_library.file_results(library, results)
    if library and library.summary():
        render.note(library.summary())
    if found.skipped and not strict:
        render.note(skipped_note(found.skipped))
    raise typer.Exit(0 if filed and all(r.ok for r in results) else 1)


@app.command()
def watch(
    folder: Path = typer.Argument(..., help="The folder to watch."),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", dir_okay=False,
        help="Append one row per image here: JSON Lines, or CSV for a .csv file (default: JSON "
        "Lines on stdout).",
    ),  # fmt: skip
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Watch subfolders too."),
    watch_existing: Optional[bool] = _option("watch_existing", "--existing"),
    watch_settle_s: Optional[float] = _option("watch_settle_s", "--settle-s"),
    watch_polling: Optional[bool] = _option("watch_polling", "--polling"),
    sort_into: Optional[Path] = SortIntoOpt,
    sort_mode: Optional[SortMode] = SortModeOpt,
    move: bool = MoveOpt,
    write_xmp: Optional[bool] = WriteXmpOpt,
    xmp_sidecar: Optional[XmpSidecar] = XmpSidecarOpt,
    model: Optional[str] = ModelOpt,
    weights: Optional[Path] = WeightsOpt,
    top_k: Optional[int] = _option("top_k", "--top-k", "-k"),
    offline: Optional[bool] = OfflineOpt,
    backend: Optional[Backend] = BackendOpt,
    device: Optional[Device] = DeviceOpt,
    precision: Optional[Precision] = PrecisionOpt,
    exact_decode: Optional[bool] = _option("exact_decode", "--exact-decode"),
    recheck_margin: Optional[float] = RecheckOpt,
    batch_size: Optional[int] = _option("batch_size", "--batch-size"),
    max_pixels: Optional[int] = _option("max_pixels", "--max-pixels"),
    labels: Optional[Path] = LabelsOpt,
    lang: Optional[Lang] = LangOpt,
    min_confidence: Optional[float] = FloorOpt,
    groups: Optional[bool] = _option("groups", "--groups"),
    model_dir: Optional[Path] = ModelDirOpt,
):
    """Classify each image as it arrives in FOLDER (once it has finished arriving), one row per
    image, the same rows as classify's, until Ctrl+C."""
    settings = settings_from(
        watch_existing=watch_existing, watch_settle_s=watch_settle_s,
        watch_polling=watch_polling, sort_into=sort_into, sort_mode=sort_mode,
        write_xmp=write_xmp, xmp_sidecar=xmp_sidecar, model=model, weights=weights, top_k=top_k,
        offline=offline, backend=backend, device=device, precision=precision,
        exact_decode=exact_decode, recheck_margin=recheck_margin, batch_size=batch_size,
        max_pixels=max_pixels, labels=labels, lang=lang, min_confidence=min_confidence,
        groups=groups, model_dir=model_dir,
    )  # fmt: skip
    cli_library.watch(cli_library.check_library(settings, move), folder, output, recursive)


class VideoFormat(str, Enum):
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


@app.command()
def video(
    source: str = typer.Argument(
        ..., help="A video file, an rtsp://, rtsps://, http(s):// stream, or webcam:N (V4L2)."
    ),
    fmt: VideoFormat = typer.Option(
        VideoFormat.json, "--format", "-f",
        help="json (one document at the end), jsonl (one line per frame and segment, as they "
        "come) or csv.",
    ),  # fmt: skip
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write results here."),
    annotate: Optional[Path] = typer.Option(
        None, "--annotate", dir_okay=False,
        help="Also write the video with the labels and confidence bars drawn on each frame "
        "(.mp4).",
    ),  # fmt: skip
    video_every: Optional[int] = _option("video_every", "--every"),
    video_fps: Optional[float] = _option("video_fps", "--fps"),
    video_smoothing: Optional[Smoothing] = _option("video_smoothing", "--smoothing"),
    video_window: Optional[int] = _option("video_window", "--window"),
    video_agree: Optional[int] = _option("video_agree", "--agree"),
    stream_timeout_s: Optional[float] = _option("stream_timeout_s", "--timeout-s"),
    stream_reconnects: Optional[int] = _option("stream_reconnects", "--reconnects"),
    rtsp_transport: Optional[RtspTransport] = _option("rtsp_transport", "--rtsp-transport"),
    model: Optional[str] = ModelOpt,
    weights: Optional[Path] = WeightsOpt,
    top_k: Optional[int] = _option("top_k", "--top-k", "-k"),
    offline: Optional[bool] = OfflineOpt,
    backend: Optional[Backend] = BackendOpt,
    device: Optional[Device] = DeviceOpt,
    precision: Optional[Precision] = PrecisionOpt,
    batch_size: Optional[int] = _option("batch_size", "--batch-size"),
    labels: Optional[Path] = LabelsOpt,
    lang: Optional[Lang] = LangOpt,
    min_confidence: Optional[float] = FloorOpt,
    model_dir: Optional[Path] = ModelDirOpt,
):
    """Classify a video, stream or camera frame by frame (sampled), smoothed into segments
    where the label is stable. Ctrl+C ends a live source, with the segments so far."""
    from . import cli_video

    settings = settings_from(
        video_every=video_every, video_fps=video_fps, video_smoothing=video_smoothing,
        video_window=video_window, video_agree=video_agree, stream_timeout_s=stream_timeout_s,
        stream_reconnects=stream_reconnects, rtsp_transport=rtsp_transport, model=model,
        weights=weights, top_k=top_k, offline=offline, backend=backend, device=device,
        precision=precision, batch_size=batch_size, labels=labels, lang=lang,
        min_confidence=min_confidence, model_dir=model_dir,
    )  # fmt: skip
    from .streams.sources import VideoSource

    check_output(output)
    opened = VideoSource.from_settings(source, settings).open()  # a bad source: before the model
    cli_video.run(load(settings), settings, opened, fmt.value, output, annotate)


def _classify_on_ray(settings: Settings, found: Found, strict: bool, fmt: Format, output):
    """classify --ray: the same rows as a Ray Data job (scale/batch.py); ends the command."""
    from .models.resolve import resolve
    from .scale import batch, require_ray

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


def describe(clf) -> str:
    """What actually runs: "model resnet18 · openvino int8 (cpu)"."""
    b = clf.backend
    return f"model {clf.name} · {b.name} {b.precision} ({b.device})"


def _run(clf, files: list[str]):
    """The classifier's answers with its settings' top_k, lang, floor and groups."""
    from rich.progress import Progress

    if len(files) <= 4:
        return clf.predict(files)
    with Progress(console=render.err, transient=True) as progress:
        task = progress.add_task("Classifying", total=len(files))
        return clf.predict(files, progress=lambda n: progress.advance(task, n))


models_app = App(
    help="List, import and remove models (the registry and the model store).",
    no_args_is_help=False,
)
app.add_typer(models_app, name="models")


@models_app.callback(invoke_without_command=True)
def models(
    ctx: typer.Context,
    offline: Optional[bool] = OfflineOpt,
    model_dir: Optional[Path] = ModelDirOpt,
):
    """List the registry's and the store's models: their state (ready, weights downloadable,
    missing), size on disk and the precisions checked for them."""
    if ctx.invoked_subcommand is not None:
        return
    from .models.catalog import catalog

    settings = settings_from(offline=offline, model_dir=model_dir)
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


@models_app.command("import")
def models_import(
    name: str = typer.Argument(..., help="The new model's name."),
    arch: str = typer.Option(..., "--arch", help="Its architecture: resnet18, resnet50, "
                             "mobilenet_v3_large or efficientnet_lite0."),  # fmt: skip
    state_dict: Path = typer.Option(..., "--weights", dir_okay=False,
                                    help="Its state dict (a .pth/.pt file, or safetensors)."),
    labels: Optional[Path] = LabelsOpt,
    title: Optional[str] = typer.Option(None, "--title", help="A description to list it by."),
    replace: bool = typer.Option(False, "--replace", help="Replace a model of that name."),
    model_dir: Optional[Path] = ModelDirOpt,
):
    """Add a model to the store from a state dict (a fine-tuned or test model). Without
    --labels it has ImageNet's 1000 classes (English and Chinese labels, and the groups)."""
    from .models.importing import import_model

    settings = settings_from(model_dir=model_dir)
    package = import_model(settings, name, arch, state_dict, labels, title, replace)
    m = package.manifest
    render.out.print(escape(
        f"{name}: imported ({m['architecture']}, {m['num_classes']} classes, labels in "
        f"{', '.join(m['labels'])}) to {package.path}"
    ))  # fmt: skip


@models_app.command("remove")
def models_remove(
    name: str = typer.Argument(..., help="The model to remove from the store."),
    model_dir: Optional[Path] = ModelDirOpt,
):
    """Remove a model from the store (its weights, manifest and exports)."""
    from .models.store import ModelStore

    settings = settings_from(model_dir=model_dir)
    package = ModelStore.of(settings).remove(name)
    render.out.print(escape(f"{name}: removed {package.path}"))


@weights_app.command("status")
def weights_status(ctx: typer.Context, offline: Optional[bool] = OfflineOpt):
    """Where each model's weights are, or how to get them."""
    ctx.invoked_subcommand = None
    models(ctx, offline, None)


@weights_app.command("fetch")
def weights_fetch(model: str = typer.Argument("resnet18", help="Model whose weights to get.")):
    """Download a model's published weights into the torch hub cache (SHA-256 checked)."""
    from . import weights as w
    from .models import get_spec

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
    from . import weights as w
    from .models import get_spec

    path = w.import_file(get_spec(model), file)
    render.out.print(escape(f"{model}: verified and saved to {path}"))


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
    host: Optional[str] = _option("host", "--host"),
    port: Optional[int] = _option("port", "--port"),
    model: Optional[str] = ModelOpt,
    weights: Optional[Path] = WeightsOpt,
    db: Optional[str] = _option("db", "--db"),
    db_wait_s: Optional[float] = _option("db_wait_s", "--db-wait-s"),
    offline: Optional[bool] = OfflineOpt,
    backend: Optional[Backend] = BackendOpt,
    device: Optional[Device] = DeviceOpt,
    precision: Optional[Precision] = PrecisionOpt,
    max_batch: Optional[int] = _option("max_batch", "--max-batch"),
    max_wait_ms: Optional[float] = _option("max_wait_ms", "--max-wait-ms"),
    exact_decode: Optional[bool] = _option("exact_decode", "--exact-decode"),
    recheck_margin: Optional[float] = RecheckOpt,
    rate_limit: Optional[str] = _option("rate_limit", "--rate-limit"),
    log_format: Optional[LogFormat] = _option("log_format", "--log-format"),
    auth: Optional[Auth] = _option("auth", "--auth"),
    allowed_hosts: Optional[str] = _option("allowed_hosts", "--allowed-hosts"),
    cors_origins: Optional[str] = _option("cors_origins", "--cors-origins"),
    models: Optional[str] = _option("models", "--models"),
    labels: Optional[Path] = LabelsOpt,
    lang: Optional[Lang] = LangOpt,
    min_confidence: Optional[float] = FloorOpt,
    model_dir: Optional[Path] = ModelDirOpt,
    ray: Optional[bool] = RayOpt,
    ray_address: Optional[str] = RayAddressOpt,
    replicas: Optional[int] = ReplicasOpt,
    autoscale: Optional[str] = AutoscaleOpt,
    ray_cpus_per_replica: Optional[float] = RayCpusOpt,
    insecure_no_auth: bool = typer.Option(
        False, "--insecure-no-auth",
        help="Serve a non-loopback address without auth: anyone who can reach it can use it.",
    ),  # fmt: skip
):
    """Run the web service and browser UI. Its address is printed once it is ready. With
    --ray: as a Ray Serve application, --replicas of it (or --autoscale MIN:MAX)."""
    from . import cli_serve

    settings = settings_from(
        host=host, port=port, model=model, weights=weights, db=db, offline=offline,
        backend=backend, device=device, precision=precision, max_batch=max_batch,
        max_wait_ms=max_wait_ms, exact_decode=exact_decode, recheck_margin=recheck_margin,
        auth=auth, rate_limit=rate_limit, log_format=log_format, allowed_hosts=allowed_hosts,
        cors_origins=cors_origins, models=models, labels=labels, lang=lang,
        min_confidence=min_confidence, model_dir=model_dir, ray=ray, ray_address=ray_address,
        replicas=replicas, autoscale=autoscale, ray_cpus_per_replica=ray_cpus_per_replica,
        db_wait_s=db_wait_s,
    )  # fmt: skip
    log_format = cli_serve.resolve_log_format(settings.log_format)
    opened = []  # a database server still starting beside us is waited for (db_wait_s), once
    # auth is decided (a usage error waits for nothing); one that never comes ends the command
    # with one line naming it (dbwait.py)
    wait = lambda s: opened or opened.append(cli_serve.open_history(s, log_format))  # noqa: E731
    try:
        settings = serve_auth(settings, insecure_no_auth, before_db=wait)
        wait(settings)
    except BaseException:
        for store in opened:
            store.close()
        raise
    history = opened[0]
    if settings.ray:  # a Ray Serve application (scale/serve.py): replicas on a Ray cluster
        history.close()  # each replica opens its own
        from .scale import require_ray

        require_ray()
        from .scale.serve import run as run_on_ray

        return run_on_ray(settings, render.out.print)
    _limit_malloc_arenas()
    cli_serve.run(settings, log_format, history)


@app.command()
def bench(
    model: Optional[str] = ModelOpt,
    weights: Optional[Path] = WeightsOpt,
    backend: Optional[Backend] = BackendOpt,
    device: Optional[Device] = DeviceOpt,
    precision: Optional[Precision] = PrecisionOpt,
    offline: Optional[bool] = OfflineOpt,
    model_dir: Optional[Path] = ModelDirOpt,
    batch: int = typer.Option(16, "--batch", min=1, help="Batch size for the throughput figure."),
    iterations: int = typer.Option(30, "--iterations", min=1, help="Timed batch-1 calls."),
):
    """Time the model alone: batch-1 latency (p50, p99) and batch throughput.

    The full suite (HTTP load, the classic baseline, ratios) is `python -m bench.run` in a
    source checkout."""
    from .benchmark import bench_backend
    from .errors import InferenceFailed, LocalVisionError

    settings = settings_from(
        model=model, weights=weights, backend=backend, device=device, precision=precision,
        offline=offline, model_dir=model_dir,
    )  # fmt: skip
    clf = load(settings)
    try:
        result = bench_backend(clf.backend, clf.spec.preprocess.crop, batch, iterations)
    except LocalVisionError:
        raise
    except Exception as exc:  # the backend failing in a way of its own, as the road says it
        raise InferenceFailed(
            f"The model failed while being timed ({type(exc).__name__}: {str(exc)[:200]})."
        ) from exc
    table = Table(title=f"localvision bench · {describe(clf)}", title_justify="left")
    for key in result:
        table.add_column(key)
    table.add_row(*(str(v) for v in result.values()))
    render.out.print(table)


@app.command()
def export(
    model: str = typer.Argument(..., help="Model to export: a registry or store model."),
    to_backend: Optional[Backend] = typer.Option(
        None, "--backend", help="openvino (auto), onnxruntime, or torch (a precision check only)."
    ),
    to_precision: Optional[Precision] = typer.Option(
        None, "--precision", help="fp32 (auto), bf16, fp16 or int8; all but fp32 are checked."
    ),
    int8: bool = typer.Option(False, "--int8", help="The same as --precision int8."),
    device: Optional[Device] = DeviceOpt,
    weights: Optional[Path] = WeightsOpt,
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
    offline: Optional[bool] = OfflineOpt,
    model_dir: Optional[Path] = ModelDirOpt,
):
    """Export a model to a cached artifact that serve and classify reuse.

    Every precision but fp32 is checked against fp32 on real images."""
    from .export import Target
    from .export import export as do_export
    from .models.resolve import resolve

    settings = settings_from(offline=offline, device=device, model_dir=model_dir,
                             weights=weights, model=model)  # fmt: skip
    target = Target.from_settings(settings, to_backend, "int8" if int8 else to_precision)
    package = resolve(settings).package  # packaged into the store on first use
    result = do_export(
        package, target, calibration_dir=calibration,
        min_agreement=min_agreement, force=force, rebuild=rebuild,
    )  # fmt: skip
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


# `localvision train` lives in cli_train.py, which builds its options with _option above.
from .cli_train import train  # noqa: E402

app.command()(train)


if __name__ == "__main__":
    app()
