"""A small labelled dataset for the training tests, made at test time from real photos.

Each class is a kind of picture with several real photos behind it (skimage.data and matplotlib's
Grace Hopper); each photo gives a few random crops (40-100% of its area, any aspect ratio from
3:4 to 4:3, sometimes mirrored), saved as JPEG files in an ImageFolder layout:

    root/people/astronaut-0.jpg  root/texture/brick-3.jpg  ...

Nothing is downloaded and nothing binary lives in the repository. The same seed gives the same
files, byte for byte.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
from PIL import Image

# class -> the real photos behind it (names in skimage.data, or "grace_hopper")
CLASSES: dict[str, tuple[str, ...]] = {
    "people": ("astronaut", "grace_hopper", "camera"),
    "texture": ("brick", "grass", "gravel"),
    "microscopy": ("immunohistochemistry", "cell", "retina"),
    "machine": ("motorcycle", "rocket", "clock"),
}


def _photo(name: str) -> Image.Image:
    if name == "grace_hopper":
        import matplotlib

        path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
        with Image.open(path) as im:
            return im.convert("RGB")
    import skimage.data

    if name == "motorcycle":
        pixels = skimage.data.stereo_motorcycle()[0]  # (left, right, disparity): the left view
    else:
        pixels = getattr(skimage.data, name)()
    return Image.fromarray(np.asarray(pixels)).convert("RGB")


def _crop(im: Image.Image, rng: random.Random) -> Image.Image:
    w, h = im.size
    area = rng.uniform(0.4, 1.0) * w * h
    ratio = rng.uniform(3 / 4, 4 / 3)
    cw = min(w, int(round((area * ratio) ** 0.5)))
    ch = min(h, int(round((area / ratio) ** 0.5)))
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    out = im.crop((x, y, x + cw, y + ch))
    if rng.random() < 0.5:
        out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    # small files: training reads them faster, and the photos are far larger than 224 px
    out.thumbnail((320, 320))
    return out


def jpeg(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def make_trainset(
    root: Path, *, classes: int = 4, crops: int = 4, seed: int = 0
) -> dict[str, list[Path]]:
    """Write `crops` random crops of every photo of the first `classes` classes under `root`
    (one sub-folder per class); returns class -> its files."""
    rng = random.Random(seed)
    out: dict[str, list[Path]] = {}
    for label, names in list(CLASSES.items())[:classes]:
        folder = Path(root) / label
        folder.mkdir(parents=True, exist_ok=True)
        out[label] = []
        for name in names:
            im = _photo(name)
            for i in range(crops):
                path = folder / f"{name}-{i}.jpg"
                path.write_bytes(jpeg(_crop(im, rng)))
                out[label].append(path)
    return out
