"""Calibration images for INT8 export: seeded random crops of real photos, saved as JPEGs.

    make_calibration_dir(Path("/tmp/calib"), n=300, seed=0)

Sources are the photos that ship with installed packages (``skimage.data`` and
matplotlib's ``grace_hopper.jpg``); each image is a random crop (30-100 % of each
side), flipped half the time, resized so its shorter side is 256-512 px and saved
at JPEG quality 80-95. The same seed gives the same files.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PIL import Image

SKIMAGE_PHOTOS = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "camera",
    "coins",
    "moon",
    "gravel",
    "brick",
    "clock",
    "horse",
)


def source_photos() -> list[Image.Image]:
    """The RGB source photos (grayscale and binary ones converted)."""
    import matplotlib
    from skimage import data

    photos = []
    for name in SKIMAGE_PHOTOS:
        arr = np.asarray(getattr(data, name)())
        if arr.dtype == bool:  # horse is a silhouette mask
            arr = arr.astype(np.uint8) * 255
        photos.append(Image.fromarray(arr).convert("RGB"))
    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    photos.append(Image.open(hopper).convert("RGB"))
    return photos


def random_view(img: Image.Image, rng: random.Random) -> Image.Image:
    """One seeded augmentation: crop, maybe flip, resize to a 256-512 px shorter side."""
    w, h = img.size
    cw, ch = int(w * rng.uniform(0.3, 1.0)), int(h * rng.uniform(0.3, 1.0))
    left, top = rng.randint(0, w - cw), rng.randint(0, h - ch)
    view = img.crop((left, top, left + cw, top + ch))
    if rng.random() < 0.5:
        view = view.transpose(Image.FLIP_LEFT_RIGHT)
    scale = rng.randint(256, 512) / min(view.size)
    return view.resize((max(1, round(cw * scale)), max(1, round(ch * scale))), Image.BILINEAR)


def make_calibration_dir(directory: Path, n: int = 300, seed: int = 0) -> list[Path]:
    """Write ``n`` calibration JPEGs into ``directory`` (round-robin over the photos)."""
    directory.mkdir(parents=True, exist_ok=True)
    rng, photos, paths = random.Random(seed), source_photos(), []
    for i in range(n):
        path = directory / f"calib_{i:04d}.jpg"
        random_view(photos[i % len(photos)], rng).save(path, "JPEG", quality=rng.randint(80, 95))
        paths.append(path)
    return paths
