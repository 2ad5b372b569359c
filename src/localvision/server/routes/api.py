"""HTTP API routes: classify (multipart, ZIP), the classic /predict, health. Every classify route
takes ?model= (one of the served models), ?lang=, ?min_confidence=, ?group= and ?text=, read by
the request kit (server/request.py); results as CSV are made in routes/results_csv.py."""

from __future__ import annotations

import time
from typing import Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ...archive import is_zip, read_zip
from ...errors import EmptyFile, LocalVisionError
from ...imaging import MB
from ...road import Item
from .. import request as kit
from ..request import Ask
from ..service.state import Service
from .results_csv import csv_response

router = APIRouter()

TopK = Query(None, ge=1, description="How many labels per image (default: the server's top_k).")
Fmt = Query("json", description="json, or csv for one row per image.")
ModelQ = Query(None, description="Which served model answers (default: the first one served).")
LangQ = Query(
    None, description="Language of the labels: en or zh (default: the Accept-Language header, "
    "else the server's lang).",
)  # fmt: skip
FloorQ = Query(
    None, ge=0, le=1, description="Mark an answer uncertain below this top probability "
    "(default: the server's min_confidence).",
)  # fmt: skip
GroupQ = Query(None, description="Add the common groups (dog, bird, ...) with their summed "
               "probability.")  # fmt: skip
TextQ = Query(None, description="Also read the text in each photo (Chinese and English): "
              "`text`, its lines in reading order, each with its confidence and box.")  # fmt: skip
CLASSIC_TOP_K = 3  # what the classic recipe's /predict answers


async def _zip_members(data: bytes, svc: Service, limit: int, prefix: str = "") -> list[Item]:
    """A ZIP's members as items (named `prefix` + member name); raises for a ZIP that cannot be
    read as a whole."""
    s = svc.settings
    members = await run_in_threadpool(
        read_zip, data, max_members=s.max_zip_members, max_total_bytes=limit,
        max_member_bytes=s.max_upload_bytes,
    )  # fmt: skip
    return [Item(prefix + m.name, m.data, m.error) for m in members]


async def _expand(item: Item, svc: Service) -> list[Item]:
    """An uploaded file, or the members of an uploaded ZIP (recognised by its content, whatever
    its name): a ZIP sent to /api/v1/classify is classified member by member, named
    `archive.zip/member.jpg`. A ZIP that cannot be read fails only its own row."""
    if item.error is not None or not is_zip(item.source):
        return [item]
    try:
        limit = svc.settings.max_upload_bytes
        members = await _zip_members(item.source, svc, limit, f"{item.name}/")
    except LocalVisionError as exc:
        return [Item(item.name, None, exc)]
    return members or [Item(item.name, None, EmptyFile("The ZIP holds no files."))]


def _respond(ask: Ask, results, started: float, fmt: str) -> Response:
    rows = [{"filename": r.source, **r.to_dict()} for r in results]
    answer = ask.answer
    if fmt == "csv":
        return csv_response(rows, k=answer.top_k, lang=answer.lang)
    return JSONResponse(
        {
            "model": ask.state.require().name,
            "lang": answer.lang,
            "results": rows,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 2),
        }
    )


@router.post("/api/v1/classify", tags=["classify"])
async def classify(
    request: Request,
    file: list[UploadFile] = File(..., description="One or more images (parts named `file`)."),
    top_k: int | None = TopK,
    format: Literal["json", "csv"] = Fmt,
    model: str | None = ModelQ,
    lang: str | None = LangQ,
    min_confidence: float | None = FloorQ,
    group: bool | None = GroupQ,
    text: bool | None = TextQ,
):
    """Classify one or more images. One bad image fails only its own row."""
    started = time.perf_counter()
    ask = kit.ask(request, model, top_k=top_k, lang=lang, min_confidence=min_confidence,
                  groups=group, text=text)  # fmt: skip
    svc = ask.service
    items = []
    for upload in file:
        items += await _expand(await kit.upload_item(upload, svc.settings.max_upload_bytes), svc)
    return _respond(ask, await ask.recognize(items), started, format)


@router.post("/api/v1/classify/zip", tags=["classify"])
async def classify_zip(
    request: Request,
    file: UploadFile = File(..., description="A ZIP of images."),
    top_k: int | None = TopK,
    format: Literal["json", "csv"] = Fmt,
    model: str | None = ModelQ,
    lang: str | None = LangQ,
    min_confidence: float | None = FloorQ,
    group: bool | None = GroupQ,
    text: bool | None = TextQ,
):
    """Classify every image in a ZIP, read in memory, in chunks of the batch size (up to
    max_zip_members images). Non-images become error rows."""
    started = time.perf_counter()
    ask = kit.ask(request, model, top_k=top_k, lang=lang, min_confidence=min_confidence,
                  groups=group, text=text)  # fmt: skip
    limit = int(ask.service.settings.max_zip_mb * MB)
    data = await kit.read_upload(file, limit, "The ZIP")
    members = await _zip_members(data, ask.service, limit)
    if not members:
        raise EmptyFile("The ZIP holds no files.")
    return _respond(ask, await ask.recognize(members), started, format)


@router.post("/predict", tags=["classic"])
async def predict(
    request: Request,
    file: UploadFile = File(..., description="One image."),
    lang: str | None = LangQ,
    text: bool | None = TextQ,
):
    """The classic recipe's endpoint, on the default model: the top 3 as a JSON array,
    `confidence` in percent. One image per request: several are refused (400
    `too_many_files`) rather than answered for the last one only; /api/v1/classify takes
    several. With ?text=true the answer is an object: that array as `predictions`, and
    `text`."""
    ask = kit.ask(request, top_k=CLASSIC_TOP_K, lang=lang, text=text)
    kit.one_file(len((await request.form()).getlist("file")), "/predict")
    upload = await kit.upload_item(file, ask.service.settings.max_upload_bytes)
    kit.one_image(upload.source, "/predict")
    (result,) = await ask.recognize([upload])
    if result.error:
        raise result.error
    predictions = [
        {**p.to_dict(), "confidence": round(p.probability * 100, 2)} for p in result.predictions
    ]
    if result.text is None:
        return predictions
    return {"predictions": predictions, "text": [line.to_dict() for line in result.text]}


@router.get("/healthz", tags=["health"])
async def healthz():
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", tags=["health"])
async def readyz(request: Request):
    """200 when the model is loaded and the history database answers; 503 with the reason
    otherwise."""
    svc = kit.service(request)
    state = svc.model
    why = svc.not_ready()
    if why is None:
        served = {name: st.status for name, st in svc.models.items()}
        return {"status": "ready", "model": state.classifier.name, "models": served}
    reason, hint = why
    body = {"status": "not_ready", "reason": reason, "hint": hint}
    return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})
