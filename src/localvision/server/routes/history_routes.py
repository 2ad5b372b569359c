"""The recognition history over HTTP: a page of it as JSON, all of it as CSV, searched by the
same filter (top label, file name, the text read in the photo, time range); deleting one row or
every row a filter matches.

Whose rows: with auth on, a user reads and deletes only their own, an admin everyone's; with auth
off (loopback) the local user is trusted with all of them (`gate.history_scope`). Another user's
row is answered like a missing one (404). Deletes made with a session cookie carry the page's
X-CSRF-Token like every state-changing request (the gate checks it).

While the database cannot be reached, every history route answers 503 `history_unavailable` with
Retry-After at once (server/service/dbhealth.py), never a 500.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ...history import Filter
from ..guards.gate import history_scope


def _reachable(request: Request) -> None:
    request.app.state.service.database.require()


router = APIRouter(tags=["history"], dependencies=[Depends(_reachable)])

WHEN = "An ISO 8601 date (a whole UTC day) or date-time (UTC unless it has an offset)."


def _store(request: Request):
    return request.app.state.service.history


def search(
    label: str | None = Query(None, description="The top label contains this (any case)."),
    filename: str | None = Query(None, description="The file name contains this (any case)."),
    start: str | None = Query(None, alias="from", description=f"Made at or after this. {WHEN}"),
    end: str | None = Query(
        None, alias="to", description=f"Made before this; a date: up to the end of that day. {WHEN}"
    ),
    text: str | None = Query(
        None,
        description="The text read in the photo contains this (any case; rows whose text was "
        "not read never match). Text is read when a request asks for it (?text=true).",
    ),
) -> Filter:
    """The search every history route takes. Blank values are no condition."""
    return Filter.parse(label, filename, start, end, text)


@router.get("/api/v1/history")
async def history(
    request: Request,
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0),
    where: Filter = Depends(search),
):
    """Every recognition made through the service that matches the search, newest first (images
    are not stored). Each item's `text` is the lines read in the photo, as /api/v1/classify
    answered them (null when text was not asked for). `total` counts the matching rows. With
    auth on, a user sees their own; an admin sees everyone's."""
    store, user = _store(request), history_scope(request)
    total = await run_in_threadpool(store.count, user, where)
    items = await run_in_threadpool(store.page, limit, offset, user, where)
    return {"total": total, "limit": limit, "offset": offset, "items": items}


@router.get("/api/v1/history.csv")
async def history_csv(request: Request, where: Filter = Depends(search)):
    """The rows the same search matches, as CSV (top-k flattened into columns; `text`: the
    lines read in the photo, one per line of the cell, empty when none were read)."""
    text = await run_in_threadpool(_store(request).to_csv, history_scope(request), where)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="localvision-history.csv"'},
    )


@router.delete("/api/v1/history/{row_id}")
async def delete_row(request: Request, row_id: int = Path(..., ge=1)):
    """Delete one recognition. 404 `not_found` when there is no such row, or it is another
    user's (an admin, or anyone when auth is off, may delete any row)."""
    await run_in_threadpool(_store(request).delete_row, row_id, history_scope(request))
    return {"deleted": 1}


@router.delete("/api/v1/history")
async def delete_matching(
    request: Request,
    where: Filter = Depends(search),
    everything: bool = Query(
        False,
        alias="all",
        description="Confirm deleting every row you may delete. Needed when no filter is "
        "given (no filter means every row); refused together with a filter.",
    ),
):
    """Delete every row the search matches (the same filter as GET), in one transaction:
    `{"deleted": n}`. Without a filter this would delete everything, so it is refused (422
    `confirmation_required`) unless `all=true` confirms that."""
    store, user = _store(request), history_scope(request)
    deleted = await run_in_threadpool(store.delete_matching, where, user, everything=everything)
    return {"deleted": deleted}
