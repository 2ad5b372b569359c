"""A corpus of awkward image inputs, generated in memory at test time, each with the outcome we expect.

Every case is built from real photos (skimage.data, matplotlib's Grace Hopper) or from a few literal
bytes, so nothing is downloaded and nothing binary lives in the repository. `expect` is "ok" (decodes
to an RGB image and gets a prediction) or the stable error code from `localvision.errors`.

    bad_input_cases()      every case: inputs that must fail with a code, and odd-but-valid ones
    real_photo_bytes(...)  a real photo encoded as a file
    exif_rotated_pair()    the same photo stored upright, and stored sideways with an EXIF tag
"""

from __future__ import annotations

import functools
import io
import pathlib
import random
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image

# The photos the golden tests pin, and what EfficientNet-Lite0 really says (checked by eye).
GOLDEN = {
    "coffee": "espresso",
    "chelsea": "tiger cat",
    "camera": "tripod",
    "rocket": "missile",
    "grace_hopper": "academic gown",
}


PHOTOS = ("coffee", "chelsea", "camera", "rocket", "astronaut", "grace_hopper")


@dataclass(frozen=True)
class Case:
    name: str  # short id, used as the pytest param id
    filename: str  # the name it is uploaded/saved as; may lie about the type
    data: bytes
    expect: str  # "ok" or an error code from localvision.errors
    note: str = ""


# --- real photos --------------------------------------------------------------------------------
def _grace_hopper_path() -> pathlib.Path:
    import matplotlib

    return pathlib.Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


@functools.lru_cache(maxsize=None)
def _photo_array(name: str) -> np.ndarray:
    if name == "grace_hopper":
        with Image.open(_grace_hopper_path()) as im:
            return np.asarray(im.convert("RGB"))
    if name not in PHOTOS:
        raise ValueError(f"unknown photo {name!r}; choose from {PHOTOS}")
    import skimage.data

    return getattr(skimage.data, name)()


def photo(name: str) -> Image.Image:
    """A fresh PIL image of a real photo ("camera" is grayscale, the others RGB)."""
    return Image.fromarray(_photo_array(name))


def _encode(im: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def real_photo_bytes(name: str, fmt: str = "JPEG") -> bytes:
    """A real photo as file bytes; Grace Hopper as JPEG is the original file, untouched."""
    if name == "grace_hopper" and fmt.upper() in ("JPEG", "JPG"):
        return _grace_hopper_path().read_bytes()
    params = {"quality": 90} if fmt.upper() in ("JPEG", "JPG", "WEBP") else {}
    return _encode(photo(name), fmt, **params)


def exif_rotated_pair(name: str = "coffee") -> tuple[bytes, bytes]:
    """(upright JPEG, JPEG whose pixels are stored turned a quarter to the left with Orientation=6).

    Orientation 6 means "turn 90° clockwise to display"; `ImageOps.exif_transpose` does that, so
    both files show the same upright photo and should get the same top-1.
    """
    upright = photo(name)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # counter-clockwise
    return _encode(upright, "JPEG", quality=90), _encode(stored, "JPEG", quality=90, exif=exif)


# --- a real photo with a sign on it (the text reader's tests) ------------------------------------
SIGN = ("禁止吸烟", "No Smoking")  # the lines sign_photo_bytes() draws, in reading order


FONT_FAMILY = "WenQuanYi Micro Hei"


@functools.lru_cache(maxsize=1)
def font_path() -> pathlib.Path:
    """The CJK font's file, as fontconfig finds it; a clear error when it is not installed (a
    fallback font would draw boxes where the Chinese should be)."""
    import subprocess

    try:
        found = subprocess.run(
            ["fc-match", "-f", "%{family}\n%{file}", FONT_FAMILY],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout.splitlines()  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        raise RuntimeError(f"fc-match failed ({exc}); install fontconfig") from exc
    if len(found) < 2 or FONT_FAMILY not in found[0]:
        raise RuntimeError(
            f"the font {FONT_FAMILY!r} is not installed (apt-get install fonts-wqy-microhei; "
            f"scripts/test.sh does it); fontconfig offers {found[:1]} instead"
        )
    return pathlib.Path(found[1])


@functools.cache
def cjk_font(size: int):
    """The system CJK font (WenQuanYi Micro Hei) at `size` px."""
    from PIL import ImageFont

    return ImageFont.truetype(str(font_path()), size, index=0)  # .ttc: 0 is Micro Hei


def sign_photo_bytes(lines=SIGN, name: str = "coffee", fmt: str = "JPEG") -> bytes:
    """A real photo with a white sign in its top-left corner holding `lines`, one under the
    other, in black 36 px CJK type (what the text reader must read back)."""
    from PIL import ImageDraw

    im = photo(name).convert("RGB")
    font = cjk_font(36)
    draw = ImageDraw.Draw(im)
    width = max(draw.textlength(line, font=font) for line in lines)
    draw.rectangle((10, 10, 40 + width, 30 + 50 * len(lines)), fill="white")
    for n, line in enumerate(lines):
        draw.text((25, 20 + 50 * n), line, font=font, fill="black")
    return _encode(im, fmt, **({"quality": 92} if fmt == "JPEG" else {}))


# --- hand-made PNGs -----------------------------------------------------------------------------
def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload)
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _png(width: int, height: int, bit_depth: int, color_type: int, idat: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def huge_dimensions_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid PNG header declaring width×height pixels, with a tiny (short) IDAT: a few hundred
    bytes that a careless decoder would try to turn into width*height*3 bytes of memory."""
    return _png(width, height, 8, 2, zlib.compress(b"\x00" * 1024))


def rgb48_png(name: str = "coffee") -> bytes:
    """A 16-bit-per-channel RGB PNG of a real photo. Pillow cannot write one, so it is built by
    hand; Pillow reads it (as 8-bit RGB)."""
    rgb16 = (_photo_array(name).astype(np.uint16) * 257).astype(">u2")  # PNG is big-endian
    h, w, _ = rgb16.shape
    rows = rgb16.reshape(h, w * 3).view(np.uint8)
    raw = np.hstack([np.zeros((h, 1), np.uint8), rows]).tobytes()  # filter byte 0 per row
    return _png(w, h, 16, 2, zlib.compress(raw))


# --- the cases ----------------------------------------------------------------------------------
def _error_cases() -> list[Case]:
    jpeg = real_photo_bytes("coffee")
    png = real_photo_bytes("chelsea", "PNG")
    noise = random.Random(0).randbytes(4096)
    return [
        Case("empty_file", "empty.jpg", b"", "empty_file", "zero bytes"),
        Case("random_bytes", "noise.jpg", noise, "unsupported_format", "seeded noise named .jpg"),
        Case("truncated_jpeg", "truncated.jpg", jpeg[: len(jpeg) * 6 // 10], "corrupt_image",
             "first 60% of a real JPEG: header parses, pixels do not"),
        Case("truncated_png", "truncated.png", png[: len(png) * 6 // 10], "corrupt_image",
             "first 60% of a real PNG"),
        Case("html", "html.png", b"<!DOCTYPE html>\n<html><body><h1>Not found</h1></body></html>\n",
             "unsupported_format", "an error page saved as .png"),
        Case("svg", "drawing.svg",
             b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="64" '
             b'height="64"><circle cx="32" cy="32" r="30" fill="red"/></svg>\n',
             "unsupported_format", "vector images are not decoded"),
        Case("pdf", "scan.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
             "unsupported_format", "PDF header"),
        Case("text", "notes.txt", b"a cat sitting on a mat\n" * 8, "unsupported_format", "plain text"),
        Case("huge_dimensions", "huge.png", huge_dimensions_png(), "image_too_large",
             "PNG header declares 30000x30000; refused before decoding"),
    ]


def _ok_cases() -> list[Case]:
    chelsea, camera = photo("chelsea"), photo("camera")
    cmyk = _encode(photo("coffee").convert("CMYK"), "JPEG", quality=90)
    gray16 = Image.fromarray(_photo_array("camera").astype(np.uint16) * 257)  # mode I;16
    palette = chelsea.convert("P", palette=Image.Palette.ADAPTIVE, colors=255)
    rgba = chelsea.copy()
    rgba.putalpha(Image.linear_gradient("L").resize(chelsea.size))
    la = camera.convert("LA")
    frames = [chelsea, photo("coffee").resize(chelsea.size)]
    return [
        Case("cmyk_jpeg", "cmyk.jpg", cmyk, "ok", "CMYK JPEG"),
        Case("gray16_png", "gray16.png", _encode(gray16, "PNG"), "ok",
             "16-bit grayscale PNG (I;16); Pillow's convert('RGB') clips it to white: scale it first"),
        Case("rgb48_png", "rgb48.png", rgb48_png(), "ok", "16-bit-per-channel RGB PNG"),
        Case("palette_alpha_png", "palette.png", _encode(palette, "PNG", transparency=0), "ok",
             "P mode with a transparent palette entry (tRNS)"),
        Case("rgba_png", "rgba.png", _encode(rgba, "PNG"), "ok", "RGBA with a gradient alpha"),
        Case("la_png", "la.png", _encode(la, "PNG"), "ok", "grayscale + alpha"),
        Case("gray_jpeg", "camera.jpg", real_photo_bytes("camera"), "ok", "single-channel JPEG"),
        Case("exif_rotated_jpeg", "rotated.jpg", exif_rotated_pair()[1], "ok",
             "pixels stored sideways, EXIF Orientation=6"),
        Case("animated_gif", "animated.gif",
             _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0),
             "ok", "two frames; the first is classified"),
        Case("one_pixel_png", "pixel.png", _encode(chelsea.resize((1, 1)), "PNG"), "ok", "1x1"),
        Case("webp", "chelsea.webp", real_photo_bytes("chelsea", "WEBP"), "ok", "WebP"),
        Case("bmp", "chelsea.bmp", real_photo_bytes("chelsea", "BMP"), "ok", "BMP"),
        Case("tiff", "chelsea.tiff", real_photo_bytes("chelsea", "TIFF"), "ok", "TIFF"),
        Case("gif", "chelsea.gif", real_photo_bytes("chelsea", "GIF"), "ok", "single-frame GIF"),
        Case("jpeg_named_png", "photo.png", real_photo_bytes("grace_hopper"), "ok",
             "decoded by content, not by the name"),
        Case("progressive_jpeg", "progressive.jpg",
             _encode(photo("rocket"), "JPEG", quality=90, progressive=True), "ok", "progressive JPEG"),
    ]


@functools.lru_cache(maxsize=1)
def _all_cases() -> tuple[Case, ...]:
    return tuple(_error_cases() + _ok_cases())


def bad_input_cases() -> list[Case]:
    """Every awkward input: those that must fail with a code, then odd ones that must decode."""
    return list(_all_cases())


def ok_cases() -> list[Case]:
    return [c for c in _all_cases() if c.expect == "ok"]


def error_cases() -> list[Case]:
    return [c for c in _all_cases() if c.expect != "ok"]


# --- sets of real photos for calibration and agreement checks -----------------------------------
# Photographs of things (skimage's microscopy and astronomy images are left out: no ImageNet
# class fits them, so their top-1 is a coin toss between near-equal scores).
PHOTO_POOL = (
    "astronaut", "chelsea", "coffee", "rocket", "camera", "coins", "moon", "gravel", "brick",
    "clock", "horse", "grace_hopper",
)  # fmt: skip


def _any_photo(name: str) -> Image.Image:
    if name == "grace_hopper":
        return photo(name)
    import skimage.data

    return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")


def photo_variants(
    count: int, seed: int = 0, min_side: int = 0, min_crop: float = 0.4
) -> list[tuple[str, bytes]]:
    """`count` JPEGs cut from real photos: random crops (min_crop to 100% of each side), mirrored
    half the time, scaled so the shorter side is at least min_side. Deterministic for a seed."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        name = PHOTO_POOL[n % len(PHOTO_POOL)]
        im = _any_photo(name)
        w, h = im.size
        f = rng.uniform(min_crop, 1.0)
        cw, ch = max(16, int(w * f)), max(16, int(h * f))
        left, top = rng.randint(0, w - cw), rng.randint(0, h - ch)
        im = im.crop((left, top, left + cw, top + ch))
        if rng.random() < 0.5:
            im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if min_side and min(im.size) < min_side:
            s = min_side / min(im.size)
            im = im.resize((round(im.width * s), round(im.height * s)), Image.Resampling.LANCZOS)
        out.append((f"{n:03d}-{name}.jpg", _encode(im, "JPEG", quality=92)))
    return out
