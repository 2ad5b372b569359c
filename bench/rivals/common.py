"""What the LitServe and Ray Serve apps share: the classic recipe's model and preprocessing.

Eager torchvision ResNet-18 from the seeded state dict, ``torch.no_grad``, PIL decode and the
torchvision transforms of ``bench/classic_app.py`` (Resize 256, CenterCrop 224, ToTensor,
Normalize), a batch forward, and TorchServe's answer shape: ``{label: probability}`` for the top
5, so every raw-body rival answers the same JSON. Nothing here is optimised, on purpose.
"""

from __future__ import annotations

import io

import torch
import torchvision.transforms as transforms
from PIL import Image
from torchvision import models

TOP_K = 5
LABELS = models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
TRANSFORM = transforms.Compose([
    transforms.Resize(256),
    transforms.CenterCrop(224),
    transforms.ToTensor(),
    transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
])  # fmt: skip


def load_model(weights: str) -> torch.nn.Module:
    model = models.resnet18()
    model.load_state_dict(torch.load(weights, map_location="cpu"))
    return model.eval()


def preprocess(image_bytes: bytes) -> torch.Tensor:
    """One image's CHW tensor, as the classic recipe makes it."""
    return TRANSFORM(Image.open(io.BytesIO(image_bytes)).convert("RGB"))


def predict(model: torch.nn.Module, batch: torch.Tensor) -> list[dict[str, float]]:
    """Top-5 ``{label: probability}`` per row of an NCHW batch."""
    with torch.no_grad():
        probs = torch.nn.functional.softmax(model(batch), dim=1)
    top_p, top_i = torch.topk(probs, TOP_K, dim=1)
    return [
        {LABELS[i]: p for p, i in zip(ps, idx)} for ps, idx in zip(top_p.tolist(), top_i.tolist())
    ]

