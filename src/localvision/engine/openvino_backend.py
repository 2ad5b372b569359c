"""OpenVINO backend: runs an exported IR (fp32 or NNCF int8) on the CPU. Imports no torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class OpenVINOBackend:
    name = "openvino"
    device = "cpu"

    def __init__(self, xml_path: Path, precision: str):
        import openvino as ov

        self.precision = precision
        core = ov.Core()
        # LATENCY: one stream using every core per request; the batcher supplies the batches, so
        # throughput comes from batching rather than parallel streams (THROUGHPUT streams would
        # need many requests in flight, which one synchronous call does not provide).
        self._compiled = core.compile_model(str(xml_path), "CPU", {"PERFORMANCE_HINT": "LATENCY"})
        self._request = self._compiled.create_infer_request()

    def infer(self, batch: np.ndarray) -> np.ndarray:
        # OpenVINO keeps working memory for every batch size it has seen: batches of 1..16 cost
        # ~520 MB for ResNet-18. Running power-of-two chunks (13 = 8 + 4 + 1) caps that at five
        # shapes (~330 MB) for a few percent of speed.
        outputs, start = [], 0
        while start < len(batch):
            size = 1 << ((len(batch) - start).bit_length() - 1)
            outputs.append(self._run(batch[start : start + size]))
            start += size
        return outputs[0] if len(outputs) == 1 else np.concatenate(outputs)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        # One request object reused: the batcher calls from a single thread.
        result = self._request.infer({0: np.ascontiguousarray(batch, dtype=np.float32)})
        return np.array(result[self._compiled.output(0)], dtype=np.float32)
