"""Draw the labels onto a video: `--annotate OUT.mp4` writes every frame of the source with the
latest answer's top-k as labels and confidence bars, and the smoothed label above them.

Every frame is written, with its own time, so the video is as long as the source and plays
in any player (H.264 in MP4, yuv420p, libx264 from PyAV's FFmpeg). Chinese labels (--lang zh)
need a font with CJK glyphs: a known system one (Debian's fonts-wqy-microhei, which
scripts/test.sh installs; Noto Sans CJK; PingFang; Microsoft YaHei), else the first fontconfig
lists for Chinese (`fc-list :lang=zh`); without one, labels are drawn with Pillow's own font and Chinese glyphs show as boxes
(said once on stderr by the CLI, `Annotator.font_path` is None).
"""

from __future__ import annotations

import shutil
import subprocess
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ..errors import InvalidArgument
from .sources import Frame

KNOWN_CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)
TIME_BASE = Fraction(1, 1000)  # pts in milliseconds: any source's times fit


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """A font file that draws Chinese and Latin: a known one (WenQuanYi Micro Hei, Noto Sans
    CJK, PingFang, Microsoft YaHei), else the first fontconfig lists for zh. (Droid Sans
    Fallback, which fontconfig may list first, has no digits or Latin letters.)"""
    known = next((f for f in KNOWN_CJK_FONTS if Path(f).is_file()), None)
    if known or not shutil.which("fc-list"):
        return known
    try:
        listed = subprocess.run(
            ["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    files = sorted(line.split(":")[0].strip() for line in listed.splitlines() if line.strip())
    return next((f for f in files if Path(f).is_file() and "Fallback" not in f), None)


class Annotator:
    """Writes annotated frames to an MP4 file; `write(frame, result, label)` for each frame."""

    def __init__(self, path: Path, *, width: int, height: int, rate: float | None):
        import av

        path = Path(path)
        if path.suffix.lower() not in (".mp4", ".mkv", ".mov"):
            raise InvalidArgument(f"--annotate writes an .mp4 (or .mkv, .mov) file, not {path.name}.")
        self.path = path
        self.width, self.height = width - width % 2, height - height % 2  # yuv420p: even sides
        try:
            path.open("wb").close()  # FFmpeg opens the file only at the first frame: fail now
            self.container = av.open(str(path), "w")
        except (OSError, av.FFmpegError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise InvalidArgument(f"Cannot write {path}: {reason}.") from None
        rate = Fraction(rate).limit_denominator(1001) if rate else Fraction(25)
        self.stream = self.container.add_stream("libx264", rate=rate)
        self.stream.width, self.stream.height = self.width, self.height
        self.stream.pix_fmt = "yuv420p"
        self.stream.codec_context.time_base = TIME_BASE
        self.stream.time_base = TIME_BASE
        self.font_path = cjk_font()
        size = max(12, self.height // 22)
        self.font = self._font(size)
        self.small = self._font(max(10, size * 4 // 5))
        self._last_pts = -1
        self.frames = 0

    def _font(self, size: int):
        if self.font_path:
            return ImageFont.truetype(self.font_path, size)
        return ImageFont.load_default(size)

    def write(self, frame: Frame, predictions, label: str | None) -> None:
        """Draw `predictions` (the latest sample's top-k: label, probability) and the smoothed
        `label` onto this frame and encode it at the frame's own time."""
        import av

        img = frame.video.to_image()
        if img.size != (self.width, self.height):
            img = img.crop((0, 0, self.width, self.height))
        self._draw(img, predictions, label)
        out = av.VideoFrame.from_image(img)
        pts = max(self._last_pts + 1, round(frame.time / TIME_BASE))
        out.pts, out.time_base = pts, TIME_BASE
        self._last_pts = pts
        self.container.mux(self.stream.encode(out))
        self.frames += 1

    def _draw(self, img: Image.Image, predictions, label: str | None) -> None:
        draw = ImageDraw.Draw(img, "RGBA")
        pad = max(4, self.height // 80)
        line = self.font.size + pad
        bar_w = max(60, self.width // 4)
        rows = list(predictions or [])
        panel_h = pad + line * (len(rows) + (1 if label else 0)) + pad
        panel_w = min(self.width - 2 * pad, int(self.width * 0.6))
        draw.rectangle([pad, pad, pad + panel_w, pad + panel_h], fill=(0, 0, 0, 150))
        y = 2 * pad
        if label:
            draw.text((2 * pad, y), label, font=self.font, fill=(255, 230, 80, 255))
            y += line
        for p in rows:
            prob = float(p.probability)
            draw.rectangle([2 * pad, y + 2, 2 * pad + bar_w, y + line - pad], fill=(255, 255, 255, 60))
            draw.rectangle(
                [2 * pad, y + 2, 2 * pad + int(bar_w * prob), y + line - pad], fill=(80, 200, 120, 230)
            )
            text = f"{p.label}  {prob:.0%}"
            draw.text((3 * pad + bar_w, y), text, font=self.small, fill=(255, 255, 255, 255))
            y += line

    def close(self) -> None:
        if self.container is not None:
            self.container.mux(self.stream.encode(None))
            self.container.close()
            self.container = None
