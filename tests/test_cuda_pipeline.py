"""The GPU road (engine/cuda_pipeline.py): batched JPEG decode, resize and crop on the device,
then the model. CI has no GPU, so the same code runs here with device="cpu"; on a machine with
CUDA the GPU itself is checked too (the last test)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import GOLDEN
from corpus import exif_rotated_pair, real_photo_bytes
from localvision.engine.cuda_pipeline import CudaPipeline
from localvision.errors import BackendUnavailable
from localvision.models import get_spec

LEVEL = 1 / 255 / 0.5  # one 8-bit level in lite0's normalized units


@pytest.fixture(scope="module")
def pipeline():
    spec = get_spec("efficientnet_lite0")
    return CudaPipeline(spec, spec.weights.locate_in_package(), device="cpu")


def test_real_photos_get_their_known_labels_in_one_batch(pipeline, photos):
    names = list(GOLDEN)
    results = pipeline.classify([photos[n] for n in names], top_k=3)
    assert [r.predictions[0].label for r in results] == [GOLDEN[n] for n in names]
    assert all(r.error is None and len(r.predictions) == 3 for r in results)


def test_device_preprocessing_is_within_a_level_of_pillows(pipeline, lite0, photos):
    """The tensor resize (antialiased) against the exact Pillow path the CPU serves."""
    names = list(GOLDEN)
    x, errors = pipeline.preprocess([photos[n] for n in names])
    assert errors == [None] * len(names)
    ours = x.float().numpy()
    ref = np.stack([lite0.prepare(photos[n]) for n in names])
    diff = np.abs(ours - ref) / LEVEL
    assert ours.shape == ref.shape and diff.mean() < 1.0 and np.percentile(diff, 99) <= 3


def test_a_bad_file_fails_only_its_own_row(pipeline, photos):
    coffee = photos["coffee"]
    batch = [
        coffee,
        real_photo_bytes("chelsea", "PNG"),  # not a JPEG
        coffee[: len(coffee) // 3],  # a JPEG cut short: the header passes, the decode fails
        b"not an image",
        photos["chelsea"],
    ]
    results = pipeline.classify(batch)
    codes = [r.error.code if r.error else None for r in results]
    assert codes[0] is None and codes[4] is None
    assert codes[1] == codes[3] == "unsupported_format" and codes[2] is not None
    assert results[0].predictions[0].label == "espresso"
    assert results[4].predictions[0].label == "tiger cat"


def test_exif_orientation_is_applied(pipeline):
    upright, rotated = exif_rotated_pair("chelsea")
    a, b = pipeline.classify([upright, rotated])
    assert a.predictions[0].label == b.predictions[0].label == "tiger cat"


def test_pixel_limit_is_checked_from_the_header(photos):
    spec = get_spec("efficientnet_lite0")
    small = CudaPipeline(spec, spec.weights.locate_in_package(), device="cpu", max_pixels=1000)
    (result,) = small.classify([photos["coffee"]])
    assert result.error.code == "image_too_large"


def test_cuda(photos):
    import torch

    spec = get_spec("efficientnet_lite0")
    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailable, match="CUDA"):
            CudaPipeline(spec, spec.weights.locate_in_package(), device="cuda")
        return
    gpu = CudaPipeline(spec, spec.weights.locate_in_package(), device="cuda")
    names = list(GOLDEN)
    results = gpu.classify([photos[n] for n in names])
    assert [r.predictions[0].label for r in results] == [GOLDEN[n] for n in names]
