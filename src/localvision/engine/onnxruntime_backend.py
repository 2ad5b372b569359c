"""ONNX Runtime backend: an exported fp32 ONNX graph, on the CPU or the CUDA provider."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BackendUnavailable


class OnnxRuntimeBackend:
    name = "onnxruntime"
    precision = "fp32"

    def __init__(self, onnx_path: Path, device: str = "cpu"):
        import onnxruntime as ort

        providers = ["CPUExecutionProvider"]
        if device == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise BackendUnavailable(
                    "ONNX Runtime has no CUDA provider here.", hint="pip install onnxruntime-gpu"
                )
            providers.insert(0, "CUDAExecutionProvider")
        self.device = device
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(onnx_path), options, providers=providers)
        self._input = self._session.get_inputs()[0].name

    def infer(self, batch: np.ndarray) -> np.ndarray:
        (logits,) = self._session.run(None, {self._input: np.ascontiguousarray(batch, np.float32)})
        return logits
