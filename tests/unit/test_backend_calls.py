"""Every place that calls a backend outside the road's drivers (the int8/fp16 agreement check of
an export, `localvision bench`) turns a framework failure into InferenceFailed, as the road does:
a typed error with a sentence, never a traceback."""

from __future__ import annotations

import numpy as np
import pytest

from localvision.errors import InferenceFailed

pytestmark = pytest.mark.unit


class Broken:
    name, device, precision = "openvino", "cpu", "int8"

    def infer(self, batch):
        raise RuntimeError("Exception from src/inference/src/cpp/infer_request.cpp:223")


def test_an_exports_agreement_check_types_a_backend_failure():
    from localvision.export import _top1

    with pytest.raises(InferenceFailed, match="infer_request.cpp"):
        _top1(Broken(), np.zeros((3, 3, 8, 8), np.float32), num_classes=10)


def test_an_exports_agreement_check_reads_each_rows_top_class():
    from localvision.export import _top1

    class Echo:
        def infer(self, batch):
            return batch.reshape(len(batch), -1)[:, :4]

    x = np.zeros((10, 4), np.float32)
    x[np.arange(10), np.arange(10) % 4] = 1.0
    assert _top1(Echo(), x, num_classes=4).tolist() == [i % 4 for i in range(10)]


def test_timing_a_failing_backend_is_a_typed_failure():
    from localvision.benchmark import bench_backend

    with pytest.raises(InferenceFailed, match="while being timed"):
        bench_backend(Broken(), crop=8, batch=2, iterations=1)
