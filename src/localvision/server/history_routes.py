"""The recognition history over HTTP: a page of it as JSON, all of it as CSV. With auth on, a
user sees their own rows; an admin sees everyone's."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from .gate import history_scope

router = APIRouter(tags=["history"])


def _store(request: Request):
    return request.app.state.service.history


@router.get("/api/v1/history")
async def history(
    request: Request,
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0),
):
    """Every recognition made through the service, newest first (images are not stored).
    With auth on, a user sees their own; an admin sees everyone's."""
    store, user = _store(request), history_scope(request)
    total = await run_in_threadpool(store.count, user)
    items = await run_in_threadpool(store.page, limit, offset, user)
    return {"total": total, "limit": limit, "offset": offset, "items": items}


@router.get("/api/v1/history.csv")
async def history_csv(request: Request):
    text = await run_in_threadpool(_store(request).to_csv, history_scope(request))
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="localvision-history.csv"'},
    )
