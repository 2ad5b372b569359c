"""Videos made from real photos for the tests: each photo held for some seconds, in turn,
encoded H.264 (libx264, yuv420p, MP4) with PyAV. Shared by the video and stream tests."""

from __future__ import annotations

from pathlib import Path

from corpus import photo
from PIL import Image

SIZE = (320, 240)  # small: the suite runs on 2 cores; even sides, as yuv420p needs


def frame_of(name: str, size=SIZE) -> Image.Image:
    """A real photo as it appears in the videos: RGB, resized to the video's size."""
    return photo(name).convert("RGB").resize(size, Image.Resampling.BILINEAR)


def make_video(
    path: Path, names: list[str], *, seconds: float = 2.0, rate: int = 10, size=SIZE,
    codec: str = "libx264",
) -> Path:  # fmt: skip
    """An MP4 showing each photo in `names` for `seconds`, at `rate` frames per second."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for name in names:
            frame = av.VideoFrame.from_image(frame_of(name, size))
            for _ in range(round(seconds * rate)):
                out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def count_frames(path: Path) -> tuple[int, float, tuple[int, int]]:
    """(frames decoded, duration in seconds, (width, height)) of a video, decoded back."""
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        n = sum(1 for _ in c.decode(s))
        return n, (c.duration or 0) / 1e6, (s.codec_context.width, s.codec_context.height)
