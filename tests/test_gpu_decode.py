"""The device decoder (prepare/device.py) on the road: batched JPEG decode, resize and crop on
the device, then the torch backend. CI has no GPU, so the same code runs here with the device
being the CPU (`device_decode=True`); on a machine with CUDA the GPU itself is checked too."""

from __future__ import annotations

import numpy as np
import pytest
from corpus import GOLDEN, exif_rotated_pair, real_photo_bytes

from localvision import load_classifier
from localvision.errors import BackendUnavailable
from localvision.models import get_spec
from localvision.prepare import Preparer
from localvision.prepare.device import DevicePreparer

LEVEL = 1 / 255 / 0.5  # one 8-bit level in lite0's normalized units


@pytest.fixture(scope="module")
def on_device():
    return load_classifier(
        "efficientnet_lite0", offline=True, backend="torch", precision="fp32", device_decode=True
    )


def test_the_classifier_decodes_on_the_device(on_device):
    assert isinstance(on_device.preparer, DevicePreparer)


def test_real_photos_get_their_known_labels_in_one_batch(on_device, photos):
    names = list(GOLDEN)
    results = on_device.predict([photos[n] for n in names], top_k=3)
    assert [r.predictions[0].label for r in results] == [GOLDEN[n] for n in names]
    assert all(r.error is None and len(r.predictions) == 3 for r in results)


def test_device_preprocessing_is_within_a_level_of_pillows(on_device, lite0, photos):
    """The tensor resize (antialiased) against the exact Pillow path the CPU serves."""
    names = list(GOLDEN)
    ours = np.stack([on_device.prepare(photos[n]).numpy() for n in names])
    ref = np.stack([lite0.prepare(photos[n]) for n in names])
    diff = np.abs(ours - ref) / LEVEL
    assert ours.shape == ref.shape and diff.mean() < 1.0 and np.percentile(diff, 99) <= 3


def test_a_bad_file_fails_only_its_own_row(on_device, photos):
    coffee = photos["coffee"]
    batch = [
        coffee,
        real_photo_bytes("chelsea", "PNG"),  # not a JPEG: decoded on the CPU, then uploaded
        coffee[: len(coffee) // 3],  # a JPEG cut short: the header passes, the decode fails
        b"not an image",
        photos["chelsea"],
        coffee[:40],  # a JPEG whose header is cut off
    ]
    results = on_device.predict(batch)
    codes = [r.error.code if r.error else None for r in results]
    assert codes == [None, None, "corrupt_image", "unsupported_format", None, "corrupt_image"]
    assert [results[i].predictions[0].label for i in (0, 1, 4)] == [
        "espresso", "tiger cat", "tiger cat"
    ]


def test_exif_orientation_is_applied(on_device):
    upright, rotated = exif_rotated_pair("chelsea")
    a, b = on_device.predict([upright, rotated])
    assert a.predictions[0].label == b.predictions[0].label == "tiger cat"


def test_pixel_limit_is_checked_from_the_header(photos):
    small = load_classifier(
        "efficientnet_lite0", offline=True, backend="torch", device_decode=True, max_pixels=1000
    )
    (result,) = small.predict([photos["coffee"]])
    assert result.error.code == "image_too_large"


def test_a_very_thin_picture_is_cut_to_the_aspect_cap_like_on_the_cpu(on_device, lite0, monkeypatch):
    """A 6000x4 strip: the CPU path keeps its centered 16:1 part before resizing, so must the
    device path; else it resizes the whole strip to 384000x256 (a 1.2 GB float tensor; a
    65000x4 JPEG would ask for 13 GB). The resize's real size is recorded on its way through."""
    import io

    import torch.nn.functional as F
    from PIL import Image

    sizes = []
    real = F.interpolate
    monkeypatch.setattr(F, "interpolate", lambda x, **kw: sizes.append(kw["size"]) or real(x, **kw))
    rng = np.random.default_rng(1)
    strip = Image.fromarray(rng.integers(0, 255, (4, 6000, 3), dtype=np.uint8))
    buf = io.BytesIO()
    strip.save(buf, "JPEG", quality=95)
    ours = on_device.prepare(buf.getvalue()).numpy()
    assert sizes and max(sizes[-1]) <= 16 * 256
    assert ours.shape == lite0.prepare(buf.getvalue()).shape


def test_cuda(photos):
    import torch

    spec = get_spec("efficientnet_lite0")
    cpu = Preparer(spec.preprocess, max_pixels=50_000_000, exact_decode=True)
    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailable, match="CUDA"):
            DevicePreparer(spec.preprocess, "cuda", max_pixels=50_000_000, cpu=cpu)
        return
    gpu = load_classifier("efficientnet_lite0", offline=True, backend="torch", device="cuda")
    assert isinstance(gpu.preparer, DevicePreparer) and gpu.backend.precision == "fp32"
    names = list(GOLDEN)
    results = gpu.predict([photos[n] for n in names])
    assert [r.predictions[0].label for r in results] == [GOLDEN[n] for n in names]
