"""From a model name to its package: the one way a model is found before the engine loads it.

    name ──► the store's package (ready) ──► or a registry model's published weights
             (weights.py: --weights FILE, the torch hub cache, a Python package, a download),
             packaged into the store on first use, in a child process (it needs torch)

`auto` is resnet18 when it is packaged or its weights are here or can be downloaded, else the
bundled efficientnet_lite0, with a notice saying why; a model named never falls back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .. import weights as weights_mod
from ..child import run_child
from ..errors import (
    ModelError,
    UnknownModel,
    WeightsDownloadFailed,
    WeightsMissing,
)
from .labels import read_label_file
from .registry import get_spec
from .spec import ModelSpec
from .store import ModelStore, Package, read_package


@dataclass(frozen=True)
class Resolved:
    package: Package
    spec: ModelSpec  # the package's, with a --labels file applied
    notice: str | None = None  # e.g. why `auto` fell back to another model
    # the notice's stable code (NOTICES), so a page can say it in its own language
    notice_code: str | None = None

    @property
    def origin(self) -> str:
        """Where the weights came from: the store, or how a registry model's were found."""
        return self.package.source.get("origin") or self.package.source.get("kind") or "store"


def resolve(settings, name: str | None = None, labels: Path | None = None) -> Resolved:
    """The package for `name` (default: settings.model), packaging a registry model on first
    use; `labels` replaces its labels for this run (default: settings.labels). --weights and
    --labels belong to the first model named; a service's other models keep their own."""
    store = ModelStore.of(settings)
    name = name or settings.model
    first = name == settings.model_names[0]
    weights = settings.weights if first else None
    code = None
    if name == "auto":
        name, code = _auto(store, settings, weights)
    package = _package(store, name, settings, weights)
    label_file = labels if labels is not None else (settings.labels if first else None)
    sets = read_label_file(label_file, package.manifest["num_classes"]) if label_file else None
    return Resolved(package, package.spec(sets), NOTICES.get(code), code)


# Why `auto` answered with another model than ResNet-18, by code (the page has each in Chinese).
NOTICES = {
    code: f"ResNet-18's weights are unavailable ({why}), so the bundled efficientnet_lite0 "
    "answers. Get them with: localvision weights fetch resnet18"
    for code, why in (("auto_offline", "offline, not in the cache"),
                      ("auto_download_failed", "the download failed"))
}  # fmt: skip


def _auto(store: ModelStore, settings, weights) -> tuple[str, str | None]:
    """The model `auto` is, and the code of the notice saying why it is not ResNet-18."""
    if weights is not None or store.get("resnet18") is not None:
        return "resnet18", None
    try:
        weights_mod.resolve(get_spec("resnet18"), None, settings.offline)  # may download
        return "resnet18", None
    except (WeightsMissing, WeightsDownloadFailed):
        return "efficientnet_lite0", "auto_offline" if settings.offline else "auto_download_failed"


def _package(store: ModelStore, name: str, settings, weights) -> Package:
    if weights is not None:  # a registry model with a state dict of the user's
        spec = _registry(store, name, "--weights names a state dict for a registry model")
        located = weights_mod.resolve(spec, weights, settings.offline)
        dest = store.for_weights_file(spec, weights_mod.sha256_file(located.path))
        return read_package(dest) or _package_in_child(spec, located, dest, settings)
    package = store.get(name)
    if package is not None:
        return package
    spec = _registry(store, name, "")
    located = weights_mod.resolve(spec, None, settings.offline)
    return _package_in_child(spec, located, store.path(name), settings)


def _registry(store: ModelStore, name: str, why: str) -> ModelSpec:
    try:
        return get_spec(name)
    except UnknownModel:
        if store.get(name) is not None and why:
            raise UnknownModel(f"{name} is a store model; {why}.") from None
        known = ", ".join(["auto", *store.names()])
        raise UnknownModel(f"Unknown model {name!r}. Known models: {known}.") from None


def _package_in_child(spec: ModelSpec, located, dest: Path, settings) -> Package:
    """Package a registry model's weights in a child process: reading a .pth needs torch, and
    torch's memory then goes away with the child, so a serving process never holds it."""
    job = {"model": spec.name, "weights": str(located.path), "origin": located.origin,
           "dest": str(dest)}  # fmt: skip
    run_child("localvision.models.package_child", [json.dumps(job)], f"Packaging {spec.name}",
              settings.export_timeout_s)  # fmt: skip
    package = read_package(dest)
    if package is None:
        raise ModelError(f"Packaging {spec.name} left no usable package at {dest}.")
    return package
