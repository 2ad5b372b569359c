"""Preprocessing: an RGB image to the float32 CHW array a model expects.

Bit-for-bit the same arithmetic as torchvision's `ImageClassification` preset (and timm's eval
transform): shorter side resized with Pillow's antialiased filter, center crop, scale to 0..1,
normalize. Pure numpy + Pillow, so the serving path needs no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

_RESAMPLE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}

# Images thinner than this ratio are cut to it (around their center) before resizing: the
# center crop only ever sees the middle, and a 10000×1 strip would otherwise resize to 2.5 GP.
MAX_ASPECT = 16


@dataclass(frozen=True)
class Preprocess:
    """How a model's weights expect their input (torchvision's transforms / timm's cfg)."""

    resize: int  # shorter side after resizing
    crop: int  # square center crop
    interpolation: str  # "bilinear" or "bicubic"
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def to_dict(self) -> dict:
        return {
            "resize": self.resize,
            "crop": self.crop,
            "interpolation": self.interpolation,
            "mean": list(self.mean),
            "std": list(self.std),
        }


def resize_crop(img: Image.Image, pp: Preprocess) -> Image.Image:
    """Shorter side to pp.resize (torchvision's size arithmetic), then the center crop."""
    img = _limit_aspect(img)
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = pp.resize, int(pp.resize * long / short)
    size = (new_short, new_long) if w <= h else (new_long, new_short)
    if size != (w, h):
        img = img.resize(size, _RESAMPLE[pp.interpolation])
    w, h = img.size
    top = int(round((h - pp.crop) / 2.0))
    left = int(round((w - pp.crop) / 2.0))
    return img.crop((left, top, left + pp.crop, top + pp.crop))


def _limit_aspect(img: Image.Image) -> Image.Image:
    w, h = img.size
    if w > h * MAX_ASPECT:
        keep = h * MAX_ASPECT
        left = (w - keep) // 2
        return img.crop((left, 0, left + keep, h))
    if h > w * MAX_ASPECT:
        keep = w * MAX_ASPECT
        top = (h - keep) // 2
        return img.crop((0, top, w, top + keep))
    return img


def to_array(img: Image.Image, pp: Preprocess) -> np.ndarray:
    """An RGB image of any size to a normalized float32 (3, crop, crop) array."""
    x = np.asarray(resize_crop(img, pp), dtype=np.float32) / np.float32(255.0)
    x = (x - np.asarray(pp.mean, np.float32)) / np.asarray(pp.std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))
