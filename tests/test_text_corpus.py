"""rapidocr, called directly, reads the rendered signs of tests/textcorpus.py: the corpus is
readable (a case drawn wrong would fail here, not in the service's tests) and the bar the
service's reader is held to is known. The figure per case is in the OCR benchmark
(bench/ocr_bench.py). A system test: it needs the CJK font the signs are drawn with."""

from __future__ import annotations

import pytest
from textcorpus import char_accuracy, text_cases

# Measured on rapidocr 3.10 (PP-OCRv6 small, its angle classifier on, as by default): 0.95 over
# the rendered signs; 16 of 17 read perfectly, and "出口 EXIT" is lost because the angle
# classifier turns its crop upside down (both halves look alike either way up). 0.85 leaves room
# for two more signs read half wrong on another CPU or onnxruntime build.
MIN_ACCURACY = 0.85


@pytest.fixture(scope="module")
def engine():
    rapidocr = pytest.importorskip("rapidocr", reason="the text extra: pip install '.[text]'")
    return rapidocr.RapidOCR(params={"Global.log_level": "error"})


def test_rapidocr_reads_the_rendered_signs(engine):
    scores = {}
    for case in text_cases(real=False):
        got = engine(case.data).txts or ()
        scores[case.name] = (char_accuracy(case.lines, got), case.lines, got)
    overall = sum(s for s, _, _ in scores.values()) / len(scores)
    report = "\n".join(f"{n}: {s:.2f} expected {e} read {g}" for n, (s, e, g) in scores.items())
    assert overall >= MIN_ACCURACY, f"overall {overall:.3f} < {MIN_ACCURACY}\n{report}"
