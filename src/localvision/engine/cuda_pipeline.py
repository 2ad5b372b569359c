"""The GPU road for JPEG bytes: batched decode on the GPU (nvJPEG through
torchvision.io.decode_jpeg), resize and center crop on the GPU, fp16 channels_last model.

Each file's header is still checked on the CPU first (format and pixel limit, no pixels decoded),
so hostile input is refused before it reaches the GPU decoder. Used by `--device cuda` benchmarks
(end-to-end JPEG bytes -> labels); needs a CUDA GPU and is never imported on the CPU path.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from ..errors import BackendUnavailable, ImageTooLarge, UnsupportedFormat
from ..models.spec import ModelSpec
from .torch_model import build_model


class CudaPipeline:
    def __init__(self, spec: ModelSpec, weights: Path, device: str = "cuda", max_pixels: int = 50_000_000):
        import torch

        if not torch.cuda.is_available():
            raise BackendUnavailable("The CUDA pipeline needs a CUDA GPU; none is available.")
        self.torch = torch
        self.spec = spec
        self.device = device
        self.max_pixels = max_pixels
        model = build_model(spec, weights)
        self.model = model.to(device, torch.float16, memory_format=torch.channels_last).eval()
        pp = spec.preprocess
        self.mean = torch.tensor(pp.mean, device=device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(pp.std, device=device).view(1, 3, 1, 1) * 255

    def check_header(self, data: bytes) -> None:
        try:
            with Image.open(io.BytesIO(data), formats=("JPEG",)) as img:
                w, h = img.size
        except Exception:
            raise UnsupportedFormat("The GPU road takes JPEG files only.") from None
        if w * h > self.max_pixels:
            raise ImageTooLarge(f"The image is {w}×{h} pixels; the limit is {self.max_pixels / 1e6:g} MP.")

    def preprocess(self, jpegs: list[bytes]):
        """JPEG bytes -> (N, 3, crop, crop) fp16 normalized, channels_last, on the GPU."""
        import torch.nn.functional as F
        from torchvision.io import ImageReadMode, decode_jpeg

        torch = self.torch
        for data in jpegs:
            self.check_header(data)
        raw = [torch.frombuffer(bytearray(d), dtype=torch.uint8) for d in jpegs]
        images = decode_jpeg(raw, mode=ImageReadMode.RGB, device=self.device)
        pp = self.spec.preprocess
        crops = []
        for img in images:
            h, w = img.shape[-2:]
            short, long = (w, h) if w <= h else (h, w)
            new_long = int(pp.resize * long / short)
            size = (new_long, pp.resize) if w <= h else (pp.resize, new_long)
            x = F.interpolate(img[None].float(), size=size, mode=pp.interpolation, antialias=True)
            top = int(round((size[0] - pp.crop) / 2.0))
            left = int(round((size[1] - pp.crop) / 2.0))
            crops.append(x[..., top : top + pp.crop, left : left + pp.crop])
        x = (torch.cat(crops) - self.mean) / self.std
        return x.half().contiguous(memory_format=torch.channels_last)

    def classify(self, jpegs: list[bytes], top_k: int = 1) -> list[list[tuple[str, float]]]:
        torch = self.torch
        with torch.inference_mode():
            probs = self.model(self.preprocess(jpegs)).float().softmax(-1)
            values, indices = probs.topk(top_k, dim=1)
        labels = self.spec.labels
        return [
            [(labels[i], float(v)) for v, i in zip(vs, ix)]
            for vs, ix in zip(values.cpu().tolist(), indices.cpu().tolist())
        ]
