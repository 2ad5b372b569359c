"""The fast preprocessing path against the exact one (`--exact-decode`, torchvision bit for bit).

Fast = big JPEGs decoded at a reduced scale in the DCT domain, the resize computed only over the
center crop's window, and near-tie answers of a reduced decode checked again in full. It must
keep the geometry exact (odd sizes, every EXIF orientation) and give the exact path's top-1 on
real photos (the issue asks for >= 99%).
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from corpus import _encode, photo, photo_variants
from PIL import Image
from servers import LiveServer

from localvision import load_classifier
from localvision.config import Settings

MP = Settings().max_pixels
from localvision.imaging import decode, decode_picture
from localvision.server.app import create_app
from localvision.transforms import Preprocess, resize_crop, to_array

LEVEL = 1 / 255 / 0.5  # one 8-bit level, in lite0's normalized units (std 0.5)
ODD_SIZE = (2461, 1641)  # not a multiple of 8: a 1/2-scale decode ends in half a pixel


@pytest.fixture(scope="module")
def fast():
    """efficientnet_lite0 on OpenVINO, the fast path as served by default."""
    return load_classifier("efficientnet_lite0", offline=True, backend="openvino")


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
@pytest.mark.parametrize("size", [(600, 400), (640, 480), (1001, 700), (333, 1500), (256, 256)])
def test_window_resize_matches_resizing_the_whole_picture(interpolation, size):
    """Only the crop's window is resized: same source pixels, same weights, up to float rounding
    of the window's corners (now and then an output level off by one, by up to three where the
    intermediate rounding of a bicubic pass adds to it)."""
    pp = Preprocess(256, 224, interpolation, (0.5,) * 3, (0.5,) * 3)
    img = photo("coffee").resize(size, Image.Resampling.LANCZOS)
    whole = np.asarray(resize_crop(img, pp, exact=True), dtype=int)
    window = np.asarray(resize_crop(img, pp, exact=False), dtype=int)
    assert whole.shape == window.shape == (224, 224, 3)
    diff = np.abs(whole - window)
    assert diff.max() <= 3 and (diff > 0).mean() < 0.005


def test_normalization_lookup_equals_the_arithmetic():
    pp = Preprocess(256, 224, "bilinear", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    img = photo("chelsea")
    pixels = np.asarray(resize_crop(img, pp), dtype=np.float32) / np.float32(255.0)
    expected = ((pixels - np.float32(pp.mean)) / np.float32(pp.std)).transpose(2, 0, 1)
    np.testing.assert_array_equal(to_array(img, pp), expected)


# Orientation -> the transpose that stores the upright picture so that this orientation undoes it.
STORED = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@pytest.mark.parametrize("orientation", sorted(STORED))
def test_reduced_decode_keeps_geometry_for_every_exif_orientation(fast, orientation):
    """An odd-sized photo stored turned or mirrored, with the EXIF tag that puts it upright: the
    reduced decode lands on the same pixels as the full one (a half-pixel slip at the rounded-up
    edge, or a box turned the wrong way, shows as differences of tens of levels)."""
    upright = photo("astronaut").resize(ODD_SIZE, Image.Resampling.LANCZOS)
    method = STORED[orientation]
    stored = upright if method is None else upright.transpose(method)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _encode(stored, "JPEG", quality=92, exif=exif)

    pic = decode_picture(data, max_pixels=MP, draft_min_side=fast.spec.preprocess.draft_side)
    assert pic.reduced and pic.image.size[0] < ODD_SIZE[0] // 1.9  # a 1/4 scale decode
    assert decode(data, max_pixels=MP).size == ODD_SIZE  # upright
    quick = fast.prepare(data)
    full = fast.prepare(data, exact=True)
    diff = np.abs(quick - full) / LEVEL
    assert diff.mean() < 1 and diff.max() < 24, (diff.mean(), diff.max())  # wrong box: > 3, > 80


@pytest.fixture(scope="module")
def variants():
    """Real photos, cut and mirrored at random, scaled to phone-photo sizes (1/2 and 1/4 scale
    decodes both occur)."""
    return [d for _, d in photo_variants(90, seed=7, min_side=1600, min_crop=0.75)] + [
        d for _, d in photo_variants(60, seed=11, min_side=2100, min_crop=0.75)
    ]


def test_fast_path_agrees_with_full_decode_on_real_photos(fast, variants):
    """Top-1 agreement with the exact path >= 99%. Without the near-tie check, the reduced
    decode alone disagrees on a few percent of these, and only where the top two were close."""
    exact = [r.predictions for r in _predict(fast, variants, exact=True, recheck=0)]
    raw = [r.predictions for r in _predict(fast, variants, exact=False, recheck=0)]
    checked = [r.predictions for r in _predict(fast, variants, exact=False, recheck=0.05)]

    side = fast.spec.preprocess.draft_side
    reduced = sum(decode_picture(d, max_pixels=MP, draft_min_side=side).reduced for d in variants)
    assert reduced == len(variants)  # every one of them took the fast decode
    agree = np.mean([e[0].index == c[0].index for e, c in zip(exact, checked)])
    assert agree >= 0.99, agree
    for e, r in zip(exact, raw):
        if e[0].index != r[0].index:  # only near-ties flip, and the check covers them
            assert e[0].probability - e[1].probability < 0.05
            assert abs(r[0].probability - r[1].probability) < 0.05


def _predict(clf, data, *, exact: bool, recheck: float):
    saved = clf.preparer.exact_decode, clf.road.recheck_margin
    clf.preparer.exact_decode, clf.road.recheck_margin = exact, recheck
    try:
        return clf.predict(data, top_k=2)
    finally:
        clf.preparer.exact_decode, clf.road.recheck_margin = saved


def test_server_rechecks_near_ties_with_a_full_decode(tmp_path, fast):
    """Through HTTP: with every answer counted as a near-tie, a reduced decode's answer is
    replaced by the full decode's."""
    data = _encode(photo("chelsea").resize(ODD_SIZE, Image.Resampling.LANCZOS), "JPEG", quality=92)
    everything = load_classifier("efficientnet_lite0", offline=True, recheck_margin=1.0)
    settings = Settings(model="efficientnet_lite0", offline=True, db=f"sqlite:///{tmp_path}/h.db")
    with LiveServer(create_app(settings, classifier=everything)) as server:
        r = httpx.post(
            server.url + "/api/v1/classify",
            files={"file": ("big.jpg", data, "image/jpeg")},
            params={"top_k": 5},
        )
    assert r.status_code == 200, r.text
    served = {p["index"]: p["probability"] for p in r.json()["results"][0]["predictions"]}

    def probs(exact: bool) -> np.ndarray:
        return fast.probabilities(fast.prepare(data, exact=exact)[None])[0]

    full, quick = probs(True), probs(False)
    idx = list(served)
    np.testing.assert_allclose([served[i] for i in idx], full[idx], rtol=1e-5)
    assert np.abs(quick[idx] - full[idx]).max() > 1e-4  # the check changed the answer
