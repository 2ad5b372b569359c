"""TextReader: a photo -> the lines of text in it, each with its confidence and box.

The engine is rapidocr (PP-OCR's detector, orientation classifier and recogniser on ONNX
Runtime), run from the store's package (package.py), so it never looks for or downloads a model
at run time. A photo is decoded by the same safe decoder as the classifier, with the same limits
(imaging.decode_picture: content sniffing, the pixel limit, EXIF orientation), in full: text is
small, so the reduced decode the classifier may use would lose it. Boxes come back in that
upright photo's pixels. One photo is read at a time per reader (each uses every core through
ONNX Runtime's threads), and the engine is loaded at the first photo, not at start.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from ..errors import LocalVisionError, TextReadingFailed
from ..imaging import decode_picture
from ..results import TextLine
from .order import reading_order
from .package import engine_version, text_package

# rapidocr scales a photo so that its longer side is at most this many pixels before looking
# for text (its Global.max_side_len). A photo whose shorter side would then be thinner than
# MIN_SIDE_PX holds no text that can be read at that scale (a 20000x10 strip): it has no lines.
MAX_SIDE_PX = 2000
MIN_SIDE_PX = 4


class TextReader:
    """Reads text for one store and one set of reading settings; safe to call from threads."""

    def __init__(self, model_dir: Path, name: str, *, max_pixels: int, min_confidence: float,
                 threads: int, turn_lines: bool):  # fmt: skip
        self.model_dir = model_dir
        self.name = name
        self.max_pixels = max_pixels
        self.min_confidence = min_confidence
        self.threads = threads
        self.turn_lines = turn_lines
        self._engine = None
        self._lock = threading.Lock()

    @classmethod
    def of(cls, settings) -> "TextReader":
        return shared_reader(settings.model_dir, settings.text_model, settings.max_pixels,
                             settings.text_min_confidence, settings.text_threads,
                             settings.text_turn_lines)  # fmt: skip

    def _load(self):
        """The engine, made at the first photo from the store's package (verified), under the
        lock that also keeps it to one photo at a time."""
        if self._engine is None:
            package = text_package(self.model_dir, self.name)  # TextReadingUnavailable if none
            from rapidocr import RapidOCR

            params = {
                "Global.log_level": "error",
                "Global.text_score": self.min_confidence,
                "Global.use_cls": self.turn_lines,
                "Global.max_side_len": MAX_SIDE_PX,
                "Det.model_path": str(package.file("detector")),
                "Cls.model_path": str(package.file("orientation")),
                "Rec.model_path": str(package.file("recogniser")),
                "EngineConfig.onnxruntime.intra_op_num_threads": self.threads or -1,
            }
            self._engine = RapidOCR(params=params)
        return self._engine

    def read(self, data) -> list[TextLine]:
        """The lines in a photo (bytes or a PIL image), in reading order; [] when it has none.
        An InputError for what cannot be decoded, TextReadingFailed when the engine fails."""
        image = decode_picture(data, max_pixels=self.max_pixels).image
        width, height = image.size
        if min(width, height) * MAX_SIDE_PX / max(width, height, MAX_SIDE_PX) < MIN_SIDE_PX:
            return []
        with self._lock:
            engine = self._load()
            try:
                out = engine(image)
            except LocalVisionError:
                raise
            except Exception as exc:  # the engine failing in a way of its own: this row only
                raise TextReadingFailed(
                    f"The text in this image could not be read ({type(exc).__name__})."
                ) from None
        return reading_order(_lines(out))


def _lines(out) -> list[TextLine]:
    boxes = getattr(out, "boxes", None)
    texts = getattr(out, "txts", None) or ()
    scores = getattr(out, "scores", None) or ()
    if boxes is None:
        return []
    return [
        TextLine(str(t), round(float(s), 4), tuple((float(x), float(y)) for x, y in box))
        for t, s, box in zip(texts, scores, boxes.tolist())
        if str(t).strip()
    ]


def require_reader() -> None:
    """TextReadingUnavailable (with the extra to install) when text cannot be read here: asked
    before anything is read, so a caller hears it once, not once per photo."""
    engine_version()


@lru_cache(maxsize=8)
def shared_reader(model_dir: Path, name: str, max_pixels: int, min_confidence: float,
                  threads: int, turn_lines: bool) -> TextReader:  # fmt: skip
    """One reader per store and settings in a process: the server's models share it."""
    return TextReader(Path(model_dir), name, max_pixels=max_pixels,
                      min_confidence=min_confidence, threads=threads,
                      turn_lines=turn_lines)  # fmt: skip
