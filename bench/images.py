"""Benchmark images: real photos from ``skimage.data`` encoded as JPEG bytes.

``small_jpeg()`` is the coffee photo at its native 600x400 (0.24 MP, <= 1 MP);
``large_jpeg()`` is the same photo upscaled with Pillow LANCZOS to 2460x1640
(4.03 MP, >= 4 MP), the size of a phone photo, where decoding dominates.
Both are quality 90 and built once per process.
"""
from __future__ import annotations

import functools
import io

from PIL import Image

LARGE_SIZE = (2460, 1640)  # 3:2 like the source; 4,034,400 px >= 4 MP
QUALITY = 90


def photo(name: str = "coffee") -> Image.Image:
    """An RGB photo from ``skimage.data`` by name (coffee, chelsea, astronaut, ...)."""
    from skimage import data  # imported late: only benchmarks need scikit-image

    return Image.fromarray(getattr(data, name)()).convert("RGB")


def jpeg_bytes(image: Image.Image, quality: int = QUALITY) -> bytes:
    """Encode ``image`` as a baseline JPEG."""
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


@functools.cache
def small_jpeg(name: str = "coffee") -> bytes:
    """The photo at its native size (coffee: 600x400, 0.24 MP)."""
    img = photo(name)
    assert img.width * img.height <= 1_000_000
    return jpeg_bytes(img)


@functools.cache
def large_jpeg(name: str = "coffee", size: tuple[int, int] = LARGE_SIZE) -> bytes:
    """The photo upscaled with LANCZOS to ``size`` (default 2460x1640, 4.03 MP)."""
    assert size[0] * size[1] >= 4_000_000
    return jpeg_bytes(photo(name).resize(size, Image.LANCZOS))


IMAGES = {"small": small_jpeg, "large": large_jpeg}
"""Name -> zero-argument builder, for CLIs and benchmark tables."""
