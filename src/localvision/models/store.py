"""The model store: one package per model in a folder (`model_dir`), each describing itself.

    <model_dir>/<name>/
        manifest.json        what the model is: architecture, labels per language,
                             preprocessing, where the weights came from (with their SHA-256),
                             metrics where known
        weights.safetensors  the state dict (tensors only: nothing can run when it is read)
        artifacts/           exported backends, <backend>-<precision>/ (artifacts.py)

Registry models are packaged on first use from their published weights (weights.py finds,
downloads and verifies them); `localvision models import` packages any state dict for one of the
architectures (models/architectures.py), and so will training. A model run with `--weights
FILE` gets a package of its own under `<model_dir>/.weights/`, keyed by the file's SHA-256, so
its exports are made once too.

Reading a package needs no torch. Writing one does (`write_package`: the state dict is read with
`torch.load(weights_only=True)`, fitted to the architecture, saved as safetensors), and a package
is written whole or not at all: into a temporary folder, then swapped into place by renames
(files.replace_dir). A crash in the middle of a swap leaves the old package under
`.<name>.replaced`: it is still found there (`get`), and put back at the next start (`recover`).
Every name the store is given is checked first (names.check_model_name), so no name can reach
outside the store's folder.

A second, read-only store (`builtin_model_dir`: the container image's baked models) is looked
in after `model_dir`, which stays the one that is written to. A package there may come without
its weights file when it has exported artifacts: the image serves those, without torch.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping

from ..errors import InvalidArgument, ModelError, ModelExists, UnknownModel
from ..files import REPLACED, recover_replaced, replace_dir
from ..names import check_model_name
from ..transforms import Preprocess
from .architectures import get_architecture
from .registry import get_spec, model_names
from .spec import ModelSpec

FORMAT_VERSION = 1
WEIGHTS_FILE = "weights.safetensors"
MANIFEST = "manifest.json"
WEIGHTS_DIR = ".weights"  # packages made for `--weights FILE`


@dataclass(frozen=True)
class Package:
    path: Path
    manifest: dict

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def weights_file(self) -> Path:
        return self.path / self.manifest["weights"]["file"]

    @property
    def weights_sha256(self) -> str:
        return self.manifest["weights"]["sha256"]

    @property
    def source(self) -> dict:
        return self.manifest.get("source") or {}

    @property
    def artifacts(self) -> Path:
        return self.path / "artifacts"

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())

    def spec(self, labels: Mapping[str, tuple[str, ...]] | None = None) -> ModelSpec:
        """The model as the road and the engine use it (`labels`: instead of the package's)."""
        m = self.manifest
        arch = get_architecture(m["architecture"])
        sets = {k: tuple(v) for k, v in (labels or m["labels"]).items()}
        pp = m["preprocess"]
        return ModelSpec(
            name=m["name"],
            title=m.get("title") or m["name"],
            architecture=arch.name,
            build=arch.build,
            preprocess=Preprocess(
                pp["resize"], pp["crop"], pp["interpolation"], tuple(pp["mean"]), tuple(pp["std"])
            ),
            labels=sets["en"],
            label_sets=sets,
            groups=m.get("groups"),
            metrics=m.get("metrics"),
        )


valid_name = check_model_name  # the store's rule for names is the one in names.py


class ModelStore:
    def __init__(self, root: Path, builtin: Path | None = None):
        self.root = Path(root).expanduser()
        self.builtin = Path(builtin).expanduser() if builtin else None

    @classmethod
    def of(cls, settings) -> "ModelStore":
        return cls(settings.model_dir, settings.builtin_model_dir)

    def path(self, name: str) -> Path:
        """Where the package of that name is (or would be); InvalidModelName for a name that is
        not one (`..`, `a/b`, upper case), so nothing outside the store is ever read."""
        return self.root / check_model_name(name)

    def get(self, name: str) -> Package | None:
        """The package of that name, if it is here (the writable store first) and readable. A
        package whose replacement was cut short is found where the swap left it."""
        package = read_package(self.path(name)) or read_package(self._replaced(name))
        if package is None and self.builtin is not None:
            package = read_package(self.builtin / name)
        return package

    def _replaced(self, name: str) -> Path:
        return self.root / REPLACED.format(name=name)

    def recover(self) -> list[str]:
        """Put back every package whose replacement a crash cut short (at start); the names."""
        return recover_replaced(self.root)

    def packages(self) -> list[Package]:
        found: dict[str, Package] = {}
        for root in (self.root, self.builtin):  # the writable store wins a name in both
            if root is None or not root.is_dir():
                continue
            for p in sorted(root.iterdir()):
                name = _listed_name(p)
                package = read_package(p) if name and p.is_dir() else None
                if package is not None and not (name != p.name and (root / name).exists()):
                    found.setdefault(name, package)
        return list(found.values())

    def names(self) -> list[str]:
        """Registry models first, then the store's own."""
        names = list(model_names())
        return names + [p.name for p in self.packages() if p.name not in names]

    def spec_of(self, name: str) -> ModelSpec:
        """The spec of a registry or store model, without packaging anything."""
        package = self.get(name)
        if package is not None:
            return package.spec()
        try:
            return get_spec(name)
        except UnknownModel:
            known = ", ".join(["auto", *self.names()])
            raise UnknownModel(f"Unknown model {name!r}. Known models: {known}.") from None

    def remove(self, name: str) -> Package:
        package = read_package(self.path(name))
        if package is None:
            if self.get(name) is not None:
                raise InvalidArgument(
                    f"{name} is built in ({self.builtin}), which is read-only; it cannot be "
                    "removed."
                )
            raise UnknownModel(f"There is no model {name!r} in the store ({self.root}).")
        # renamed away first, so a removal cut short never leaves half a package to be read
        doomed = self.root / f".{name}.removed-{secrets.token_hex(4)}"
        package.path.rename(doomed)
        shutil.rmtree(doomed, ignore_errors=True)
        return package

    def for_weights_file(self, spec: ModelSpec, sha256: str) -> Path:
        """Where the package for `--weights FILE` of a registry model lives."""
        return self.root / WEIGHTS_DIR / f"{spec.name}-{sha256[:16]}"


def _listed_name(path: Path) -> str | None:
    """The model a folder of the store holds: its own name, or for `.<name>.replaced` (a swap
    cut short) that name; None for the store's other hidden folders."""
    if not path.name.startswith("."):
        return path.name
    if path.name.endswith(".replaced"):
        return path.name[1 : -len(".replaced")] or None
    return None


def read_package(path: Path) -> Package | None:
    try:
        manifest = json.loads((path / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("format_version") != FORMAT_VERSION:
        return None
    package = Package(path, manifest)
    # without its weights, a package can still serve the artifacts exported from them
    served = package.weights_file.is_file() or any(package.artifacts.glob("*/manifest.json"))
    return package if served else None


def write_package(
    dest: Path,
    *,
    name: str,
    architecture: str,
    weights: Path | None,
    labels: Mapping[str, tuple[str, ...]],
    preprocess: Preprocess,
    source: dict,
    title: str | None = None,
    groups: str | None = None,
    metrics: Mapping[str, float] | None = None,
    replace: bool = False,
    state: Mapping | None = None,
    extra: Mapping | None = None,
    fill: Callable[[Path], None] | None = None,
) -> Package:
    """Package a state dict (any file torch.load reads with weights_only, or safetensors; or
    `state`, one in memory, e.g. a model just trained): fitted to the architecture with as many
    classes as there are labels, saved as safetensors, with its manifest. `extra`: more manifest
    fields (a trained model's `training`); `fill(folder)` writes more files into the package
    (its report) before it is renamed into place, so they appear with it or not at all. Needs
    torch."""
    from safetensors.torch import save_file

    from ..weights import sha256_file
    from .network import fit_state_dict

    if dest.exists() and not replace:
        raise ModelExists(f"There is already a model at {dest}.", hint="localvision models remove NAME")
    arch = get_architecture(architecture)
    num_classes = len(labels["en"])
    if state is None:
        state = fit_state_dict(arch, num_classes, Path(weights), name)
    else:
        from .network import check_fit

        check_fit(name, Path(name), state, arch.build(num_classes).state_dict())
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}-"))
    try:
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp / WEIGHTS_FILE))
        manifest = {
            "format_version": FORMAT_VERSION,
            "name": name,
            "title": title or name,
            "architecture": arch.name,
            "num_classes": num_classes,
            "labels": {lang: list(v) for lang, v in labels.items()},
            "preprocess": preprocess.to_dict(),
            "weights": {"file": WEIGHTS_FILE, "sha256": sha256_file(tmp / WEIGHTS_FILE)},
            "source": {**source, "sha256": source.get("sha256")
                       or (sha256_file(Path(weights)) if weights is not None else None)},
            "groups": groups,
            "metrics": dict(metrics) if metrics else None,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **(extra or {}),
        }
        if fill is not None:
            fill(tmp)
        (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
        replace_dir(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    package = read_package(dest)
    if package is None:  # pragma: no cover - just written
        raise ModelError(f"The package at {dest} could not be read back.")
    return package


def package_registry_model(spec: ModelSpec, weights: Path, origin: str, dest: Path) -> Package:
    """A registry model's package, from its published (or `--weights`) state dict."""
    source = {"kind": "registry" if origin != "file" else "weights_file", "file": str(weights),
              "origin": origin}  # fmt: skip
    if spec.weights is not None and spec.weights.url and origin != "file":
        source["url"] = spec.weights.url
    return write_package(
        dest, name=spec.name, architecture=spec.architecture, weights=weights,
        labels=dict(spec.label_sets) or {"en": spec.labels}, preprocess=spec.preprocess,
        source=source, title=spec.title, groups=spec.groups, metrics=spec.metrics,
        replace=True,
    )  # fmt: skip
