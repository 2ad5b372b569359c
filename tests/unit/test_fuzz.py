"""Fuzzing the decode path with hypothesis: bytes derived from real small images (every supported
format and many modes), mutated the way fuzzers do (bit flips, overwritten header integers,
truncation, insertion, splices), and ZIPs holding them.

Properties, for any bytes at all:
- `imaging.decode` returns an RGB image, which preprocessing turns into a finite model input, or
  raises a typed `LocalVisionError`; never any other exception.
- `archive.read_zip` returns members (each with data or a typed error) or raises a typed
  `LocalVisionError`; never any other exception.

CI runs a bounded, derandomized slice; `python -m bench.fuzz --minutes N` runs the same
properties for as long as asked, with fresh randomness.
"""

from __future__ import annotations

import functools
import io
import zipfile

import numpy as np
import pytest
from corpus import _encode, photo, rgb48_png
from hostile import _bmp_header, _gif_header, _tiff, huge_dimensions_png
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from localvision.archive import read_zip
from localvision.errors import LocalVisionError
from localvision.imaging import decode, decode_picture
from localvision.transforms import to_array

# Pillow warns about the damage it skips over (corrupt EXIF, short tags); expected here.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

# A small pixel limit keeps each example cheap: a mutated header that declares a big image is
# then refused or decoded in milliseconds (bench/fuzz.py runs with the real 50 MP limit).
CI_MAX_PIXELS = 4_000_000
CI = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- seeds: small real images, in every supported format ----------------------------------------
@functools.lru_cache(maxsize=1)
def seeds() -> tuple[bytes, ...]:
    im = photo("chelsea").resize((40, 28))
    gray = photo("camera").resize((40, 28))
    rgba = im.copy()
    rgba.putalpha(Image.linear_gradient("L").resize(im.size))
    frames = [im, photo("coffee").resize(im.size)]
    f32 = Image.fromarray(np.asarray(gray, np.float32) / 255.0, "F")
    return (
        _encode(im, "JPEG", quality=80),
        _encode(im, "JPEG", quality=80, progressive=True),
        _encode(im.convert("CMYK"), "JPEG"),
        _encode(gray, "JPEG"),
        _encode(im, "PNG"),
        _encode(rgba, "PNG"),
        _encode(im.convert("P", palette=Image.Palette.ADAPTIVE, colors=16), "PNG", transparency=0),
        _encode(gray.convert("1"), "PNG"),
        _encode(Image.fromarray(np.asarray(gray, np.uint16) * 257), "PNG"),
        rgb48_png_small(),
        _encode(frames[0], "GIF", save_all=True, append_images=frames[1:]),
        _encode(im, "WEBP", quality=60),
        _encode(rgba, "WEBP", lossless=True),
        _encode(im, "BMP"),
        _encode(im.convert("P"), "BMP"),
        _encode(im, "TIFF"),
        _encode(im, "TIFF", compression="tiff_lzw"),
        _encode(gray.convert("1"), "TIFF", compression="group4"),
        _encode(im.convert("LAB"), "TIFF"),
        _encode(f32, "TIFF"),
        _encode(im, "TIFF", save_all=True, append_images=[gray.convert("RGB")]),
        _tiff(8, 8, b"\x7f" * 64),
        _gif_header(40, 28),
        _bmp_header(4, 4) + b"\x00" * 48,
        huge_dimensions_png(40, 28),
    )


def rgb48_png_small() -> bytes:
    data = rgb48_png("chelsea")
    with Image.open(io.BytesIO(data)) as big:
        big.load()
    return _encode(big.resize((40, 28)), "PNG")


# --- mutations ----------------------------------------------------------------------------------
INTERESTING = (0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF,
               0x80000000, 0xFFFFFFFF)  # fmt: skip


@st.composite
def mutated(draw, base=None) -> bytes:
    """A seed with 1 to 6 mutations applied."""
    data = bytearray(base if base is not None else draw(st.sampled_from(seeds())))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(("flip", "byte", "int", "truncate", "insert", "delete",
                                   "duplicate", "splice")))  # fmt: skip
        n = len(data)
        at = draw(st.integers(0, max(n - 1, 0)))
        if op == "flip" and n:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte" and n:
            data[at] = draw(st.sampled_from((0x00, 0xFF, 0x7F, 0x80, draw(st.integers(0, 255)))))
        elif op == "int" and n >= 4:
            width = draw(st.sampled_from((2, 4)))
            value = draw(st.sampled_from(INTERESTING)) & ((1 << (8 * width)) - 1)
            order = draw(st.sampled_from(("little", "big")))
            at = min(at, n - width)
            data[at : at + width] = value.to_bytes(width, order)
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "duplicate" and n:
            end = min(n, at + draw(st.integers(1, 256)))
            data[at:at] = data[at:end]
        elif op == "splice":
            other = draw(st.sampled_from(seeds()))
            cut = draw(st.integers(0, len(other)))
            data = data[:at] + bytearray(other[cut:])
    return bytes(data)


def images() -> st.SearchStrategy[bytes]:
    return st.one_of(mutated(), st.binary(max_size=512))


@st.composite
def zips(draw) -> bytes:
    """A real ZIP of (possibly mutated) images, itself possibly mutated."""
    members = draw(st.lists(st.one_of(mutated(), st.sampled_from(seeds())), min_size=1, max_size=4))
    method = draw(st.sampled_from((zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                                   zipfile.ZIP_LZMA)))  # fmt: skip
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for i, data in enumerate(members):
            zf.writestr(f"{i}.img", data)
    data = buf.getvalue()
    return draw(mutated(data)) if draw(st.booleans()) else data


# --- the properties (bench/fuzz.py runs these too) ----------------------------------------------
@functools.lru_cache(maxsize=1)
def preprocess():
    import localvision.models  # noqa: F401  (registers the models)
    from localvision.models.registry import get_spec

    return get_spec("efficientnet_lite0").preprocess


def check_decode(data: bytes, draft: bool, max_pixels: int = CI_MAX_PIXELS) -> None:
    pp = preprocess()
    try:  # draft: the fast path as served (reduced-scale decode, window resize)
        draft_side = 64 if draft else None  # small, so the fuzzer's small images reduce too
        pic = decode_picture(data, max_pixels=max_pixels, draft_min_side=draft_side)
    except LocalVisionError:
        return
    img = pic.image
    assert img.mode == "RGB" and img.width >= 1 and img.height >= 1
    x = to_array(img, pp, box=pic.box, exact=not draft)
    assert x.shape == (3, pp.crop, pp.crop) and np.isfinite(x).all()


def check_zip(data: bytes, max_pixels: int = CI_MAX_PIXELS) -> None:
    try:
        members = read_zip(data, max_members=1000, max_total_bytes=16 * 1024 * 1024,
                           max_member_bytes=10 * 1024 * 1024)
    except LocalVisionError:
        return
    for member in members:
        assert (member.data is None) != (member.error is None)
        if member.data is not None:
            check_decode(member.data, draft=True, max_pixels=max_pixels)


# --- the CI slice -------------------------------------------------------------------------------
def test_every_seed_decodes():
    """The seeds are real images: the fuzzing starts from valid files."""
    for data in seeds()[:-4]:  # the last four are hand-made headers
        check_decode(data, draft=False)
        decode(data, max_pixels=50_000_000)


@CI
@given(data=images(), draft=st.booleans())
def test_decode_of_any_bytes_succeeds_or_raises_a_typed_error(data, draft):
    check_decode(data, draft)


@CI
@given(data=zips())
def test_read_zip_of_any_bytes_succeeds_or_raises_a_typed_error(data):
    check_zip(data)
