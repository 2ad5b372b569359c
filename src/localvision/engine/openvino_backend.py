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
        # One request object reused: the batcher calls from a single thread.
        result = self._request.infer({0: np.ascontiguousarray(batch, dtype=np.float32)})
        return np.asarray(result[self._compiled.output(0)], dtype=np.float32)
