"""What `localvision models` lists: every registry and store model with its state (ready: in
the store; present / downloadable / missing: a registry model's weights, which are packaged
into the store on first use), its size on disk, the precisions exported for it, and where it is
or how to get it."""

from __future__ import annotations

from dataclasses import dataclass

from .. import weights as weights_mod
from .registry import get_spec, model_names
from .store import ModelStore, Package


@dataclass(frozen=True)
class Entry:
    name: str
    state: str  # ready | present | downloadable | missing
    size: str
    precisions: tuple[str, ...]
    classes: int
    detail: str
    title: str


def _size(n: int) -> str:
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB"


def _exports(package: Package) -> tuple[str, ...]:
    found = package.artifacts.glob("*/manifest.json") if package.artifacts.is_dir() else ()
    return tuple(sorted(p.parent.name.replace("-", " ") for p in found))


def catalog(settings) -> list[Entry]:
    store = ModelStore.of(settings)
    out = []
    for name in model_names():
        spec = get_spec(name)
        package = store.get(name)
        if package is not None:
            out.append(_ready(package))
            continue
        st = weights_mod.status(spec, offline=settings.offline)
        out.append(Entry(name, st.state, "–", (), spec.num_classes, st.detail, spec.title))
    for package in store.packages():
        if package.name not in model_names():
            out.append(_ready(package))
    return out


def _ready(package: Package) -> Entry:
    m = package.manifest
    return Entry(
        package.name, "ready", _size(package.size_bytes()), _exports(package),
        m["num_classes"], str(package.path), m.get("title") or package.name,
    )  # fmt: skip
