"""`localvision models import`: a state dict of the user's becomes a model in the store.

The architecture's reference preprocessing comes from the registry entry of the same
architecture; without a label file the model has ImageNet's 1000 classes (English and Chinese
labels, and the groups), as a fine-tuned copy of a registry model does.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import LabelsInvalid, ModelNameReserved
from .architectures import get_architecture
from .labels import imagenet_labels, read_label_file
from .registry import get_spec, model_names
from .store import ModelStore, Package, valid_name, write_package


def import_model(
    settings, name: str, arch: str, weights: Path, labels: Path | None, title: str | None,
    replace: bool,
) -> Package:  # fmt: skip
    valid_name(name)
    if name in model_names() or name == "auto":
        raise ModelNameReserved(
            f"{name} is a registry model's name; give the imported model another one."
        )
    architecture = get_architecture(arch)
    reference = get_spec(architecture.name)  # every architecture has its registry entry
    classes = classes_in(Path(weights))
    if labels is not None:
        sets = read_label_file(labels)
        if classes is not None and len(sets["en"]) != classes:
            raise LabelsInvalid(
                f"{labels} has {len(sets['en'])} labels; the weights in {weights} have "
                f"{classes} classes."
            )
        groups = None
    else:
        sets = imagenet_labels()
        groups = "imagenet"
        if classes is not None and classes != len(sets["en"]):
            raise LabelsInvalid(
                f"The weights in {weights} have {classes} classes, not ImageNet's 1000: give "
                "their labels with --labels FILE."
            )
    store = ModelStore.of(settings)
    return write_package(
        store.path(name), name=name, architecture=architecture.name, weights=Path(weights),
        labels=sets, preprocess=reference.preprocess,
        source={"kind": "import", "file": str(weights)}, title=title or f"{name} ({arch})",
        groups=groups, replace=replace,
    )  # fmt: skip


def classes_in(path: Path) -> int | None:
    """How many classes a state dict's classifier has: the rows of its last 2-D tensor (fc,
    classifier), the layout of every architecture here. None when it cannot tell."""
    from .network import read_state_dict

    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = read_state_dict(path)
    matrices = [v for v in state.values() if hasattr(v, "shape") and len(v.shape) == 2]
    return int(matrices[-1].shape[0]) if matrices else None
