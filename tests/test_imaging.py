"""Safe decoding and the Python API's inputs: every awkward input gets a prediction or its typed
error, and one bad input never stops the others."""

from __future__ import annotations

import io

import numpy as np
import pytest
from corpus import bad_input_cases, exif_rotated_pair, huge_dimensions_png, photo, real_photo_bytes
from PIL import Image

from localvision.config import Settings
from localvision.errors import ImageTooLarge
from localvision.imaging import decode

MP = Settings().max_pixels  # the service's pixel limit

CASES = bad_input_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case_gets_its_expected_outcome(lite0, case):
    (result,) = lite0.predict([case.data], top_k=3)
    if case.expect == "ok":
        assert result.error is None, result.error
        assert len(result.predictions) == 3
    else:
        assert result.predictions == []
        assert result.error.code == case.expect
        assert result.error.message and "Traceback" not in result.error.message


def test_whole_corpus_in_one_call_fails_only_the_bad_rows(lite0, photos):
    inputs = [c.data for c in CASES] + [photos["coffee"]]
    results = lite0.predict(inputs, top_k=1)
    assert len(results) == len(inputs)
    assert [r.error.code if r.error else "ok" for r in results[:-1]] == [c.expect for c in CASES]
    assert results[-1].predictions[0].label == "espresso"


def test_exif_orientation_is_applied(lite0):
    upright, rotated = exif_rotated_pair()
    a, b = decode(upright, max_pixels=MP), decode(rotated, max_pixels=MP)
    assert a.size == b.size
    diff = np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).mean()
    assert diff < 5  # same picture, only JPEG noise apart
    up, rot = lite0.predict([upright, rotated], top_k=1)
    assert up.predictions[0].label == rot.predictions[0].label


def test_16_bit_grayscale_is_scaled_not_clipped(lite0):
    """A 16-bit PNG must look like the photo, not a white sheet."""
    gray = np.asarray(photo("camera"), np.uint16) * 257
    buf = io.BytesIO()
    Image.fromarray(gray).save(buf, "PNG")  # uint16 -> mode I;16
    img = decode(buf.getvalue(), max_pixels=MP)
    np.testing.assert_allclose(np.asarray(img)[..., 0], np.asarray(photo("camera")), atol=1)
    r16, r8 = lite0.predict([buf.getvalue(), real_photo_bytes("camera", "PNG")], top_k=1)
    assert r16.predictions[0].label == r8.predictions[0].label == "tripod"


def test_transparent_areas_become_white():
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    buf = io.BytesIO()
    rgba.save(buf, "PNG")
    assert decode(buf.getvalue(), max_pixels=MP).getpixel((0, 0)) == (255, 255, 255)


def test_pixel_limit_is_read_from_the_header_and_configurable(photos):
    with pytest.raises(ImageTooLarge, match="limit is 0.1 MP"):
        decode(photos["coffee"], max_pixels=100_000)  # coffee is 400x600
    assert decode(photos["coffee"], max_pixels=240_000).size == (600, 400)


def test_huge_declared_size_is_refused_before_decoding():
    with pytest.raises(ImageTooLarge):
        decode(huge_dimensions_png(20_000, 20_000), max_pixels=MP)  # 400 MP declared in a 74-byte file


def test_python_api_accepts_paths_bytes_file_objects_and_pil_images(lite0, photos, photo_dir):
    inputs = [
        photo_dir / "coffee.jpg",
        str(photo_dir / "coffee.jpg"),
        photos["coffee"],
        io.BytesIO(photos["coffee"]),
        Image.open(io.BytesIO(photos["coffee"])),
        photo_dir / "missing.jpg",
    ]
    results = lite0.predict(inputs, top_k=2)
    assert [r.predictions[0].label for r in results[:5]] == ["espresso"] * 5
    assert results[5].error.code == "file_not_found"
    assert results[0].source.endswith("coffee.jpg")


def test_single_input_is_accepted_without_a_list(lite0, photos):
    (result,) = lite0.predict(photos["coffee"])
    assert result.predictions[0].label == "espresso"


def test_decoding_in_many_threads_leaves_the_warning_filters_alone(photos):
    """Decodes run in thread pools (CLI, server). `warnings.catch_warnings` swaps the process's
    filter list, so in threads they interleave and leave filters behind (an "error" filter for
    Pillow's bomb warning stuck in place for the whole process). Decoding must not touch them."""
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    from localvision.imaging import decode_picture

    before = list(warnings.filters)
    data = [photos[name] for name in photos] * 40
    with ThreadPoolExecutor(max_workers=8) as pool:
        sizes = list(pool.map(lambda d: decode_picture(d, max_pixels=MP, draft_min_side=384).image.size, data))
    assert len(sizes) == len(data)
    assert warnings.filters == before
