"""HTTP API routes: classify (multipart, ZIP), the classic /predict, health, models."""

from __future__ import annotations

import time
from typing import Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ..archive import is_zip, read_zip
from ..errors import EmptyFile, FileTooLarge, LocalVisionError, TooManyFiles, UnsupportedFormat
from ..imaging import MB
from ..report import rows_to_csv
from ..road import Item
from .gate import user_of
from .state import Service

router = APIRouter()

TopK = Query(None, ge=1, description="How many labels per image (default: the server's top_k).")
Fmt = Query("json", description="json, or csv for one row per image.")


def service(request: Request) -> Service:
    return request.app.state.service


def client_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def _k(svc: Service, top_k: int | None) -> int:
    clf = svc.model.require()
    return min(top_k or svc.settings.top_k, clf.spec.num_classes)


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


def _respond(svc: Service, results, started: float, k: int, fmt: str) -> Response:
    rows = [{"filename": r.source, **r.to_dict()} for r in results]
    if fmt == "csv":
        text = rows_to_csv(rows, lead=("filename",), k=k)
        return Response(text, media_type="text/csv; charset=utf-8")
    return JSONResponse(
        {
            "model": svc.model.classifier.name,
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
):
    """Classify one or more images. One bad image fails only its own row."""
    started = time.perf_counter()
    svc = service(request)
    k = _k(svc, top_k)
    items = []
    for upload in file:
        items += await _expand(await _read_upload(upload, svc.settings.max_upload_bytes), svc)
    results = await svc.recognize(items, k, client_of(request), user_of(request))
    return _respond(svc, results, started, k, format)


@router.post("/api/v1/classify/zip", tags=["classify"])
async def classify_zip(
    request: Request,
    file: UploadFile = File(..., description="A ZIP of images."),
    top_k: int | None = TopK,
    format: Literal["json", "csv"] = Fmt,
):
    """Classify every image in a ZIP, read in memory, in chunks of the batch size (up to
    max_zip_members images). Non-images become error rows."""
    started = time.perf_counter()
    svc = service(request)
    k = _k(svc, top_k)
    s = svc.settings
    limit = int(s.max_zip_mb * MB)
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(f"The ZIP is larger than {s.max_zip_mb:g} MB.")
    members = await _zip_members(data, svc, limit)
    if not members:
        raise EmptyFile("The ZIP holds no files.")
    results = await svc.recognize(members, k, client_of(request), user_of(request))
    return _respond(svc, results, started, k, format)


@router.post("/predict", tags=["classic"])
async def predict(request: Request, file: UploadFile = File(..., description="One image.")):
    """The classic recipe's endpoint: the top 3 as a JSON array, `confidence` in percent. One
    image per request: several are refused (400 `too_many_files`) rather than answered for the
    last one only; /api/v1/classify takes several."""
    svc = service(request)
    svc.model.require()
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
    (result,) = await svc.recognize([upload], 3, client_of(request), user_of(request))
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
    """200 when the model is loaded; 503 with the reason otherwise."""
    state = service(request).model
    if state.status == "ready":
        return {"status": "ready", "model": state.classifier.name}
    reason = state.reason or "the model is still loading"
    body = {"status": "not_ready", "reason": reason, "hint": state.hint}
    return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})


@router.get("/api/v1/models", tags=["health"])
async def models(request: Request):
    """The loaded model, its number of labels and where its weights came from."""
    svc = service(request)
    state, s = svc.model, svc.settings
    clf = state.classifier
    return {
        "ready": state.status == "ready",
        "status": state.status,
        "model": clf.info() if clf else None,
        "notice": clf.notice if clf else None,
        "reason": state.reason,
        "hint": state.hint,
        "limits": {
            "max_upload_mb": s.max_upload_mb,
            "max_pixels": s.max_pixels,
            "max_files": s.max_parts,  # per request; the UI sends its photos in chunks of this
            "max_request_mb": s.max_request_mb,
            "max_zip_mb": s.max_zip_mb,
            "max_zip_members": s.max_zip_members,
            "top_k": s.top_k,
        },
    }


