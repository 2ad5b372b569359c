"""The eager PyTorch backend: channels_last, inference mode; fp16 on CUDA."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BackendUnavailable
from ..models.spec import ModelSpec
from .torch_model import build_model


class TorchBackend:
    name = "torch"

    def __init__(self, spec: ModelSpec, weights: Path, device: str = "cpu"):
        import torch

        if device == "cuda" and not torch.cuda.is_available():
            raise BackendUnavailable("--device cuda was asked for, but no CUDA GPU is available.")
        self._torch = torch
        self.device = device
        self.precision = "fp16" if device == "cuda" else "fp32"
        self._dtype = torch.float16 if device == "cuda" else torch.float32
        model = build_model(spec, weights)
        self.model = model.to(device=device, dtype=self._dtype, memory_format=torch.channels_last)

    def infer(self, batch: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(batch).to(self.device, self._dtype)
            x = x.contiguous(memory_format=torch.channels_last)
            return self.model(x).float().cpu().numpy()
