"""One training run, from a request to a model package in the store:

    check the name ──► resolve the base (models/resolve.py: a registry model is packaged on first
    use) ──► the dataset (dataset.py) ──► fit (fit.py) ──► the final validation on the road ──►
    the package, its report/ inside it (report.py), written whole or not at all

Progress goes to `emit` as the events `localvision train --progress jsonl` prints (the Teach
page's server runs exactly that command): start, phase, epoch, done. The package's manifest says
what the model is trained from: `source` (kind "trained", the base's name and weights' SHA-256,
the mode, `project`: the Teach project when the data is one), `training` (the configuration,
the seed, the class counts, the skipped files, why it stopped, the best epoch) and `metrics`
(validation accuracy and loss, from the road).

A model of the same name is replaced only with `replace` (any model), or with `retrain` (the
Teach page's job) when it was trained from the same Teach project: an imported model or another
project's is never replaced by training a project (409 model_not_from_project).
"""

from __future__ import annotations

import dataclasses
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import ModelExists, ModelNameReserved, ModelNotFromProject, TrainingOptionInvalid
from ..models.network import build_network
from ..models.registry import model_names
from ..models.store import ModelStore, Package, valid_name, write_package
from ..prepare import Preparer
from ..results import Answer
from ..road import Item, Road, probabilities
from .fit import FitConfig, Fitter, TrainingBackend, nll_and_accuracy

TEACH_DIR = ".teach"  # <model_dir>/.teach/<project>: the Teach page's photos (examples.py)
PROJECT_FILE = "project.json"  # what makes a folder there a project (examples.py)
REPORT_DIR = "report"

Emit = Callable[[dict], None]


@dataclass(frozen=True)
class Request:
    name: str
    data: tuple[Path, ...] = ()
    base: str | None = None  # default: settings.model (auto)
    from_feedback: str | None = None  # a Teach project's name
    replace: bool = False  # replace any model of that name
    # replace a model of that name only if it was trained from the same Teach project (what
    # the Teach page's job asks: training a project again, never another's or an import)
    retrain: bool = False


@dataclass
class Outcome:
    package: Package
    metrics: dict
    stopped: str | None
    report: Path


def check_request(settings, request: Request) -> ModelStore:
    """The refusals that need no data and no model: said at once."""
    name = request.name
    valid_name(name)
    if name == "auto" or name in model_names():
        raise ModelNameReserved(
            f"{name} is a registry model's name; give the trained model another one.",
            hint="e.g. --name my-" + name,
        )
    store = ModelStore.of(settings)
    check_replace(settings, request, store)
    if not request.data and not request.from_feedback:
        raise TrainingOptionInvalid(
            "Nothing to train on: give DATA (a folder with one sub-folder per class, a ZIP of "
            "one, or a CSV of path,label) or --from-feedback PROJECT."
        )
    return store


def check_replace(settings, request: Request, store: ModelStore) -> None:
    """A model already of that name is replaced only when asked (`replace`), or, with
    `retrain`, when it was trained from the same Teach project. Checked at the start and again
    just before the package is written (a model may have been imported meanwhile)."""
    name = request.name
    if store.get(name) is None or request.replace:
        return
    if request.retrain:
        return check_retrain(store, name, teach_project(settings, request))
    raise ModelExists(
        f"There is already a model named {name} in the store ({store.path(name)}).",
        hint="add --replace to train it again, or choose another --name",
    )


def check_retrain(store: ModelStore, name: str, project: str | None) -> None:
    """Training `project` into the model `name` may replace only a model trained from that very
    project (training it again); an imported model, a registry model's package, another
    project's model or one trained from other data is refused (model_not_from_project)."""
    package = store.get(name)
    if package is None or (project is not None and trained_project(package) == project):
        return
    kind, other = package.source.get("kind"), trained_project(package)
    if kind != "trained":
        what = "an imported model" if kind == "import" else "a model that was not trained here"
    else:
        what = f"the model of the project {other!r}" if other else "trained from other data"
    raise ModelNotFromProject(
        f"There is already a model named {name} in the store, {what}; training "
        f"{project or 'this data'} would replace it.",
        hint=f"give the trained model another name, e.g. {project or name}-custom",
    )


def trained_project(package: Package) -> str | None:
    """The Teach project a package was trained from, if any: its manifest's source.project;
    for a model trained before the manifest said so, the Teach folder it was trained on."""
    source = package.source
    if source.get("kind") != "trained":
        return None
    if source.get("project"):
        return source["project"]
    data = (package.manifest.get("training") or {}).get("data") or []
    folders = [Path(d) for d in data if Path(d).parent.name == TEACH_DIR]
    return folders[0].name if len(folders) == 1 else None


def teach_project(settings, request: Request) -> str | None:
    """The Teach project the data is: --from-feedback P, or DATA that is the project's own
    folder (<model_dir>/.teach/P, as the Teach page's job passes it)."""
    if request.from_feedback:
        return request.from_feedback
    root = (Path(settings.model_dir).expanduser() / TEACH_DIR).resolve()
    for path in request.data:
        path = Path(path).expanduser().resolve()
        if path.parent == root and (path / PROJECT_FILE).is_file():
            return path.name
    return None


def sources(settings, request: Request) -> list[Path]:
    out = [Path(p) for p in request.data]
    if request.from_feedback:
        valid_name(request.from_feedback)
        out.append(Path(settings.model_dir).expanduser() / TEACH_DIR / request.from_feedback)
    return out


def train(settings, request: Request, emit: Emit) -> Outcome:
    """Train, write the package; KeyboardInterrupt before any epoch finished propagates (and
    nothing is written)."""
    started = time.perf_counter()
    store = check_request(settings, request)  # before torch is imported: said at once
    import torch

    from ..models.resolve import resolve
    from .dataset import load_dataset

    torch.set_num_threads(settings.train_threads)
    config = FitConfig.from_settings(settings)
    base_name = request.base or settings.model
    resolved = resolve(settings, base_name)
    base = resolved.package
    with tempfile.TemporaryDirectory(prefix="localvision-train-") as work:
        dataset = load_dataset(
            sources(settings, request), seed=settings.train_seed,
            val_fraction=settings.train_val_fraction, workdir=Path(work),
            max_pixels=settings.max_pixels,
        )  # fmt: skip
        classes = tuple(dataset.classes)
        emit({
            "event": "start", "name": request.name, "base": base.name, "mode": config.mode,
            "classes": list(classes), "train": len(dataset.train), "val": len(dataset.val),
            "skipped": len(dataset.skipped), "epochs": config.epochs,
        })  # fmt: skip
        spec = dataclasses.replace(
            resolved.spec, name=request.name, title=request.name, labels=classes,
            label_sets={"en": classes}, groups=None, metrics=None, weights=None, remap=None,
        )  # fmt: skip
        preparer = Preparer(
            spec.preprocess, max_pixels=settings.max_pixels, exact_decode=settings.exact_decode
        )
        road = Road(
            preparer, spec, chunk=settings.batch_size, recheck_margin=settings.recheck_margin
        )

        def evaluate(model, samples: Sequence) -> np.ndarray:
            return validate_on_road(road, model, samples, len(classes), settings)

        model = build_network(spec, base.weights_file, len(classes), config.seed)
        fitted = Fitter(
            model=model, spec=spec, train=dataset.train, val=dataset.val,
            num_classes=len(classes), config=config, preparer=preparer, evaluate=evaluate,
            max_pixels=settings.max_pixels, on_event=emit,
        ).run()  # fmt: skip
        # From here on the model is trained: a Ctrl+C no longer throws it away (the rest takes
        # seconds); SIGTERM still stops everything and writes nothing.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if _main_thread() else None
        try:
            return _finish(
                settings, request, store, base, spec, dataset, config, fitted, model, evaluate,
                emit, started,
            )  # fmt: skip
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)


def _finish(settings, request, store, base, spec, dataset, config, fitted, model, evaluate,
            emit, started) -> Outcome:  # fmt: skip
    from .report import write_report

    classes = tuple(dataset.classes)
    emit({"event": "phase", "phase": "report", "done": 0, "total": 1})
    model.load_state_dict(fitted.state)
    probs = evaluate(model, dataset.val)
    y_true = [s.label for s in dataset.val]
    y_pred = [int(np.argmax(p)) if np.isfinite(p).all() else -1 for p in probs]
    val_loss, val_acc = nll_and_accuracy(probs, y_true)
    metrics = {"val_acc": round(val_acc, 6), "val_loss": round(val_loss, 6)}
    skipped = [*dataset.skipped, *fitted.skipped]
    training = {
        **config.to_dict(),
        "data": [str(p) for p in sources(settings, request)],
        "split": dataset.split,
        "classes": dataset.counts(),
        "skipped": len(skipped),
        "stopped": fitted.stopped,
        "best_epoch": fitted.best_epoch,
        "epochs_run": len(fitted.epochs),
        "threads": settings.train_threads,
        "seconds": round(time.perf_counter() - started, 1),
    }
    summary = {"name": request.name, "base": base.name, "mode": config.mode,
               "metrics": metrics, "training": training}  # fmt: skip
    dest = store.path(request.name)

    def fill(folder: Path) -> None:
        write_report(
            folder / REPORT_DIR, classes=classes, epochs=fitted.epochs, y_true=y_true,
            y_pred=y_pred, val_paths=[s.path for s in dataset.val], skipped=skipped,
            summary=summary,
        )  # fmt: skip

    emit({"event": "phase", "phase": "package", "done": 0, "total": 1})
    check_replace(settings, request, store)
    package = write_package(
        dest, name=request.name, architecture=spec.architecture, weights=None,
        labels={"en": classes}, preprocess=spec.preprocess,
        source=_source(settings, request, base, config.mode),
        title=f"{request.name} ({len(classes)} classes, {config.mode} on {base.name})",
        groups=None, metrics=metrics, replace=request.replace or request.retrain,
        state=fitted.state,
        extra={"training": training}, fill=fill,
    )  # fmt: skip
    report = package.path / REPORT_DIR
    emit({"event": "done", "name": request.name, "metrics": metrics, "report": str(report),
          "stopped": fitted.stopped})  # fmt: skip
    return Outcome(package, metrics, fitted.stopped, report)


def _source(settings, request: Request, base: Package, mode: str) -> dict:
    """What the model is trained from; `project` only when the data is a Teach project."""
    source = {"kind": "trained", "base": base.name, "base_sha256": base.weights_sha256,
              "mode": mode}  # fmt: skip
    project = teach_project(settings, request)
    return {**source, "project": project} if project else source


def validate_on_road(road: Road, model, samples: Sequence, num_classes: int, settings):
    """(N, C) probabilities of the validation images, walked down the road with the model being
    trained as the inference step (an image that fails there: a row of NaN)."""
    backend = TrainingBackend(model)

    def infer(arrays: list) -> np.ndarray:
        return probabilities(backend, road.preparer.stack(arrays), num_classes, settings.batch_size)

    answer = Answer(top_k=1, lang="en", min_confidence=0.0, groups=False, probabilities=True)
    items = [Item(str(s.path), str(s.path)) for s in samples]
    results = road.run(items, answer, infer, workers=settings.train_threads)
    nan = np.full(num_classes, np.nan, np.float32)
    return np.stack([r.probabilities if r.ok else nan for r in results]) if results else (
        np.zeros((0, num_classes), np.float32)
    )


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
