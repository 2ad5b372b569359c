"""Eager torch backend: channels_last, inference mode, on the CPU or CUDA, at fp32, bf16 or fp16.

fp32 is fp32: on CUDA, TF32 (which cuDNN and cuBLAS use for "fp32" by default on Ampere and
later) is switched off for this process while an fp32 backend exists. The input may be a numpy
batch or a tensor already on the device (the device decoder's, prepare/device.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BackendUnavailable
from ..models.network import build_model
from ..models.spec import ModelSpec


class TorchBackend:
    name = "torch"

    def __init__(self, spec: ModelSpec, weights: Path, device: str, precision: str):
        import torch

        if device == "cuda" and not torch.cuda.is_available():
            raise BackendUnavailable("--device cuda was asked for, but no CUDA GPU is available.")
        self._torch = torch
        self.device = device
        self.precision = precision
        self._dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[
            precision
        ]
        if device == "cuda" and precision == "fp32":
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
        model = build_model(spec, weights)
        self.model = model.to(device=device, dtype=self._dtype, memory_format=torch.channels_last)

    def infer(self, batch) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            x = batch if isinstance(batch, torch.Tensor) else torch.from_numpy(batch)
            x = x.to(self.device, self._dtype).contiguous(memory_format=torch.channels_last)
            return self.model(x).float().cpu().numpy()
