"""The KServe v2 / Open Inference Protocol over REST (what Triton, KServe and OpenVINO Model
Server speak, and what `tritonclient[http]` sends), as a thin shell on the service's road.

One input, `IMAGE`: a BYTES tensor of shape [N] (or [N, 1]) whose elements are encoded images.
- Binary tensor data extension: the body is a JSON header of `Inference-Header-Content-Length`
  bytes, then the tensors' bytes. A BYTES tensor's elements each carry a 4-byte little-endian
  length (what tritonclient sends); OpenVINO Model Server also documents one image without the
  length prefix: both are accepted.
- JSON: the protocol carries BYTES in JSON as UTF-8 strings, which raw image bytes are not; so
  in JSON each element is the image base64-encoded (the model metadata says so).

Outputs: `PROBABILITIES` (FP32 [N, classes], class-index order), or with the classification
extension (`"parameters": {"classification": K}`) a BYTES [N, K] tensor of "score:index:label"
strings, most probable first; binary or JSON as the request asks (`binary_data` per output, or
`binary_data_output` for all). Labels in the request's `lang` parameter, else Accept-Language,
else the server's language.

The protocol has no per-row errors: one bad image fails the request, with a message naming the
element. Errors are rendered in the protocol's shape by server/dialects.py.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import struct
from dataclasses import dataclass

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .. import __version__
from ..errors import (
    FileTooLarge, InvalidRequest, LocalVisionError, NotFound, UnsupportedEncoding,
)  # fmt: skip
from ..results import Answer
from ..road import Item
from .api import client_of, language, service
from .gate import user_of
from .state import ModelState

router = APIRouter(prefix="/v2", tags=["kserve v2"])

INPUT = "IMAGE"
OUTPUT = "PROBABILITIES"
VERSION = "1"  # a served model has one version
HEADER_LENGTH = "inference-header-content-length"
EXTENSIONS = ["binary_tensor_data", "classification"]
JSON_NOTE = (
    "IMAGE elements are encoded images (JPEG, PNG, ...): raw bytes with the binary tensor data "
    "extension, or base64 strings in a JSON body (JSON carries BYTES as UTF-8 strings)."
)


def _served(request: Request, name: str, version: str | None = None) -> ModelState:
    state = service(request).state(name)
    if version is not None and version != VERSION:
        raise NotFound(f"Model {name!r} has no version {version!r}; its only version is {VERSION}.")
    return state


# --- health and metadata ----------------------------------------------------------------------
@router.get("")
async def server_metadata():
    return {"name": "localvision", "version": __version__, "extensions": EXTENSIONS}


@router.get("/health/live")
async def live():
    return {"live": True}


@router.get("/health/ready")
async def ready(request: Request):
    """200 when the default model answers; else 503 (4xx/5xx both read as "not ready")."""
    why = service(request).not_ready()
    if why is None:
        return {"ready": True}
    return JSONResponse({"ready": False, "error": why[0]}, status_code=503)


def _metadata(state: ModelState) -> dict:
    clf = state.require()
    return {
        "name": state.name,
        "versions": [VERSION],
        "platform": f"localvision_{clf.backend.name}",
        "inputs": [{"name": INPUT, "datatype": "BYTES", "shape": [-1]}],
        "outputs": [{"name": OUTPUT, "datatype": "FP32", "shape": [-1, clf.spec.num_classes]}],
        "parameters": {
            "precision": clf.backend.precision,
            "languages": list(clf.spec.languages),
            "input_note": JSON_NOTE,
        },
    }


@router.get("/models/{name}")
@router.get("/models/{name}/versions/{version}")
async def model_metadata(request: Request, name: str, version: str | None = None):
    return _metadata(_served(request, name, version))


@router.get("/models/{name}/ready")
@router.get("/models/{name}/versions/{version}/ready")
async def model_ready(request: Request, name: str, version: str | None = None):
    """200 when the model answers; 503 with the reason while it loads, failed or is unloaded."""
    state = _served(request, name, version)
    if state.status == "ready":
        return {"name": name, "ready": True}
    reason = state.reason or f"the model is {state.status}"
    return JSONResponse({"name": name, "ready": False, "error": reason}, status_code=503)


# --- the request ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Wanted:
    """What the request asks back: classification top-K (None: the probabilities), binary or not."""

    classification: int | None
    binary: bool


def _parse_body(body: bytes, header_length: str | None) -> tuple[dict, bytes]:
    """The JSON header and the binary tail (empty without the extension)."""
    if header_length is not None:
        try:
            n = int(header_length)
        except ValueError:
            n = -1
        if not 0 <= n <= len(body):
            raise InvalidRequest(
                f"Inference-Header-Content-Length is {header_length!r}, but the body has "
                f"{len(body)} bytes."
            )
        head, tail = body[:n], body[n:]
    else:
        head, tail = body, b""
    try:
        doc = json.loads(head)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequest(f"The request's JSON cannot be read: {exc}.") from None
    if not isinstance(doc, dict):
        raise InvalidRequest("The request's JSON must be an object with an `inputs` list.")
    return doc, tail


def _elements(shape: list[int]) -> int:
    if not shape or len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
        raise InvalidRequest(f"{INPUT} has shape {shape}; send [N] (or [N, 1]) encoded images.")
    if not all(isinstance(d, int) and d >= 0 for d in shape):
        raise InvalidRequest(f"{INPUT} has shape {shape}; dimensions must be whole numbers.")
    return shape[0]


def _split_prefixed(data: bytes, n: int) -> list[bytes] | None:
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


def _binary_elements(spec: dict, tail: bytes, at: int, n: int) -> tuple[list[bytes], int]:
    size = (spec.get("parameters") or {}).get("binary_data_size")
    if not isinstance(size, int) or size < 0 or at + size > len(tail):
        raise InvalidRequest(
            f"{INPUT}'s binary_data_size is {size!r}, but {len(tail) - at} bytes of binary data "
            "follow the JSON header."
        )
    data = tail[at : at + size]
    elements = _split_prefixed(data, n)
    if elements is None and n == 1:
        elements = [data]  # OpenVINO Model Server's form: one image, no length prefix
    if elements is None:
        raise InvalidRequest(
            f"{INPUT}'s binary data is not {n} elements each framed by a 4-byte little-endian "
            "length (the binary tensor data extension's BYTES layout)."
        )
    return elements, at + size


def _flatten(data) -> list:
    if isinstance(data, list):
        return [x for d in data for x in _flatten(d)]
    return [data]


def _json_elements(spec: dict, n: int) -> list[bytes]:
    values = _flatten(spec.get("data"))
    if len(values) != n:
        raise InvalidRequest(f"{INPUT} has shape [{n}] but {len(values)} data elements.")
    out = []
    for i, v in enumerate(values):
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


def _inputs(doc: dict, tail: bytes, max_images: int) -> list[bytes]:
    inputs = doc.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidRequest(f"The request has no `inputs`; send one BYTES input named {INPUT}.")
    if len(inputs) > 1:
        raise InvalidRequest(f"The request has {len(inputs)} inputs; this model takes one, {INPUT}.")
    images, at = None, 0
    for spec in inputs:
        if not isinstance(spec, dict):
            raise InvalidRequest("Each of `inputs` must be an object.")
        name = spec.get("name")
        binary = "binary_data_size" in (spec.get("parameters") or {})
        if name != INPUT:
            raise InvalidRequest(f"Unknown input {name!r}; this model takes one input, {INPUT}.")
        if spec.get("datatype") != "BYTES":
            raise InvalidRequest(
                f"{INPUT} has datatype {spec.get('datatype')!r}; send BYTES (encoded images)."
            )
        n = _elements(spec.get("shape") or [])
        if n > max_images:
            raise InvalidRequest(f"{n} images in one request; send at most {max_images}.")
        if binary:
            images, at = _binary_elements(spec, tail, at, n)
        else:
            images = _json_elements(spec, n)
    if at != len(tail):
        raise InvalidRequest(f"{len(tail) - at} bytes of binary data follow that no input claims.")
    return images


def _wanted(doc: dict) -> Wanted:
    params = doc.get("parameters") or {}
    binary = bool(params.get("binary_data_output", False))
    classification = None
    for out in doc.get("outputs") or []:
        if not isinstance(out, dict) or out.get("name") != OUTPUT:
            name = out.get("name") if isinstance(out, dict) else out
            raise InvalidRequest(f"Unknown output {name!r}; this model has one output, {OUTPUT}.")
        p = out.get("parameters") or {}
        binary = bool(p.get("binary_data", binary))
        if "classification" in p:
            k = p["classification"]
            if not isinstance(k, int) or isinstance(k, bool) or k < 1:
                raise InvalidRequest(f"classification must be a whole number ≥ 1, not {k!r}.")
            classification = k
    return Wanted(classification, binary)


# --- the answer -------------------------------------------------------------------------------
def _bytes_tensor(strings: list[str]) -> bytes:
    return b"".join(struct.pack("<I", len(b)) + b for b in (s.encode() for s in strings))


def _output(results, wanted: Wanted) -> tuple[dict, bytes]:
    n = len(results)
    if wanted.classification is None:
        array = np.stack([r.probabilities for r in results]).astype("<f4", copy=False)
        out = {"name": OUTPUT, "datatype": "FP32", "shape": list(array.shape)}
        raw = array.tobytes()
        data = lambda: array.ravel().tolist()  # noqa: E731
    else:
        k = len(results[0].predictions)
        strings = [f"{p.probability:f}:{p.index}:{p.label}" for r in results for p in r.predictions]
        out = {"name": OUTPUT, "datatype": "BYTES", "shape": [n, k]}
        raw = _bytes_tensor(strings)
        data = lambda: strings  # noqa: E731
    if wanted.binary:
        out["parameters"] = {"binary_data_size": len(raw)}
        return out, raw
    out["data"] = data()
    return out, b""


@router.post("/models/{name}/infer")
@router.post("/models/{name}/versions/{version}/infer")
async def infer(request: Request, name: str, version: str | None = None):
    svc = service(request)
    state = _served(request, name, version)
    clf = state.require()
    if request.headers.get("content-encoding", "identity").lower() != "identity":
        raise UnsupportedEncoding(
            "Compressed requests are not accepted; send the request uncompressed (tritonclient: "
            "leave request_compression_algorithm unset)."
        )
    doc, tail = _parse_body(await request.body(), request.headers.get(HEADER_LENGTH))
    wanted = _wanted(doc)
    images = _inputs(doc, tail, svc.settings.max_parts)
    limit = svc.settings.max_upload_bytes
    for i, data in enumerate(images):
        if len(data) > limit:
            raise FileTooLarge(f"{INPUT}[{i}] is larger than {svc.settings.max_upload_mb:g} MB.")
    lang = (doc.get("parameters") or {}).get("lang")
    answer = Answer.from_settings(
        svc.settings, lang=language(request, lang, svc.settings.lang),
        top_k=min(wanted.classification or 1, clf.spec.num_classes),
        probabilities=wanted.classification is None,
    )  # fmt: skip
    items = [Item(f"{INPUT}[{i}]", data) for i, data in enumerate(images)]
    results = (
        await svc.recognize(items, answer, client_of(request), user_of(request), name)
        if items else []
    )  # fmt: skip
    for r in results:
        if r.error is not None:
            raise _named(r.error, r.source)
    head = {"model_name": state.name, "model_version": VERSION}
    if "id" in doc:
        head["id"] = doc["id"]
    if not results:
        head["outputs"] = []
        return JSONResponse(head)
    out, raw = _output(results, wanted)
    head["outputs"] = [out]
    if not raw:
        return JSONResponse(head)
    header = json.dumps(head, separators=(",", ":")).encode()
    return Response(
        header + raw,
        media_type="application/octet-stream",
        headers={"Inference-Header-Content-Length": str(len(header))},
    )


def _named(error: LocalVisionError, source: str) -> LocalVisionError:
    """The row's error, its message naming the element (the protocol has no per-row errors)."""
    named = copy.copy(error)
    named.message = f"{source}: {error.message}"
    named.args = (named.message,)
    return named
