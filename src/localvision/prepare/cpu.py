"""One input to the array a model takes, on the CPU: read, decode safely, resize, crop, normalize.

The first stop on the road (road.py). `Preparer` binds a model's preprocessing to the limits and
the decode mode, and is safe to call from many threads at once (the road decodes a chunk in a
thread pool; Pillow releases the GIL).

Two decode modes:
- exact: torchvision's reference arithmetic, bit for bit (full decode, whole-picture resize).
- fast (the default): a JPEG much larger than the model needs is decoded at a reduced scale in
  the DCT domain and only the crop's window is resized (imaging.py, transforms.py). Such an
  input keeps its bytes in `Prepared.recheck`, so the road can decode it again in full when its
  answer is a near-tie.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from ..errors import CorruptImage, LocalVisionError
from ..imaging import ImageSource, decode_picture, read_source
from ..transforms import Preprocess, to_array


class Prepared(NamedTuple):
    """A preprocessed input: the model's (3, H, W) float32 array, and for a reduced-scale decode
    the bytes to decode again in full (None otherwise)."""

    array: object  # np.ndarray here; a device tensor from a device preparer (prepare/device.py)
    recheck: bytes | None = None
    # the input as read (bytes, or a PIL image), kept when the road reads its text too, so a
    # file object read once can be decoded again for the reader
    data: object = None


class Preparer:
    """Decode and preprocess inputs for one model (CPU, numpy)."""

    def __init__(self, preprocess: Preprocess, *, max_pixels: int, exact_decode: bool):
        self.preprocess = preprocess
        self.max_pixels = max_pixels
        self.exact_decode = exact_decode

    def prepare(self, source: ImageSource, exact: bool | None = None) -> Prepared:
        """One input to a Prepared, or an InputError (raised)."""
        exact = self.exact_decode if exact is None else exact
        data = read_source(source)
        try:
            pic = decode_picture(
                data,
                max_pixels=self.max_pixels,
                draft_min_side=None if exact else self.preprocess.draft_side,
            )
            array = to_array(pic.image, self.preprocess, box=pic.box, exact=exact)
        except LocalVisionError:
            raise
        except Exception as exc:  # an odd file tripping Pillow or numpy fails its own row only
            raise CorruptImage(f"The image could not be processed ({type(exc).__name__}).") from None
        return Prepared(array, data if pic.reduced else None)

    @staticmethod
    def stack(arrays: Sequence[np.ndarray]) -> np.ndarray:
        """Arrays of one chunk to the (N, 3, H, W) batch a backend takes."""
        return np.stack(arrays)
