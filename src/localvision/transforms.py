"""Preprocessing: an RGB image to the float32 CHW array a model expects.

The arithmetic of torchvision's `ImageClassification` preset (and timm's eval transform):
shorter side resized with Pillow's antialiased filter, center crop, scale to 0..1, normalize.
Pure numpy + Pillow, so the serving path needs no torch.

Two ways to get there:
- exact: resize the whole picture, then crop; bit for bit what torchvision computes.
- fast (the default for serving): resize only the crop's window of the source. Pillow computes
  each output pixel from the same source pixels with the same filter weights, up to float
  rounding of the window's corners (a pixel now and then differs by one level), at half the cost.
  It also honours the box of a reduced-scale JPEG decode (imaging.Decoded).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from PIL import Image

_RESAMPLE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}

# A reduced-scale JPEG decode keeps at least this multiple of the resize target on its shorter
# side, so the antialiased resize still has real pixels to average over. 1.5: a 4 MP photo
# (1640 px) decodes at 1/4 scale for a 256 px target, twice as fast as at 1/2, and top-1 agrees
# as often as with 2.0 (bench/decode_bench.py).
DRAFT_FACTOR = 1.5

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

    @property
    def draft_side(self) -> int:
        """The least shorter side a reduced-scale (draft) JPEG decode may have."""
        return int(DRAFT_FACTOR * self.resize)

    def to_dict(self) -> dict:
        return {
            "resize": self.resize,
            "crop": self.crop,
            "interpolation": self.interpolation,
            "mean": list(self.mean),
            "std": list(self.std),
        }


def resize_crop(
    img: Image.Image, pp: Preprocess, *, box: tuple[float, ...] | None = None, exact: bool = True
) -> Image.Image:
    """Shorter side to pp.resize (torchvision's size arithmetic), then the center crop.

    box: the area of img the picture covers (a draft decode's); exact: see the module docstring.
    """
    if exact and box is None:
        return _resize_then_crop(img, pp)
    x0, y0, x1, y1 = box or (0.0, 0.0, float(img.width), float(img.height))
    w, h = x1 - x0, y1 - y0
    if w > h * MAX_ASPECT:
        x0, w = x0 + (w - h * MAX_ASPECT) / 2, h * MAX_ASPECT
    elif h > w * MAX_ASPECT:
        y0, h = y0 + (h - w * MAX_ASPECT) / 2, w * MAX_ASPECT
    nw, nh = resized_size(w, h, pp.resize)
    left, top = crop_origin(nw, nh, pp.crop)
    sx, sy = w / nw, h / nh
    window = (x0 + left * sx, y0 + top * sy, x0 + (left + pp.crop) * sx, y0 + (top + pp.crop) * sy)
    if sx == sy == 1 and all(float(v).is_integer() for v in window):
        return img.crop(tuple(int(v) for v in window))  # already the right size: a plain crop
    return img.resize((pp.crop, pp.crop), _RESAMPLE[pp.interpolation], box=window)


def resized_size(w: float, h: float, resize: int) -> tuple[int, int]:
    """torchvision's output (width, height): the shorter side becomes `resize`, the longer keeps
    the ratio."""
    if w <= h:
        return resize, int(resize * h / w)
    return int(resize * w / h), resize


def crop_origin(w: int, h: int, crop: int) -> tuple[int, int]:
    """(left, top) of torchvision's center crop of a w×h image."""
    return int(round((w - crop) / 2.0)), int(round((h - crop) / 2.0))


def _resize_then_crop(img: Image.Image, pp: Preprocess) -> Image.Image:
    img = _limit_aspect(img)
    w, h = img.size
    size = resized_size(w, h, pp.resize)
    if size != (w, h):
        img = img.resize(size, _RESAMPLE[pp.interpolation])
    left, top = crop_origin(*img.size, pp.crop)
    return img.crop((left, top, left + pp.crop, top + pp.crop))


def aspect_window(w: int, h: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the centered part of a w×h image no thinner than
    MAX_ASPECT (the whole image when it is not thinner), in whole pixels."""
    if w > h * MAX_ASPECT:
        keep = h * MAX_ASPECT
        left = (w - keep) // 2
        return left, 0, left + keep, h
    if h > w * MAX_ASPECT:
        keep = w * MAX_ASPECT
        top = (h - keep) // 2
        return 0, top, w, top + keep
    return 0, 0, w, h


def _limit_aspect(img: Image.Image) -> Image.Image:
    window = aspect_window(*img.size)
    return img if window == (0, 0, *img.size) else img.crop(window)


@functools.cache
def _levels(mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """(3, 256): the normalized value of every 8-bit level per channel, computed with the same
    float32 operations as `(x / 255 - mean) / std`, so a lookup gives identical numbers."""
    v = np.arange(256, dtype=np.float32) / np.float32(255.0)
    m, s = np.asarray(mean, np.float32)[:, None], np.asarray(std, np.float32)[:, None]
    return (v[None, :] - m) / s


def to_array(
    img: Image.Image, pp: Preprocess, *, box: tuple[float, ...] | None = None, exact: bool = True
) -> np.ndarray:
    """An RGB image of any size to a normalized float32 (3, crop, crop) array."""
    pixels = np.asarray(resize_crop(img, pp, box=box, exact=exact))
    levels = _levels(tuple(pp.mean), tuple(pp.std))
    out = np.empty((3, *pixels.shape[:2]), np.float32)
    for c in range(3):
        np.take(levels[c], pixels[..., c], out=out[c])
    return out
