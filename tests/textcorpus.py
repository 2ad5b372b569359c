"""Photos with text, generated in memory at test time, each with the lines a reader should find.

Signs in Chinese and English are drawn with the system CJK font (WenQuanYi Micro Hei, Debian's
fonts-wqy-microhei: scripts/test.sh installs it) onto the real photos of tests/corpus.py, with
their size, colours, place, a few degrees of rotation or perspective and JPEG compression varied
(seeded, so every run builds the same bytes). Beside them, the real photos with text that ship in
installed packages, with a ground truth read by eye. Nothing is downloaded; nothing binary lives
in the repository.

    text_cases()          every case with its expected lines, in reading order
    char_accuracy(e, g)   1 - normalized edit distance between expected and read lines
    no_text_photo(), huge_photo(), thin_strip(), rotated_sign(angle)
                          awkward inputs for the bad-input tests, as file bytes

The benchmark (bench/ocr_bench.py) imports this module too, so the metric exists once.
"""

from __future__ import annotations

import functools
import io
import pathlib
import random
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
from corpus import PHOTOS, cjk_font, photo
from PIL import Image, ImageDraw, ImageFilter


@dataclass(frozen=True)
class TextCase:
    name: str  # short id, used as the pytest param id and the benchmark row
    data: bytes  # the file (JPEG, or PNG for the real photos that ship as PNG)
    lines: tuple[str, ...]  # the text to read, in reading order (top to bottom, left to right)
    note: str = ""
    real: bool = False  # a real photo of text, not a rendered sign


# --- the metric ---------------------------------------------------------------------------------
_CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # ideographs, CJK punctuation
_SPACE_BY_CJK = re.compile(rf"\s+(?=[{_CJK}])|(?<=[{_CJK}])\s+")


def normalize_text(lines) -> str:
    """Lines joined in reading order as one string: NFKC (full-width ¥, digits and letters, which
    the Chinese model often writes, become their ASCII forms), every run of whitespace one space,
    none beside a Chinese character (Chinese is written without spaces; whether `咖啡 ¥28` has one
    is typography, and the reader drops it). Joining with a space makes one line read as two
    boxes (or two as one) cost nothing."""
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", " ".join(lines))).strip()
    return _SPACE_BY_CJK.sub("", text)


def levenshtein(a: str, b: str) -> int:
    """Edits (insert, delete, substitute one character) that turn a into b."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def char_accuracy(expected_lines, got_lines) -> float:
    """1 - edit distance / the longer text's length, over normalized text (`normalize_text`), in
    [0, 1]: 1 is a perfect read; reading nothing, or only extra text, scores 0. Nothing expected
    and nothing read is 1. Dividing by the longer length (not the expected one) keeps text read
    where there is none (a false positive) from pushing the score below 0."""
    expected, got = normalize_text(expected_lines), normalize_text(got_lines)
    longest = max(len(expected), len(got))
    if longest == 0:
        return 1.0
    return 1.0 - levenshtein(expected, got) / longest


# --- the font and the photos --------------------------------------------------------------------
_font = cjk_font  # the one way the tests find and load the CJK font (tests/corpus.py)


def _base(name: str, long_side: int = 0) -> Image.Image:
    """A real photo (tests/corpus.py's, or any other skimage.data photo) as RGB, the long side
    scaled to long_side when given."""
    if name in PHOTOS:
        im = photo(name).convert("RGB")
    else:
        import skimage.data

        im = Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
    if long_side:
        s = long_side / max(im.size)
        im = im.resize((round(im.width * s), round(im.height * s)), Image.Resampling.LANCZOS)
    return im


def _encode(im: Image.Image, fmt: str = "JPEG", **params) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


# --- drawing a sign -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Sign:
    lines: tuple[str, ...]
    size: int = 48  # font size of the first line, in pixels
    sizes: tuple[float, ...] = ()  # each later line's size relative to the first (default 0.6)
    fg: tuple[int, int, int] = (20, 20, 20)
    bg: tuple[int, int, int] | None = (245, 245, 240)  # None: the text straight on the photo
    border: tuple[int, int, int] | None = None
    opacity: int = 255  # the panel's; 255 hides the photo under it

    def line_size(self, i: int) -> int:
        rel = self.sizes[i] if i < len(self.sizes) else (1.0 if i == 0 else 0.6)
        return max(8, round(self.size * rel))


def draw_sign(sign: Sign) -> Image.Image:
    """The sign as an RGBA image: a rounded panel (or none) with its lines centred."""
    fonts = [_font(sign.line_size(i)) for i in range(len(sign.lines))]
    boxes = [f.getbbox(t) for f, t in zip(fonts, sign.lines)]
    widths = [b[2] - b[0] for b in boxes]
    gap = round(sign.size * 0.35)
    heights = [round(f.size * 1.15) for f in fonts]
    pad = round(sign.size * 0.5)
    w = max(widths) + 2 * pad
    h = sum(heights) + gap * (len(fonts) - 1) + 2 * pad
    im = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    if sign.bg is not None:
        width = max(2, sign.size // 12) if sign.border else 0
        d.rounded_rectangle((0, 0, w - 1, h - 1), radius=pad // 2, fill=(*sign.bg, sign.opacity),
                            outline=sign.border, width=width)  # fmt: skip
    y = pad
    for font, text, box, tw, lh in zip(fonts, sign.lines, boxes, widths, heights):
        d.text(((w - tw) / 2 - box[0], y), text, font=font, fill=(*sign.fg, 255))
        y += lh + gap
    return im


def _perspective_coeffs(dst, src) -> list[float]:
    """PIL's PERSPECTIVE data mapping the output points dst onto the input points src."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        rhs += [u, v]
    return np.linalg.solve(np.array(rows, float), np.array(rhs, float)).tolist()


def tilt(im: Image.Image, lean: float) -> Image.Image:
    """The sign seen a little from the side: its right edge shrunk to (1 - lean) of its height,
    as a panel turned away from the camera looks."""
    w, h = im.size
    inset = h * lean / 2
    dst = [(0, 0), (w, inset), (w, h - inset), (0, h)]
    src = [(0, 0), (w, 0), (w, h), (0, h)]
    return im.transform(im.size, Image.Transform.PERSPECTIVE, _perspective_coeffs(dst, src),
                        Image.Resampling.BICUBIC)  # fmt: skip


def place(
    base: Image.Image,
    sign: Image.Image,
    at: tuple[float, float],
    *,
    angle: float = 0.0,
    lean: float = 0.0,
    shadow: bool = True,
) -> Image.Image:
    """base with sign pasted, its centre at `at` (fractions of the photo's width and height),
    turned `angle` degrees counter-clockwise and tilted by `lean`."""
    if lean:
        sign = tilt(sign, lean)
    if angle:
        sign = sign.rotate(angle, Image.Resampling.BICUBIC, expand=True)
    out = base.copy()
    x = round(at[0] * base.width - sign.width / 2)
    y = round(at[1] * base.height - sign.height / 2)
    if shadow:  # a soft shadow, so the panel sits on the photo rather than floats over it
        alpha = sign.getchannel("A").point(lambda a: a * 0.45).filter(ImageFilter.GaussianBlur(4))
        out.paste((0, 0, 0), (x + 4, y + 5), alpha)
    out.paste(sign, (x, y), sign)
    return out


def _noise(im: Image.Image, sigma: float, seed: int) -> Image.Image:
    """Sensor-like noise, seeded."""
    a = np.asarray(im, np.float32)
    a = a + np.random.default_rng(seed).normal(0, sigma, a.shape)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


# --- the cases ----------------------------------------------------------------------------------
def _rendered(
    name: str,
    base: str,
    signs,
    quality: int = 90,
    *,
    long_side: int = 1024,
    noise: float = 0.0,
    blur: float = 0.0,
    note: str = "",
) -> TextCase:
    """A case: each (Sign, placement kwargs) drawn onto the photo, in the order given, which is
    also the expected reading order."""
    im = _base(base, long_side)
    lines: list[str] = []
    for sign, where in signs:
        im = place(im, draw_sign(sign), **where)
        lines += sign.lines
    if blur:
        im = im.filter(ImageFilter.GaussianBlur(blur))
    if noise:
        im = _noise(im, noise, seed=len(name))
    return TextCase(name, _encode(im, "JPEG", quality=quality), tuple(lines), note)


RED, GREEN, BLUE, WHITE, YELLOW = (200, 30, 30), (0, 122, 61), (22, 64, 150), (250, 250, 250), (
    250, 205, 40)  # fmt: skip


def _rendered_cases() -> list[TextCase]:
    rng = random.Random(24)  # small seeded jitter of each sign's place

    def at(x: float, y: float) -> tuple[float, float]:
        return (x + rng.uniform(-0.02, 0.02), y + rng.uniform(-0.02, 0.02))

    S = Sign
    return [
        _rendered("no_smoking", "brick", [(S(("禁止吸烟", "No Smoking"), 64, fg=RED, border=RED),
                                          {"at": at(0.5, 0.45)})],
                  note="white panel, red border, on a brick wall"),
        _rendered("exit", "brick", [(S(("出口 EXIT",), 56, fg=WHITE, bg=GREEN),
                                     {"at": at(0.35, 0.3), "angle": 3})],
                  quality=75, note="green exit sign, turned 3 degrees"),
        _rendered("price_label", "coffee", [(S(("咖啡 ¥28",), 40, fg=(30, 30, 30), bg=YELLOW),
                                            {"at": at(0.25, 0.82), "angle": -2})],
                  note="a small price label beside the cup"),
        _rendered("street_plate", "brick", [(S(("中山路", "Zhongshan Rd"), 60, fg=WHITE, bg=BLUE,
                                               border=WHITE), {"at": at(0.6, 0.5), "lean": 0.12})],
                  note="blue street-name plate seen a little from the side"),
        _rendered("sentence", "gravel", [(S(("Please keep this door closed",), 40),
                                          {"at": at(0.5, 0.5)})],
                  note="one English sentence on a white label"),
        _rendered("wet_floor", "gravel", [(S(("小心地滑", "Caution Wet Floor"), 56, fg=(20, 20, 20),
                                             bg=YELLOW), {"at": at(0.45, 0.55), "angle": -4})],
                  quality=80, note="yellow warning sign, turned 4 degrees"),
        _rendered("opening_hours", "chelsea", [(S(("营业时间", "9:00-21:00"), 44, sizes=(1, 0.8),
                                                  opacity=215), {"at": at(0.7, 0.25), "lean": 0.1})],
                  note="half-see-through panel over the cat, in perspective"),
        _rendered("small_text", "camera", [(S(("请勿触摸 Do not touch",), 22),
                                           {"at": at(0.3, 0.85)})],
                  note="small text (22 px) on a grayscale photo"),
        _rendered("heavy_jpeg", "coffee", [(S(("停车场", "Parking"), 52, fg=WHITE, bg=BLUE),
                                            {"at": at(0.75, 0.3)})],
                  quality=30, note="JPEG quality 30: blocky edges round the strokes"),
        _rendered("welcome_poster", "rocket", [(S(("欢迎光临", "Welcome"), 96, fg=RED,
                                                  bg=(255, 248, 225)), {"at": at(0.5, 0.35)})],
                  long_side=1400, note="large poster text"),
        _rendered("metro", "coffee", [(S(("地铁站 Metro",), 48, fg=WHITE, bg=(25, 25, 25)),
                                       {"at": at(0.5, 0.15)})],
                  noise=6, note="light text on a dark panel, with sensor noise"),
        _rendered("date_line", "chelsea", [(S(("2026年5月1日", "May 1, 2026"), 40, sizes=(1, 1)),
                                            {"at": at(0.3, 0.8), "angle": 2})],
                  note="digits mixed with Chinese"),
        _rendered("emergency_exit", "rocket", [(S(("安全出口", "Emergency Exit"), 50, fg=WHITE,
                                                     bg=GREEN, opacity=230),
                                                   {"at": at(0.3, 0.25), "lean": 0.15})],
                  quality=85, note="green, half-see-through, strong perspective"),
        _rendered("two_signs", "brick", [
            (S(("一楼 1F",), 48, fg=WHITE, bg=BLUE), {"at": (0.27, 0.5)}),
            (S(("二楼 2F",), 48, fg=WHITE, bg=RED), {"at": (0.73, 0.5)}),
        ], note="two signs side by side: read left, then right"),
        _rendered("low_contrast", "gravel", [(S(("洗手间", "Toilets"), 44, fg=(135, 135, 130),
                                                bg=(160, 160, 155)), {"at": at(0.3, 0.3)})],
                  note="grey on grey: weak contrast"),
        _rendered("out_of_focus", "coffee", [(S(("收银台 Cashier",), 36), {"at": at(0.6, 0.6)})],
                  blur=3.0, note="the whole photo out of focus (Gaussian blur, radius 3)"),
        _rendered("bare_text", "grass", [(S(("HELLO 你好",), 56, fg=WHITE, bg=None),
                                          {"at": (0.5, 0.85), "shadow": False})],
                  note="white text straight on the photo, no panel"),
    ]  # fmt: skip


# Real photos of text that ship in installed packages, with the lines a person reads in them
# (checked by eye, each enlarged). Left out: skimage's `text` (handwritten formulas on ruled paper,
# seen at a slant: no ground truth one could defend, and rapidocr reads nothing in it).
PAGE_LINES = (
    "Region-based segmentation",
    "Let us first determine markers of the coins and the",
    "background. These markers are pixels that we can label",
    "unambiguously as either object or background. Here,",
    "the markers are found at the two extreme parts of the",
    "histogram of grey values:",
    ">>> markers = np.zeros_like(coins)",
)


def _real_cases() -> list[TextCase]:
    import matplotlib
    import skimage.data

    skimage_dir = pathlib.Path(skimage.data.__file__).parent
    hopper = pathlib.Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return [
        TextCase(
            "page",
            (skimage_dir / "page.png").read_bytes(),
            PAGE_LINES,
            "skimage.data.page(): a photo of a book page, unevenly lit (the cut-off last "
            "line is left out)",
            real=True,
        ),
        TextCase(
            "motorcycle",
            (skimage_dir / "motorcycle_left.png").read_bytes(),
            ("YAMAHA", "YAMAHA"),
            "skimage's motorcycle_left.png: the badge on the tank, the one on the engine cover",
            real=True,
        ),
        TextCase(
            "name_tag",
            hopper.read_bytes(),
            ("COMO HOPPER",),
            "matplotlib's Grace Hopper portrait: the name tag (COMO: Commodore); the flag "
            "behind her has no text",
            real=True,
        ),
    ]


@functools.lru_cache(maxsize=1)
def _all_cases() -> tuple[TextCase, ...]:
    return tuple(_rendered_cases() + _real_cases())


def text_cases(real: bool | None = None) -> list[TextCase]:
    """Every case (real=None), or only the real photos (True) or only the rendered signs (False)."""
    return [c for c in _all_cases() if real is None or c.real == real]


# --- awkward inputs -----------------------------------------------------------------------------
SIGN_LINES = ("禁止停车", "No Parking")  # what rotated_sign() and huge_photo() carry


def _sign_photo(long_side: int = 1024) -> Image.Image:
    sign = Sign(SIGN_LINES, round(long_side / 16), fg=RED, border=RED)
    return place(_base("brick", long_side), draw_sign(sign), at=(0.5, 0.5))


def no_text_photo() -> bytes:
    """A real photo with no text in it: the rocket at dusk (rapidocr reads nothing there at any
    scale; the astronaut is no good, her name patch is text, and the cat's eyes read as `0`)."""
    return _encode(_base("rocket"), "JPEG", quality=90)


def huge_photo(megapixels: float = 49.9) -> bytes:
    """A JPEG of about `megapixels` (3:2; the default is just under the service's 50 MP limit),
    a real photo scaled up with the SIGN_LINES sign on it (the sign is a sixteenth of the long
    side tall per line, so it survives a reader shrinking the photo). Takes a second or two and ~150 MB while encoding."""
    h = round((megapixels * 1e6 / 1.5) ** 0.5)
    w = round(h * 1.5)
    im = _sign_photo(1024).resize((w, h), Image.Resampling.BILINEAR)
    return _encode(im, "JPEG", quality=85)


def thin_strip(width: int = 20_000, height: int = 10) -> bytes:
    """A PNG `width` x `height`: a row of a real photo stretched out, no readable text."""
    row = _base("coffee").resize((width // 10, height), Image.Resampling.BILINEAR)
    return _encode(row.resize((width, height), Image.Resampling.NEAREST), "PNG")


def rotated_sign(angle: int = 90) -> bytes:
    """The SIGN_LINES sign on a photo, the whole photo turned `angle` degrees counter-clockwise
    (90: on its side, 180: upside down), no EXIF orientation to undo it."""
    turn = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180,
            270: Image.Transpose.ROTATE_270}[angle]  # fmt: skip
    return _encode(_sign_photo().transpose(turn), "JPEG", quality=90)
