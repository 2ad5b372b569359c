"""A KServe v2 `infer` request read into what it asks, with bounded work and a type check at
each step: `parse_request(body, header_length, max_images)` -> `InferRequest`, or an
`InvalidRequest` whose sentence names the part that is wrong. Pure (no server, no event loop):
the route runs it in a worker thread, and tests call each part directly.

The JSON is checked before it is parsed (server/guards/jsonshape.py: a body of tiny values
costs far more to parse than its size). A valid request has a few values per image and nests
five deep, so `load_json` refuses one with more values or deeper nesting than any request has,
before anything is built.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from dataclasses import dataclass

from ...errors import InvalidRequest
from ..guards.jsonshape import check_structure

INPUT = "IMAGE"
OUTPUT = "PROBABILITIES"
TEXT_OUTPUT = "TEXT"  # the text read in each image (routes/kserve.py says how it is encoded)
HEADER_LENGTH = "inference-header-content-length"

# A valid request nests 5 deep ({"inputs": [{"data": [["..."]]}]}); room for clients' extras.
MAX_DEPTH = 10
# Values (each array, object, member and element) a valid request has: about 3 per image
# ([N, 1] data: the row, its string and a comma), plus a few dozen for names, shape, outputs
# and parameters. Both terms are generous; the bound is about 1,000 at max_parts = 64.
VALUES_PER_IMAGE = 8
VALUES_BASE = 512
# What the structure check's refusals add (guards/jsonshape.py): what a request looks like.
ADVICE = {
    "values": "an inference request has a few per image. Send each image as one base64 string "
    "in IMAGE's `data`.",
    "depth": 'an inference request nests five: {"inputs": [{"data": [["<base64>"]]}]}.',
}


@dataclass(frozen=True)
class Wanted:
    """What the request asks back. PROBABILITIES (unless only TEXT is named): classification
    top-K (None: the probabilities), binary or not. TEXT when named: `text` says binary or not
    (None: not asked, and no text is read)."""

    classification: int | None
    binary: bool
    text: bool | None = None
    probabilities: bool = True


@dataclass(frozen=True)
class InferRequest:
    images: list[bytes]  # the IMAGE elements, encoded images
    wanted: Wanted
    lang: str | None  # the request parameter `lang`
    id: str | None  # echoed in the answer


def parse_request(body: bytes, header_length: str | None, max_images: int) -> InferRequest:
    head, tail = split_body(body, header_length)
    doc = _object(load_json(head, max_values(max_images)), "The request's JSON")
    params = parameters_of(doc, "the request")
    return InferRequest(
        images=images_of(doc, tail, max_images),
        wanted=wanted_of(doc, params),
        lang=_optional_string(params.get("lang"), "The request parameter `lang`"),
        id=_optional_string(doc.get("id"), "The request's `id`"),
    )


def max_values(max_images: int) -> int:
    return VALUES_PER_IMAGE * max_images + VALUES_BASE


# --- the body ---------------------------------------------------------------------------------
def header_length_of(value: str | None) -> int | None:
    """Inference-Header-Content-Length as a byte count; None when absent; -1 when not one."""
    if value is None:
        return None
    value = value.strip()
    # digits only (int() would also take "+5", "1_0", and raise past 4,300 digits)
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else -1


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """The JSON header and the binary tail (empty without the binary tensor data extension)."""
    n = header_length_of(header_length)
    if n is None:
        return body, b""
    if not 0 <= n <= len(body):
        raise InvalidRequest(
            f"Inference-Header-Content-Length is {header_length!r}, but the body has "
            f"{len(body)} bytes."
        )
    return body[:n], body[n:]


def load_json(data: bytes, most_values: int, max_depth: int = MAX_DEPTH):
    """The parsed JSON, once its structure is known to be a request's size (see the module)."""
    check_structure(data, most_values, max_depth, what="The request's JSON", advice=ADVICE)
    try:  # RFC 8259's encoding, whose multi-byte characters never hold an ASCII byte: so the
        text = data.decode("utf-8")  # scan above saw exactly the JSON's structure
    except UnicodeDecodeError:
        raise InvalidRequest("The request's JSON cannot be read: it is not UTF-8 text.") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"The request's JSON cannot be read: {exc}.") from None
    except (ValueError, RecursionError):  # a number past int's digit limit; (depth: a backstop)
        raise InvalidRequest(
            "The request's JSON cannot be read: a value in it is too large."
        ) from None


# --- types, one step at a time ----------------------------------------------------------------
def _kind(value) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _object(value, what: str) -> dict:
    if not isinstance(value, dict):
        raise InvalidRequest(f"{what} must be an object, not {_kind(value)}.")
    return value


def _list(value, what: str) -> list:
    if not isinstance(value, list):
        raise InvalidRequest(f"{what} must be an array, not {_kind(value)}.")
    return value


def _optional_string(value, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"{what} must be a string, not {_kind(value)}.")
    return value


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parameters_of(obj: dict, owner: str) -> dict:
    """`obj`'s `parameters`: an object (absent or null: none). Only the parameters this service
    reads are checked further; others are ignored, whatever their type."""
    params = obj.get("parameters")
    return {} if params is None else _object(params, f"The `parameters` of {owner}")


def flag(params: dict, name: str, default: bool) -> bool:
    value = params.get(name, default)
    if not isinstance(value, bool):
        raise InvalidRequest(f"The parameter {name} must be true or false, not {value!r}.")
    return value


# --- what it asks back ------------------------------------------------------------------------
def wanted_of(doc: dict, params: dict) -> Wanted:
    """The outputs asked for: those `outputs` names (each binary or not by its own
    `binary_data`, else the request's `binary_data_output`); none named: PROBABILITIES."""
    every = flag(params, "binary_data_output", False)
    outputs = _list([] if doc.get("outputs") is None else doc["outputs"], "`outputs`")
    if not outputs:
        return Wanted(None, every)
    classification, binary, text, probabilities = None, every, None, False
    for i, out in enumerate(outputs):
        out = _object(out, f"outputs[{i}]")
        name = out.get("name")
        if name not in (OUTPUT, TEXT_OUTPUT):
            raise InvalidRequest(
                f"Unknown output {name!r}; this model has the outputs {OUTPUT} and {TEXT_OUTPUT}."
            )
        p = parameters_of(out, f"output {name}")
        if name == TEXT_OUTPUT:
            text = flag(p, "binary_data", every)
            continue
        probabilities, binary = True, flag(p, "binary_data", every)
        if "classification" in p:
            k = p["classification"]
            if not _whole(k) or k < 1:
                raise InvalidRequest(f"classification must be a whole number ≥ 1, not {k!r}.")
            classification = k
    return Wanted(classification, binary, text, probabilities)


# --- the images -------------------------------------------------------------------------------
def images_of(doc: dict, tail: bytes, max_images: int) -> list[bytes]:
    inputs = doc.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidRequest(f"The request has no `inputs`; send one BYTES input named {INPUT}.")
    if len(inputs) > 1:
        raise InvalidRequest(
            f"The request has {len(inputs)} inputs; this model takes one, {INPUT}."
        )
    spec = _object(inputs[0], "inputs[0]")
    name = spec.get("name")
    if name != INPUT:
        raise InvalidRequest(f"Unknown input {name!r}; this model takes one input, {INPUT}.")
    if spec.get("datatype") != "BYTES":
        raise InvalidRequest(
            f"{INPUT} has datatype {spec.get('datatype')!r}; send BYTES (encoded images)."
        )
    n = element_count(spec.get("shape"))
    if n > max_images:
        raise InvalidRequest(f"{n} images in one request; send at most {max_images}.")
    params = parameters_of(spec, f"input {INPUT}")
    if "binary_data_size" in params:
        images, used = binary_elements(params["binary_data_size"], tail, n)
    else:
        images, used = json_elements(spec.get("data"), n), 0
    if used != len(tail):
        unclaimed = len(tail) - used
        raise InvalidRequest(f"{unclaimed} bytes of binary data follow that no input claims.")
    return images


def element_count(shape) -> int:
    """N, from a shape of [N] or [N, 1]."""
    if not isinstance(shape, list) or not shape or len(shape) > 2:
        raise InvalidRequest(f"{INPUT} has shape {shape!r}; send [N] (or [N, 1]) encoded images.")
    if not all(_whole(d) and d >= 0 for d in shape):
        raise InvalidRequest(f"{INPUT} has shape {shape}; dimensions must be whole numbers.")
    if len(shape) == 2 and shape[1] != 1:
        raise InvalidRequest(f"{INPUT} has shape {shape}; send [N] (or [N, 1]) encoded images.")
    return shape[0]


def json_elements(data, n: int) -> list[bytes]:
    """The images of a JSON `data`: N base64 strings, flat or as N rows of one ([N, 1])."""
    rows = _list(data, f"{INPUT}'s `data`")
    if len(rows) != n:
        raise InvalidRequest(f"{INPUT} has shape [{n}] but {len(rows)} data elements.")
    out = []
    for i, v in enumerate(rows):
        if isinstance(v, list) and len(v) == 1:
            v = v[0]  # the row of an [N, 1] tensor
        try:
            if not isinstance(v, str):
                raise ValueError
            out.append(base64.b64decode(v, validate=True))
        except (ValueError, binascii.Error):
            raise InvalidRequest(
                f"{INPUT}[{i}] is not a base64 string. The protocol's JSON carries BYTES as "
                "UTF-8 strings, which image bytes are not: base64-encode each image, or send "
                "it as binary data (Inference-Header-Content-Length)."
            ) from None
    return out


def binary_elements(size, tail: bytes, n: int) -> tuple[list[bytes], int]:
    """The images of a binary tensor of `size` bytes at the start of `tail`, and bytes used."""
    if not _whole(size) or size < 0 or size > len(tail):
        raise InvalidRequest(
            f"{INPUT}'s binary_data_size is {size!r}, but {len(tail)} bytes of binary data "
            "follow the JSON header."
        )
    data = tail[:size]
    elements = split_prefixed(data, n)
    if elements is None and n == 1:
        elements = [data]  # OpenVINO Model Server's form: one image, no length prefix
    if elements is None:
        raise InvalidRequest(
            f"{INPUT}'s binary data is not {n} elements each framed by a 4-byte little-endian "
            "length (the binary tensor data extension's BYTES layout)."
        )
    return elements, size


def split_prefixed(data: bytes, n: int) -> list[bytes] | None:
    """Elements framed by 4-byte little-endian lengths, if `data` is exactly n of them."""
    out, at = [], 0
    while at < len(data) and len(out) < n:
        if at + 4 > len(data):
            return None
        (size,) = struct.unpack_from("<I", data, at)
        at += 4
        if at + size > len(data):
            return None
        out.append(data[at : at + size])
        at += size
    return out if len(out) == n and at == len(data) else None
