"""HTTP API routes: classify (multipart, ZIP), the classic /predict, health. Every classify route
takes ?model= (one of the served models), ?lang=, ?min_confidence= and ?group=."""

from __future__ import annotations

import time
from typing import Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ...archive import is_zip, read_zip
from ...errors import (
    EmptyFile,
    FileTooLarge,
    InvalidArgument,
    LocalVisionError,
    TooManyFiles,
    UnsupportedFormat,
)
from ...imaging import MB
from ...models.labels import LANGUAGES
from ...report import rows_to_csv
from ...results import Answer
from ...road import Item
from ..guards.gate import user_of
from ..service.state import Service

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


def service(request: Request) -> Service:
    return request.app.state.service


def client_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def language(request: Request, lang: str | None, default: str) -> str:
    """?lang= if given, else the first of the browser's languages that we have, else default."""
    if lang:
        if lang not in LANGUAGES:
            raise InvalidArgument(f"Unknown language {lang!r}; choose {', '.join(LANGUAGES)}.")
        return lang
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag == "*" or not tag:
            continue
        base = tag.split("-")[0]
        if base in LANGUAGES:
            return base
    return default


def answer_for(
    request: Request, svc: Service, model: str | None, top_k: int | None, lang: str | None,
    min_confidence: float | None = None, group: bool | None = None,
) -> Answer:  # fmt: skip
    """What this request asks back, with the server's settings as the defaults."""
    clf = svc.state(model).require()
    s = svc.settings
    return Answer.from_settings(
        s, top_k=min(top_k or s.top_k, clf.spec.num_classes), lang=language(request, lang, s.lang),
        min_confidence=min_confidence, groups=group,
    )  # fmt: skip


async def _read_upload(upload: UploadFile, max_bytes: int) -> Item:
    name = upload.filename or "upload"
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        return Item(name, None, FileTooLarge(f"This file is larger than {max_bytes / MB:g} MB."))
    return Item(name, data)


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
        members = await _zip_members(item.source, svc, svc.settings.max_upload_bytes, f"{item.name}/")
    except LocalVisionError as exc:
        return [Item(item.name, None, exc)]
    return members or [Item(item.name, None, EmptyFile("The ZIP holds no files."))]


def _respond(svc: Service, model, results, started: float, answer: Answer, fmt: str) -> Response:
    rows = [{"filename": r.source, **r.to_dict()} for r in results]
    if fmt == "csv":
        text = rows_to_csv(rows, lead=("filename",), k=answer.top_k, lang=answer.lang)
        return Response(text, media_type="text/csv; charset=utf-8")
    return JSONResponse(
        {
            "model": svc.state(model).require().name,
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
):
    """Classify one or more images. One bad image fails only its own row."""
    started = time.perf_counter()
    svc = service(request)
    answer = answer_for(request, svc, model, top_k, lang, min_confidence, group)
    items = []
    for upload in file:
        items += await _expand(await _read_upload(upload, svc.settings.max_upload_bytes), svc)
    results = await svc.recognize(items, answer, client_of(request), user_of(request), model)
    return _respond(svc, model, results, started, answer, format)


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
):
    """Classify every image in a ZIP, read in memory, in chunks of the batch size (up to
    max_zip_members images). Non-images become error rows."""
    started = time.perf_counter()
    svc = service(request)
    answer = answer_for(request, svc, model, top_k, lang, min_confidence, group)
    s = svc.settings
    limit = int(s.max_zip_mb * MB)
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(f"The ZIP is larger than {s.max_zip_mb:g} MB.")
    members = await _zip_members(data, svc, limit)
    if not members:
        raise EmptyFile("The ZIP holds no files.")
    results = await svc.recognize(members, answer, client_of(request), user_of(request), model)
    return _respond(svc, model, results, started, answer, format)


@router.post("/predict", tags=["classic"])
async def predict(
    request: Request,
    file: UploadFile = File(..., description="One image."),
    lang: str | None = LangQ,
):
    """The classic recipe's endpoint, on the default model: the top 3 as a JSON array,
    `confidence` in percent. One image per request: several are refused (400
    `too_many_files`) rather than answered for the last one only; /api/v1/classify takes
    several."""
    svc = service(request)
    answer = answer_for(request, svc, None, 3, lang)
    if len((await request.form()).getlist("file")) > 1:
        raise TooManyFiles(
            "/predict classifies one image per request; send several to /api/v1/classify "
            "(one row each) or a ZIP to /api/v1/classify/zip."
        )
    upload = await _read_upload(file, svc.settings.max_upload_bytes)
    if is_zip(upload.source):
        raise UnsupportedFormat(
            "This is a ZIP archive; /predict classifies one image. Send ZIPs to "
            "/api/v1/classify/zip or /api/v1/classify."
        )
    (result,) = await svc.recognize([upload], answer, client_of(request), user_of(request))
    if result.error:
        raise result.error
    return [
        {**p.to_dict(), "confidence": round(p.probability * 100, 2)} for p in result.predictions
    ]


@router.get("/healthz", tags=["health"])
async def healthz():
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", tags=["health"])
async def readyz(request: Request):
    """200 when the model is loaded and the history database answers; 503 with the reason
    otherwise."""
    svc = service(request)
    state = svc.model
    why = svc.not_ready()
    if why is None:
        served = {name: st.status for name, st in svc.models.items()}
        return {"status": "ready", "model": state.classifier.name, "models": served}
    reason, hint = why
    body = {"status": "not_ready", "reason": reason, "hint": hint}
    return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})
