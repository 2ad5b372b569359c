"""The GPU road for JPEG bytes: batched decode on the GPU (nvJPEG through
torchvision.io.decode_jpeg), resize and center crop on the GPU, fp16 channels_last model.

Each file's header is still checked on the CPU first (format and pixel limit, no pixels decoded),
so hostile input is refused before it reaches the GPU decoder, and a bad file fails only its own
row. `device="cpu"` runs the very same code on the CPU in fp32: that is how the tests check it on
machines without a GPU; only the device differs. Used by the `--device cuda` benchmarks (JPEG
bytes -> labels, bench/cuda_bench.py) and from Python; never imported on the CPU serving path.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from ..classifier import Result, top_predictions
from ..errors import BackendUnavailable, CorruptImage, ImageTooLarge, InputError, UnsupportedFormat
from ..models.spec import ModelSpec
from ..transforms import crop_origin, resized_size
from .torch_model import build_model


class CudaPipeline:
    def __init__(
        self,
        spec: ModelSpec,
        weights: Path,
        device: str = "cuda",
        max_pixels: int = 50_000_000,
    ):
        import torch

        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendUnavailable("The CUDA pipeline needs a CUDA GPU; none is available.")
        self.torch = torch
        self.spec = spec
        self.device = device
        self.max_pixels = max_pixels
        self.dtype = torch.float16 if device.startswith("cuda") else torch.float32
        model = build_model(spec, weights)
        self.model = model.to(device, self.dtype, memory_format=torch.channels_last).eval()
        pp = spec.preprocess
        self.mean = torch.tensor(pp.mean, device=device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(pp.std, device=device).view(1, 3, 1, 1) * 255

    def check_header(self, data: bytes) -> None:
        """Refuse what is not a JPEG, or is larger than max_pixels, from the header alone."""
        try:
            with Image.open(io.BytesIO(data), formats=("JPEG",)) as img:
                w, h = img.size
        except Exception:
            raise UnsupportedFormat("The GPU road takes JPEG files only.") from None
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
        """(3, H, W) uint8 -> (1, 3, crop, crop) float: torchvision's size arithmetic, with an
        antialiased resize on the device (within about one level of Pillow's)."""
        import torch.nn.functional as F

        pp = self.spec.preprocess
        h, w = img.shape[-2:]
        nw, nh = resized_size(w, h, pp.resize)
        x = F.interpolate(img[None].float(), size=(nh, nw), mode=pp.interpolation, antialias=True)
        x = x.round().clamp(0, 255)  # Pillow hands 8-bit levels to the normalization
        left, top = crop_origin(nw, nh, pp.crop)
        return x[..., top : top + pp.crop, left : left + pp.crop]

    def preprocess(self, jpegs: list[bytes]) -> tuple[object | None, list[InputError | None]]:
        """JPEG bytes -> ((n_ok, 3, crop, crop) normalized channels_last batch on the device, or
        None if every file failed; one error or None per input)."""
        torch = self.torch
        errors: list[InputError | None] = []
        for data in jpegs:
            try:
                self.check_header(data)
                errors.append(None)
            except InputError as exc:
                errors.append(exc)
        good = [i for i, e in enumerate(errors) if e is None]
        crops = []
        for i, img in zip(good, self._decode([jpegs[i] for i in good])):
            if isinstance(img, InputError):
                errors[i] = img
            else:
                crops.append(self._resize_crop(img))
        if not crops:
            return None, errors
        x = (torch.cat(crops) - self.mean) / self.std
        return x.to(self.dtype).contiguous(memory_format=torch.channels_last), errors

    def classify(self, jpegs: list[bytes], top_k: int = 1) -> list[Result]:
        """One Result per JPEG, in order; a bad file fails only its own Result."""
        torch = self.torch
        x, errors = self.preprocess(jpegs)
        results = [Result(f"<input {i}>", error=e) for i, e in enumerate(errors)]
        if x is None:
            return results
        with torch.inference_mode():
            probs = self.model(x).float().softmax(-1).cpu().numpy()
        rows = (r for r in results if r.error is None)
        for result, p in zip(rows, probs):
            result.predictions = top_predictions(p, self.spec.labels, top_k)
        return results
