"""Safe image decoding: bytes in, an upright RGB PIL image out, or a typed error.

The format is sniffed from the content (never the file name or declared type), the pixel count
is checked from the header before any pixel is decoded, truncated files are refused rather than
half-decoded, EXIF orientation is applied and every mode is converted to RGB.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from .errors import (
    CorruptImage,
    EmptyFile,
    FileNotFound,
    FileTooLarge,
    ImageTooLarge,
    InputError,
    UnsupportedFormat,
)

# Formats we decode. Pillow identifies each by its magic bytes; the list keeps it from trying
# exotic plugins (EPS, PSD, ...) on hostile input.
FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")
FORMAT_NAMES = "JPEG, PNG, WebP, BMP, GIF or TIFF"

# Never hand the model half an image.
ImageFile.LOAD_TRUNCATED_IMAGES = False

MB = 1024 * 1024  # sizes are counted in MiB and shown as "MB", as file browsers do
# The file names a folder's images go by (a file named directly is decoded by its content,
# whatever its name): what the CLI, watch, the export's calibration and training look for.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jfif", ".jpe", ".png", ".webp", ".bmp", ".gif",
                            ".tif", ".tiff"})  # fmt: skip

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO, Image.Image]


def read_source(source: ImageSource, max_bytes: int | None = None) -> bytes | Image.Image:
    """Bytes of a path, bytes-like or file object (a PIL image passes through untouched)."""
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFound(f"No such file: {path}")
        if max_bytes is not None and path.stat().st_size > max_bytes:
            raise FileTooLarge(_too_big(path.stat().st_size, max_bytes))
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise FileNotFound(f"Cannot read {path}: {exc.strerror or exc}") from None
    elif hasattr(source, "read"):
        limit = -1 if max_bytes is None else max_bytes + 1
        data = source.read(limit)
    else:
        raise InputError(f"Cannot read an image from a {type(source).__name__}.")
    if max_bytes is not None and len(data) > max_bytes:
        raise FileTooLarge(_too_big(len(data), max_bytes))
    return data


def _too_big(size: int, limit: int) -> str:
    return f"The file is {size / MB:.1f} MB; the limit is {limit / MB:g} MB."


Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Decoded:
    """An upright RGB image, and for a reduced-scale (draft) JPEG decode the area of it the
    picture covers.

    A draft decode rounds its size up to whole pixels: 2461 px at 1/2 scale is 1231 px, of which
    the picture covers 1230.5. Resizing `box` rather than the whole image keeps the geometry
    exact, so the fast path agrees with a full decode.
    """

    image: Image.Image
    box: Box | None = None  # None: a full decode, the picture is the whole image

    @property
    def reduced(self) -> bool:
        return self.box is not None


def decode(
    data: bytes | Image.Image, *, max_pixels: int, draft_min_side: int | None = None
) -> Image.Image:
    """Decode image bytes into an upright RGB image (see decode_picture)."""
    return decode_picture(data, max_pixels=max_pixels, draft_min_side=draft_min_side).image


def open_image(data: bytes, *, max_pixels: int) -> Image.Image:
    """Open image bytes and check their header, decoding no pixel: the format sniffed from the
    content, the size read and held to max_pixels. A typed error for anything else. The lazy
    image that comes back decodes on `load()` (decode_picture does that)."""
    if not data:
        raise EmptyFile("The file is empty.")
    # Our own limit is the pixel check below, made from the header before any pixel is decoded.
    # (No warnings.catch_warnings here: it swaps process-wide state, and decodes run in many
    # threads at once. Pillow's own bomb error, past twice its limit, is still caught.)
    try:
        img = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        if (fmt := _signature(data)) is not None:  # Pillow refused a damaged header
            raise CorruptImage(f"This {fmt} file's header is damaged or cut off.") from None
        raise UnsupportedFormat(
            f"This file is not an image localvision can read ({FORMAT_NAMES})."
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLarge(
            "The image declares more pixels than can be decoded safely "
            f"(the limit is {max_pixels / 1e6:g} MP)."
        ) from None
    except Exception as exc:  # a header Pillow recognised but could not parse
        raise CorruptImage(f"The image header is damaged ({_reason(exc)}).") from None

    width, height = img.size
    if width < 1 or height < 1:
        raise CorruptImage("The image has no pixels.")
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"The image is {width}×{height} pixels ({width * height / 1e6:.1f} MP); "
            f"the limit is {max_pixels / 1e6:g} MP."
        )
    return img


def decode_picture(
    data: bytes | Image.Image, *, max_pixels: int, draft_min_side: int | None = None
) -> Decoded:
    """Decode image bytes into an upright RGB image and the area the picture covers in it.

    draft_min_side: when set, a large JPEG is decoded at a reduced scale (DCT-domain downscaling,
    1/2 to 1/8) whose shorter side is still at least this many pixels.
    """
    if isinstance(data, Image.Image):
        return Decoded(to_rgb(data))
    img = open_image(data, max_pixels=max_pixels)
    width, height = img.size
    box: Box | None = None
    if draft_min_side and img.format in ("JPEG", "MPO"):
        scale = min(width, height) / draft_min_side
        if scale >= 2:
            drafted = img.draft("RGB", (int(width / scale) + 1, int(height / scale) + 1))
            if drafted is not None and img.size != (width, height):
                box = tuple(float(v) for v in drafted[1])
    try:
        img.load()
    except Exception as exc:
        raise CorruptImage(
            f"The image is truncated or corrupt and cannot be decoded ({_reason(exc)})."
        ) from None
    img, box = _upright(img, box)
    return Decoded(to_rgb(img), box)


# Signatures of the supported formats: a file that starts with one but that Pillow cannot even
# identify (a bad IHDR CRC, a PNG cut after its signature, a zero width) is a damaged image of a
# supported format, not an unsupported one. BMP's two-letter "BM" is too weak to count.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"),
)  # fmt: skip


def _signature(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return next((fmt for magic, fmt in _SIGNATURES if data.startswith(magic)), None)


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]


# EXIF orientation -> the transpose that makes the image upright, and where that transpose sends
# a point (x, y) of a w×h image (continuous coordinates, so fractional boxes map exactly).
_ORIENTATIONS = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT, lambda x, y, w, h: (w - x, y)),
    3: (Image.Transpose.ROTATE_180, lambda x, y, w, h: (w - x, h - y)),
    4: (Image.Transpose.FLIP_TOP_BOTTOM, lambda x, y, w, h: (x, h - y)),
    5: (Image.Transpose.TRANSPOSE, lambda x, y, w, h: (y, x)),
    6: (Image.Transpose.ROTATE_270, lambda x, y, w, h: (h - y, x)),
    7: (Image.Transpose.TRANSVERSE, lambda x, y, w, h: (h - y, w - x)),
    8: (Image.Transpose.ROTATE_90, lambda x, y, w, h: (y, w - x)),
}
_ORIENTATION_TAG = 0x0112


def _upright(img: Image.Image, box: Box | None) -> tuple[Image.Image, Box | None]:
    """Apply the EXIF orientation to the image and to the box within it (no copy when upright)."""
    try:
        orientation = img.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # a broken EXIF block should not cost the user their prediction
        return img, box
    if orientation not in _ORIENTATIONS:
        return img, box
    method, move = _ORIENTATIONS[orientation]
    if box is not None:
        (ax, ay), (bx, by) = (move(x, y, img.width, img.height) for x, y in (box[:2], box[2:]))
        box = (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by))
    return img.transpose(method), box


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB. Transparent areas become white, 16-bit and float images are
    scaled (not clipped) to 8 bits."""
    if img.mode == "RGB":
        return img
    if img.mode.startswith("I") or img.mode == "F":
        return Image.fromarray(_to_uint8(np.asarray(img), img.mode), "L").convert("RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or img.has_transparency_data:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def _to_uint8(a: np.ndarray, mode: str) -> np.ndarray:
    a = a.astype(np.float64)
    peak = float(a.max()) if a.size else 0.0
    if mode.startswith("I;16") or (mode == "I" and peak > 255):
        a = a / 257.0  # 0..65535 onto 0..255
    elif mode == "F" and peak <= 1.0:
        a = a * 255.0  # float images stored as 0..1
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)
