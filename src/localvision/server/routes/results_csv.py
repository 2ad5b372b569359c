"""Results as CSV over HTTP, through the project's one CSV path (report.rows_to_csv ->
csvfile.csv_text, which keeps every cell from being read as a formula):

- `?format=csv` on the classify routes (`csv_response`, used by routes/api.py);
- `POST /api/v1/results.csv`: the rows a classify call returned, sent back as JSON, answered as
  a CSV download with the same columns. The web page's "Download CSV" uses it, so the page never
  builds CSV itself:

      {"results": [<rows exactly as /api/v1/classify returned them>], "groups": false}

  With `"groups": true`, each row's top group (and its probability) gets two more columns.
  Labels: English beside them (label_en_N) when the request's language (?lang=, else
  Accept-Language, else the server's) is not English, as in the classify CSV.

The body may hold thousands of rows, so it has the upload limit (max_request_mb) rather than
the 1 MB cap of the API's other JSON bodies (guards/body.py), and it is read in the thread pool:
its structure is bounded first (no more values and no deeper nesting than a page's results can
have), then parsed and checked row by row. A malformed body is a 422 naming the first bad place.
"""

from __future__ import annotations

import json
from typing import Sequence

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from ...errors import InvalidArgument, InvalidRequest
from ...report import rows_to_csv, widest
from .. import request as kit
from ..guards.jsonshape import check_structure

router = APIRouter(tags=["classify"])

PATH = "/api/v1/results.csv"
MEDIA_TYPE = "text/csv; charset=utf-8"
FILENAME = "localvision-results.csv"
LEAD = ("filename",)  # the classify CSV's column before the predictions
GROUP_COLUMNS = ("group", "group_probability")
# A row of a page's results: about 12 values, 5 per prediction, 5 per group. 64 holds a row at
# top_k 5 with every group of a photo; the rows a page can hold are its files' (max_parts) ZIPs'
# members (max_zip_members): 4 million values at the defaults, a few hundred MB parsed at most.
VALUES_PER_ROW = 64
MAX_DEPTH = 6  # {"results": [{"error": {"code": ...}}]} nests four; room for a client's extras


# --- the rows, as the classify routes write them ------------------------------------------------
class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


class PredictionIn(_Row):
    label: str
    label_en: str | None = None
    index: int
    probability: float = Field(..., ge=0, le=1)


class GroupIn(_Row):
    label: str
    probability: float = Field(..., ge=0, le=1)


class ErrorIn(_Row):
    code: str
    message: str


class ResultIn(_Row):
    filename: str
    predictions: list[PredictionIn] = Field(default_factory=list)
    uncertain: bool = False
    error: ErrorIn | None = None
    groups: list[GroupIn] | None = None


class ResultsIn(BaseModel):
    """The body. The route reads it itself, in the thread pool, once its structure is bounded:
    FastAPI would parse it whole on the event loop."""

    model_config = ConfigDict(extra="forbid")

    results: list[ResultIn]
    groups: bool = False


# --- the CSV ------------------------------------------------------------------------------------
def csv_response(
    rows: list[dict], *, k: int | None, lang: str, tail: Sequence[str] = (),
    filename: str | None = None,
) -> Response:  # fmt: skip
    """Classify rows (`filename`, `predictions`, `uncertain`, `error`) as the CSV answer."""
    text = rows_to_csv(rows, lead=LEAD, tail=tail, k=k, lang=lang)
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'} if filename else None
    return Response(text, media_type=MEDIA_TYPE, headers=headers)


def max_values(settings) -> int:
    return VALUES_PER_ROW * settings.max_parts * settings.max_zip_members


def parse_results(body: bytes, most_values: int) -> ResultsIn:
    """The body as checked rows, or a typed 422 naming what is wrong (never a 500)."""
    try:
        check_structure(body, most_values, MAX_DEPTH)
    except InvalidRequest:
        raise InvalidArgument(
            "The results are larger or nested deeper than a page's results can be; send the "
            "rows as /api/v1/classify returned them."
        ) from None
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, a number too long
        raise InvalidArgument(f"The body is not JSON: {exc}.") from None
    try:
        return ResultsIn.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ())) or "the body"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InvalidArgument(f"Invalid results: {where}: {first['msg']}{more}.") from None


def row_of(result: ResultIn, groups: bool) -> dict:
    """A checked row as report.table reads it (and its top group, when groups are asked for)."""
    row = {
        "filename": result.filename,
        "predictions": [
            {"label": p.label, "label_en": p.label_en or p.label, "index": p.index,
             "probability": p.probability}  # fmt: skip
            for p in result.predictions
        ],
        "uncertain": result.uncertain,
        "error": result.error.model_dump() if result.error else None,
    }
    if groups:
        top = (result.groups or [None])[0]
        row["group"] = top.label if top else ""
        row["group_probability"] = f"{top.probability:.6f}" if top else ""
    return row


def results_csv_text(parsed: ResultsIn, lang: str, default_k: int) -> str:
    rows = [row_of(r, parsed.groups) for r in parsed.results]
    # as many prediction columns as the rows have; rows that are all errors: the server's top_k
    k = widest(rows) if any(r["predictions"] for r in rows) else default_k
    tail = GROUP_COLUMNS if parsed.groups else ()
    return rows_to_csv(rows, lead=LEAD, tail=tail, k=k, lang=lang)


# The body's schema for /docs (the route reads the body itself: see ResultsIn).
BODY_SCHEMA = {
    "type": "object",
    "required": ["results"],
    "properties": {
        "results": {"type": "array", "items": {"type": "object"},
                    "description": "The rows exactly as /api/v1/classify returned them."},
        "groups": {"type": "boolean", "default": False,
                   "description": "Add each row's top group and its probability."},
    },
}  # fmt: skip


@router.post(
    PATH,
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The rows as CSV."}},
    openapi_extra={"requestBody": {"required": True,
                                   "content": {"application/json": {"schema": BODY_SCHEMA}}}},
)
async def results_csv(
    request: Request,
    lang: str | None = Query(
        None, description="Language of the labels: en or zh (default: the Accept-Language "
        "header, else the server's lang); not English: English labels beside them.",
    ),  # fmt: skip
):
    """The rows a classify call returned, as a CSV download (the web page's "Download CSV"):
    the classify CSV's columns, every cell that looks like a formula kept text."""
    s = kit.service(request).settings
    language = kit.language(request, lang, s.lang)
    body = await request.body()
    parsed = await run_in_threadpool(parse_results, body, max_values(s))
    text = await run_in_threadpool(results_csv_text, parsed, language, s.top_k)
    return Response(
        text, media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{FILENAME}"'},
    )  # fmt: skip
