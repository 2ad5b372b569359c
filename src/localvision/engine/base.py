"""The backend contract: load a model once, then turn float32 NCHW batches into logits.

Only backends import their framework; everything else works on numpy arrays.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Backend(Protocol):
    name: str
    device: str
    precision: str

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """(N, 3, H, W) float32 -> (N, num_classes) float32 logits."""
        ...


def check_outputs(batch: np.ndarray, logits: np.ndarray, num_classes: int) -> np.ndarray:
    """The batch contract: one row of num_classes scores per input, checked, not assumed."""
    expected = (batch.shape[0], num_classes)
    if logits.shape != expected:
        raise RuntimeError(f"backend returned shape {logits.shape}, expected {expected}")
    return logits
