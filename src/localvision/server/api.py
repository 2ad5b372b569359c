"""HTTP API routes: classify (multipart, ZIP), the classic /predict, health, models."""

from __future__ import annotations

import time
from typing import Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ..archive import read_zip
from ..errors import EmptyFile, FileTooLarge
from ..imaging import MB
from ..report import rows_to_csv
from .gate import user_of
from ..road import Item
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
    uploads = [await _read_upload(f, svc.settings.max_upload_bytes) for f in file]
    results = await svc.recognize(uploads, k, client_of(request), user_of(request))
    return _respond(svc, results, started, k, format)


@router.post("/api/v1/classify/zip", tags=["classify"])
async def classify_zip(
    request: Request,
    file: UploadFile = File(..., description="A ZIP of images."),
    top_k: int | None = TopK,
    format: Literal["json", "csv"] = Fmt,
):
    """Classify every image in a ZIP, read in memory. Non-images become error rows."""
    started = time.perf_counter()
    svc = service(request)
    k = _k(svc, top_k)
    s = svc.settings
    limit = int(s.max_zip_mb * 1024 * 1024)
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(f"The ZIP is larger than {s.max_zip_mb:g} MB.")
    members = await run_in_threadpool(
        read_zip, data, max_members=s.max_zip_members, max_total_bytes=limit,
        max_member_bytes=s.max_upload_bytes,
    )  # fmt: skip
    if not members:
        raise EmptyFile("The ZIP holds no files.")
    uploads = [Item(m.name, m.data, m.error) for m in members]
    results = await svc.recognize(uploads, k, client_of(request), user_of(request))
    return _respond(svc, results, started, k, format)


@router.post("/predict", tags=["classic"])
async def predict(request: Request, file: UploadFile = File(..., description="One image.")):
    """The classic recipe's endpoint: the top 3 as a JSON array, `confidence` in percent."""
    svc = service(request)
    svc.model.require()
    upload = await _read_upload(file, svc.settings.max_upload_bytes)
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


