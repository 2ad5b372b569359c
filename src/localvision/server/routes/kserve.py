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

`TEXT`, when the request names it in `outputs` (alone, or beside PROBABILITIES): the text read
in each image, a BYTES tensor of shape [N] whose element i is a JSON array (UTF-8) of image i's
lines in reading order, each {"text", "confidence", "box": four [x, y] points in the image's
pixels}, `[]` when it has none: what /api/v1/classify?text=true answers as `text`. One JSON
string per image rather than an [N, max_lines] string tensor: the boxes and confidences travel
with the lines, and an image without text needs no padding. An installation without the text
reader answers 501 `text_reading_unavailable`, and its model metadata lists no TEXT.

The request is read and checked in routes/kserve_request.py (off the event loop); a JSON body,
or a binary request's JSON header, is held to max_json_mb as it arrives (server/guards/body.py).
The protocol has no per-row errors: one bad image fails the request, with a message naming the
element. Errors are rendered in the protocol's shape by server/guards/dialects.py.
"""

from __future__ import annotations

import copy
import json
import struct

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ... import __version__
from ...errors import LocalVisionError, NotFound, UnsupportedEncoding
from ...road import Item
from ...text.reader import require_reader
from .. import request as kit
from ..service.state import ModelState
from .kserve_request import HEADER_LENGTH, INPUT, OUTPUT, TEXT_OUTPUT, Wanted, parse_request

router = APIRouter(prefix="/v2", tags=["kserve v2"])

VERSION = "1"  # a served model has one version
EXTENSIONS = ["binary_tensor_data", "classification"]
JSON_NOTE = (
    "IMAGE elements are encoded images (JPEG, PNG, ...): raw bytes with the binary tensor data "
    "extension, or base64 strings in a JSON body (JSON carries BYTES as UTF-8 strings)."
)
TEXT_NOTE = (
    "TEXT (asked for by name in `outputs`) element i is a JSON array of image i's lines in "
    'reading order: {"text", "confidence", "box": four [x, y] points in pixels}.'
)


def _served(request: Request, name: str, version: str | None = None) -> ModelState:
    state = kit.service(request).state(name)
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
    why = kit.service(request).not_ready()
    if why is None:
        return {"ready": True}
    return JSONResponse({"ready": False, "error": why[0]}, status_code=503)


def can_read_text() -> bool:
    """Whether this installation has the text reader (the TEXT output)."""
    try:
        require_reader()
    except LocalVisionError:
        return False
    return True


def _metadata(state: ModelState) -> dict:
    clf = state.require()
    outputs = [{"name": OUTPUT, "datatype": "FP32", "shape": [-1, clf.spec.num_classes]}]
    notes = {"input_note": JSON_NOTE}
    if can_read_text():
        outputs.append({"name": TEXT_OUTPUT, "datatype": "BYTES", "shape": [-1]})
        notes["text_note"] = TEXT_NOTE
    return {
        "name": state.name,
        "versions": [VERSION],
        "platform": f"localvision_{clf.backend.name}",
        "inputs": [{"name": INPUT, "datatype": "BYTES", "shape": [-1]}],
        "outputs": outputs,
        "parameters": {
            "precision": clf.backend.precision,
            "languages": list(clf.spec.languages),
            **notes,
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


# --- the answer -------------------------------------------------------------------------------
def _bytes_tensor(strings: list[str]) -> bytes:
    return b"".join(struct.pack("<I", len(b)) + b for b in (s.encode() for s in strings))


def answer_of(wanted: Wanted) -> dict:
    """What the road is asked for (kit.ask's arguments) for these outputs. Text is read only
    for TEXT, whatever the server's `text` setting (False overrides it), and asking for it
    where the reader is missing is refused by kit.ask before any image is read."""
    return {
        "top_k": wanted.classification or 1,
        "probabilities": wanted.probabilities and wanted.classification is None,
        "text": wanted.text is not None,
    }


def _outputs(results, wanted: Wanted) -> list[tuple[dict, bytes]]:
    """Each output asked for, as (its header, its binary data: b"" when it goes in JSON)."""
    out = [_output(results, wanted)] if wanted.probabilities else []
    if wanted.text is not None:
        out.append(_text_output(results, wanted.text))
    return out


def _text_output(results, binary: bool) -> tuple[dict, bytes]:
    strings = [
        json.dumps([line.to_dict() for line in r.text or ()], ensure_ascii=False,
                   separators=(",", ":"))  # fmt: skip
        for r in results
    ]
    out = {"name": TEXT_OUTPUT, "datatype": "BYTES", "shape": [len(strings)]}
    if binary:
        raw = _bytes_tensor(strings)
        out["parameters"] = {"binary_data_size": len(raw)}
        return out, raw
    out["data"] = strings
    return out, b""


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
    svc = kit.service(request)
    state = _served(request, name, version)
    state.require()
    if request.headers.get("content-encoding", "identity").lower() != "identity":
        raise UnsupportedEncoding(
            "Compressed requests are not accepted; send the request uncompressed (tritonclient: "
            "leave request_compression_algorithm unset)."
        )
    # Off the event loop: parsing and base64 decoding take time in proportion to the body
    # (bounded by max_json_mb, and by the structure check for bodies of tiny values).
    body = await request.body()
    req = await run_in_threadpool(
        parse_request, body, request.headers.get(HEADER_LENGTH), svc.settings.max_parts
    )
    wanted, limit = req.wanted, svc.settings.max_upload_bytes
    items = [
        Item(f"{INPUT}[{i}]", kit.check_size(data, limit, f"{INPUT}[{i}]"))
        for i, data in enumerate(req.images)
    ]
    ask = kit.ask(request, name, lang=req.lang, **answer_of(wanted))
    results = await ask.recognize(items) if items else []
    for r in results:
        if r.error is not None:
            raise _named(r.error, r.source)
    head = {"model_name": state.name, "model_version": VERSION}
    if req.id is not None:
        head["id"] = req.id
    if not results:
        head["outputs"] = []
        return JSONResponse(head)
    outputs = _outputs(results, wanted)
    head["outputs"] = [out for out, _ in outputs]
    raw = b"".join(data for _, data in outputs)  # in the order of the headers, as the
    if not raw:  # binary tensor data extension reads them
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
