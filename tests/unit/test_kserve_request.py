"""The KServe v2 request reader (server/routes/kserve_request.py) without a server: the structure
check that refuses expensive JSON before it is parsed, exact about strings and escapes, and the
type check of each part. The same requests over HTTP are in test_protocols.py."""

from __future__ import annotations

import base64
import json

import pytest

from localvision.errors import InvalidRequest
from localvision.server.guards.jsonshape import SLICE, check_structure
from localvision.server.routes.kserve_request import (
    MAX_DEPTH,
    Wanted,
    element_count,
    header_length_of,
    json_elements,
    max_values,
    parse_request,
    wanted_of,
)  # fmt: skip


def a_request(n: int, rows: bool = False, **extra) -> bytes:
    """What tritonclient sends for n images in JSON (shape [n], or [n, 1] as rows of one)."""
    data = [base64.b64encode(b"image %d" % i).decode() for i in range(n)]
    tensor = {"name": "IMAGE", "datatype": "BYTES", "shape": [n, 1] if rows else [n],
              "data": [[d] for d in data] if rows else data}  # fmt: skip
    outputs = [{"name": "PROBABILITIES", "parameters": {"classification": 5, "binary_data": True}}]
    return json.dumps({"id": "r1", "inputs": [tensor], "outputs": outputs,
                       "parameters": {"lang": "zh", "binary_data_output": False}, **extra}).encode()  # fmt: skip


@pytest.mark.parametrize("rows", [False, True], ids=["[N]", "[N, 1]"])
def test_the_largest_valid_request_passes_the_structure_check(rows):
    req = parse_request(a_request(64, rows), None, 64)
    assert req.images == [b"image %d" % i for i in range(64)]
    assert req.wanted == Wanted(classification=5, binary=True)
    assert (req.lang, req.id) == ("zh", "r1")


def test_one_value_or_level_too_many_is_refused():
    body = b'{"a": [[1, 2], {"b": [3]}]}'  # 1 + 3 commas + 4 containers = 8; 4 levels
    check_structure(body, 8, 4)
    with pytest.raises(InvalidRequest, match="more than 7 values"):
        check_structure(body, 7, 4)
    with pytest.raises(InvalidRequest, match="deeper than 3 levels"):
        check_structure(body, 8, 3)


@pytest.mark.parametrize("text", [
    '[[[[[[[[[[[[[[[[[[[[', ']]]]]]]]', ',,,,,,,,,,', '\\"[[[[[[[[[[[[', '\\\\\\"{{{{{{{{{{{{',
])  # fmt: skip
def test_brackets_quotes_and_backslashes_inside_strings_are_not_structure(text):
    body = json.dumps({"id": text, "inputs": [{"data": [[text] * 3]}]}).encode()
    check_structure(body, 20, 5)  # { "inputs": [ { "data": [ [  : 5 levels
    assert json.loads(body)["id"] == text


def test_a_run_of_backslashes_longer_than_a_slice_is_counted_whole():
    run = "\\" * (SLICE + 1)  # odd, then a quote: escaped, so the string goes on
    body = json.dumps({"id": run + '"' + "[" * 50, "inputs": []}).encode()
    check_structure(body, 10, 2)  # { "inputs": [ : 2 levels


@pytest.mark.parametrize("body, words", [
    (b"[" * 100_000, "more than"),
    (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "deeper than"),
    (b"[" + b"[]," * 2_000_000 + b"[]]", "more than"),
    (b"[" + b'"",' * 2_000_000 + b'""]', "more than"),
    (b'{"inputs": ' + b"9" * 5000 + b"}", "too large"),
    (b"\xff\xfe[\x00]\x00", "not UTF-8"),
])  # fmt: skip
def test_json_no_request_has_is_refused_before_it_is_built(body, words):
    with pytest.raises(InvalidRequest, match=words):
        parse_request(body, None, 64)


def test_the_bound_grows_with_the_images_a_request_may_carry():
    assert max_values(64) > 3 * 64 + 100
    with pytest.raises(InvalidRequest, match="more than"):
        parse_request(a_request(600, rows=True), None, 600 // 8)


@pytest.mark.parametrize("value, n", [
    (None, None), ("12", 12), (" 12 ", 12), ("+5", -1), ("1_0", -1), ("1e3", -1), ("", -1),
    ("9" * 5000, -1), ("٣", -1),
])  # fmt: skip
def test_header_length_is_digits_only(value, n):
    assert header_length_of(value) == n


@pytest.mark.parametrize("shape, n", [([3], 3), ([3, 1], 3), ([0], 0)])
def test_element_count(shape, n):
    assert element_count(shape) == n


@pytest.mark.parametrize("shape", [[3, 2], [True], [1.0], "3", {"n": 3}, [], [1, 1, 1], [-1]])
def test_a_shape_no_image_batch_has_is_refused(shape):
    with pytest.raises(InvalidRequest, match="IMAGE has shape"):
        element_count(shape)


def test_json_elements_take_flat_strings_or_rows_of_one_and_nothing_deeper():
    s = base64.b64encode(b"x").decode()
    assert json_elements([s, s], 2) == [b"x", b"x"] == json_elements([[s], [s]], 2)
    deep = [s]
    for _ in range(900):
        deep = [deep]
    for data, words in [([deep], "IMAGE\\[0\\] is not a base64"), ([[s, s]], "IMAGE\\[0\\]"),
                        ({"0": s}, "must be an array"), ([s], "shape \\[2\\] but 1")]:  # fmt: skip
        with pytest.raises(InvalidRequest, match=words):
            json_elements(data, 2 if words.startswith("shape") else 1)


@pytest.mark.parametrize("doc, words", [
    ({"outputs": {"name": "PROBABILITIES"}}, "`outputs` must be an array"),
    ({"outputs": [1]}, "outputs\\[0\\] must be an object"),
    ({"outputs": [{"name": "PROBABILITIES", "parameters": [1]}]}, "`parameters` of output"),
    ({"outputs": [{"name": "PROBABILITIES", "parameters": {"classification": 0}}]}, "≥ 1"),
    ({"outputs": [{"name": "PROBABILITIES", "parameters": {"binary_data": 1}}]}, "true or false"),
    ({"outputs": [{"name": ["PROBABILITIES"]}]}, "Unknown output"),
])  # fmt: skip
def test_wanted_outputs_are_checked_step_by_step(doc, words):
    with pytest.raises(InvalidRequest, match=words):
        wanted_of(doc, {})


def test_wanted_defaults_and_per_output_binary():
    assert wanted_of({}, {}) == Wanted(None, False)
    assert wanted_of({"outputs": None}, {"binary_data_output": True}) == Wanted(None, True)
    doc = {"outputs": [{"name": "PROBABILITIES", "parameters": {"binary_data": False}}]}
    assert wanted_of(doc, {"binary_data_output": True}) == Wanted(None, False)
