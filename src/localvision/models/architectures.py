"""The network architectures localvision can build, by name: each one's builder (num_classes ->
torch module, torch imported only when called) and, where a published state dict names its
tensors differently, how to map it onto the builder's names.

A model package (models/store.py) names its architecture; `localvision models import NAME --arch
ARCH` takes any name listed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..errors import UnknownModel, WeightsInvalid


@dataclass(frozen=True)
class Architecture:
    name: str
    build: Callable[[int], Any]  # num_classes -> torch.nn.Module
    # Maps a published state dict's keys onto build()'s keys (None: the same names).
    remap: Callable[[dict, dict], dict] | None = None
    # What `localvision train --mode finetune` trains besides the new last layer: the module
    # names of the last stage(s), those that work at the smallest resolution (cheap to train,
    # and the most specific to ImageNet's classes).
    finetune: tuple[str, ...] = ()


def _torchvision(name: str) -> Callable[[int], Any]:
    def build(num_classes: int):
        import torchvision.models

        return getattr(torchvision.models, name)(weights=None, num_classes=num_classes)

    return build


def _timm(name: str) -> Callable[[int], Any]:
    def build(num_classes: int):
        import timm

        return timm.create_model(name, pretrained=False, num_classes=num_classes)

    return build


def remap_in_order(published: dict, own: dict) -> dict:
    """The efficientnet-lite0 package's keys (`_blocks.0._bn1.weight`, EfficientNet-PyTorch
    naming) and timm's (`blocks.0.0.bn1.weight`) differ in name but list the same tensors in the
    same order; map them by position, checking every shape, so a wrong file fails loudly
    instead of loading garbage. A state dict that already has timm's names passes unchanged."""
    if set(published) == set(own):
        return published
    if len(published) != len(own):
        raise WeightsInvalid(f"has {len(published)} tensors; efficientnet_lite0 needs {len(own)}")
    out = {}
    for (src_key, tensor), (dst_key, ref) in zip(published.items(), own.items()):
        if tuple(tensor.shape) != tuple(ref.shape):
            raise WeightsInvalid(
                f"tensor {src_key!r} has shape {tuple(tensor.shape)}; "
                f"{dst_key!r} needs {tuple(ref.shape)}"
            )
        out[dst_key] = tensor
    return out


ARCHITECTURES = {
    a.name: a
    for a in (
        Architecture("resnet18", _torchvision("resnet18"), finetune=("layer4",)),
        Architecture("resnet50", _torchvision("resnet50"), finetune=("layer4",)),
        Architecture(
            "mobilenet_v3_large", _torchvision("mobilenet_v3_large"),
            finetune=("features.13", "features.14", "features.15", "features.16", "classifier"),
        ),  # fmt: skip
        Architecture(
            "efficientnet_lite0", _timm("tf_efficientnet_lite0"), remap_in_order,
            finetune=("blocks.5", "blocks.6", "conv_head", "bn2"),
        ),  # fmt: skip
    )
}


def get_architecture(name: str) -> Architecture:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        known = ", ".join(ARCHITECTURES)
        raise UnknownModel(f"Unknown architecture {name!r}. Known: {known}.") from None
