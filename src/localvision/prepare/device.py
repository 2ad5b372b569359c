"""The device decoder: JPEG bytes decoded on the model's device in one batch (nvJPEG through
torchvision.io.decode_jpeg on CUDA), resized and center-cropped there, so a batch goes from
bytes to the model without crossing back to the host. A preparer on the road (road.py), beside
prepare.Preparer; used with the torch backend (`--device cuda`, or `device_decode`).

Each file's header is still checked on the CPU first (format and pixel limit, no pixels
decoded), so hostile input is refused before it reaches the GPU decoder, and a bad file fails
only its own row. What is not JPEG bytes (a PNG, a path, a PIL image) goes through the CPU
preparer and is uploaded. `device="cpu"` runs the very same code on the CPU: that is how the
tests check it on machines without a GPU; only the device differs.
"""

from __future__ import annotations

import hashlib
import io
from typing import Sequence

from PIL import Image

from ..errors import BackendUnavailable, CorruptImage, ImageTooLarge, InputError
from ..transforms import Preprocess, aspect_window, crop_origin, resized_size
from .cpu import Prepared, Preparer

Outcome = tuple["Prepared | InputError", "str | None"]


class DevicePreparer:
    def __init__(self, preprocess: Preprocess, device: str, *, max_pixels: int, cpu: Preparer):
        import torch

        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendUnavailable("Decoding on the GPU needs a CUDA GPU; none is available.")
        self.torch = torch
        self.preprocess = preprocess
        self.device = device
        self.max_pixels = max_pixels
        self.cpu = cpu
        self.mean = torch.tensor(preprocess.mean, device=device).view(3, 1, 1) * 255
        self.std = torch.tensor(preprocess.std, device=device).view(3, 1, 1) * 255

    def prepare(self, source, exact: bool | None = None) -> Prepared:
        ((value, _),) = self.prepare_batch([source], exact)
        if isinstance(value, InputError):
            raise value
        return value

    def prepare_batch(
        self, sources: Sequence, exact: bool | None = None, digest: bool = False
    ) -> list[Outcome]:
        """One (Prepared | InputError, sha256 | None) per source, in order."""
        values: list = [None] * len(sources)
        digests: list = [None] * len(sources)
        jpegs: list[tuple[int, bytes]] = []
        for i, source in enumerate(sources):
            if isinstance(source, (bytes, bytearray, memoryview)):
                data = bytes(source)
                digests[i] = hashlib.sha256(data).hexdigest() if digest else None
                if data[:3] == b"\xff\xd8\xff":
                    try:
                        self._check_header(data)
                        jpegs.append((i, data))
                    except InputError as exc:
                        values[i] = exc
                    continue
            values[i] = self._on_cpu(source)
        for (i, _), img in zip(jpegs, self._decode([d for _, d in jpegs])):
            values[i] = img if isinstance(img, InputError) else Prepared(self._resize_crop(img))
        return list(zip(values, digests))

    def stack(self, arrays: Sequence):
        return self.torch.stack(list(arrays))

    def _on_cpu(self, source) -> Prepared | InputError:
        try:
            array = self.cpu.prepare(source, exact=True).array
        except InputError as exc:
            return exc
        return Prepared(self.torch.from_numpy(array).to(self.device))

    def _check_header(self, data: bytes) -> None:
        """The pixel limit, from the header alone."""
        try:
            with Image.open(io.BytesIO(data), formats=("JPEG",)) as img:
                w, h = img.size
        except Exception:
            raise CorruptImage("This JPEG file's header is damaged or cut off.") from None
        if w * h > self.max_pixels:
            raise ImageTooLarge(
                f"The image is {w}×{h} pixels; the limit is {self.max_pixels / 1e6:g} MP."
            )

    def _decode(self, jpegs: list[bytes]) -> list:
        """Decode on the device, in one batch; if the batch fails, one by one, so a corrupt file
        becomes its own CorruptImage and the others still decode."""
        from torchvision.io import ImageReadMode, decode_jpeg

        if not jpegs:
            return []
        torch = self.torch
        raw = [torch.frombuffer(bytearray(d), dtype=torch.uint8) for d in jpegs]

        def run(items):
            return decode_jpeg(
                items, mode=ImageReadMode.RGB, device=self.device, apply_exif_orientation=True
            )

        try:
            return list(run(raw))
        except RuntimeError:
            out = []
            for item in raw:
                try:
                    out.append(run([item])[0])
                except RuntimeError:
                    out.append(CorruptImage("The JPEG is truncated or corrupt."))
            return out

    def _resize_crop(self, img):
        """(3, H, W) uint8 -> normalized (3, crop, crop) float32: torchvision's size arithmetic
        and the CPU path's aspect cap, with an antialiased resize on the device (within about
        one level of Pillow's)."""
        import torch.nn.functional as F

        pp = self.preprocess
        left, top, right, bottom = aspect_window(img.shape[-1], img.shape[-2])
        img = img[:, top:bottom, left:right]
        h, w = img.shape[-2:]
        nw, nh = resized_size(w, h, pp.resize)
        x = F.interpolate(img[None].float(), size=(nh, nw), mode=pp.interpolation, antialias=True)
        x = x[0].round().clamp(0, 255)  # Pillow hands 8-bit levels to the normalization
        cl, ct = crop_origin(nw, nh, pp.crop)
        x = x[:, ct : ct + pp.crop, cl : cl + pp.crop]
        return (x - self.mean) / self.std
