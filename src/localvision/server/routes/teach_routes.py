"""The Teach API: projects, classes and example photos (training/examples.py), training jobs
(server/service/training_jobs.py), a trained model's report, and corrections ("wrong, it is X").

    GET    /api/v1/teach/projects                        every project: classes with counts, model, job
    POST   /api/v1/teach/projects                        {name, title?, base?, mode?, classes?} -> 201
    GET    /api/v1/teach/projects/{p}                    the project and its examples
    DELETE /api/v1/teach/projects/{p}                    its photos go; a model trained from it stays
    POST   /api/v1/teach/projects/{p}/classes            {name} -> 201
    DELETE /api/v1/teach/projects/{p}/classes/{c}        and its photos
    POST   /api/v1/teach/projects/{p}/classes/{c}/photos multipart `files` + `source` -> a row per file
    GET    /api/v1/teach/projects/{p}/photos/{id}        the photo's bytes
    DELETE /api/v1/teach/projects/{p}/photos/{id}
    POST   /api/v1/teach/projects/{p}/train              {base?, mode?, epochs?, name?} -> 202 job
    GET    /api/v1/teach/job                             the current or last job (null: none yet)
    GET    /api/v1/teach/job/events                      SSE: its events so far, then live ones
    POST   /api/v1/teach/job/cancel
    GET    /api/v1/models/{name}/report                  report.json of a trained model
    GET    /api/v1/models/{name}/report/{file}           its PNG, JPG and CSV files
    POST   /api/v1/feedback                              multipart file, model, label, predicted?
                                                         (limited: 429 per user, 507 per model)

With auth on, everything here is for admins (server/guards/gate.py require_admin) except feedback,
which any signed-in user or API key may send; the user is recorded with the photo. A project's
photos cannot be deleted while it trains (409 training_busy): the trainer is reading them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, Depends, File, Form, Header, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ...errors import InvalidArgument, LocalVisionError, ModelNameReserved, ReportNotFound
from ...models.registry import model_names
from ...models.store import ModelStore, valid_name
from ...training.corrections import Corrections
from ...training.examples import (
    JOB_FILE,
    MAX_CLASS_NAME,
    MAX_TITLE,
    MEDIA_TYPES,
    SOURCES,
    TeachStore,
    read_json,
)  # fmt: skip
from ...training.run import check_retrain, trained_project
from .. import request as kit
from ..guards.gate import principal_of, require_admin, user_of
from ..service.training_jobs import Jobs

PREFIX = "/api/v1/teach"
router = APIRouter(prefix=PREFIX, tags=["teach"], dependencies=[Depends(require_admin)])
reports = APIRouter(tags=["models"], dependencies=[Depends(require_admin)])
feedback_router = APIRouter(tags=["teach"])

Mode = Literal["head", "finetune", "full"]
# How long one job-events response lasts while the job runs, and how soon a browser comes
# back for more: a stopping server waits this long at most for an open Teach page.
STREAM_S = 15.0
RETRY_MS = 500
REPORT_FILES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                ".csv": "text/csv; charset=utf-8"}  # fmt: skip


# --- what the app holds ---------------------------------------------------------------------------
def start(app) -> None:
    """At start-up (the app's lifespan): the store, and the jobs a stopped server left."""
    svc = app.state.service
    app.state.teach_store = store = TeachStore(svc.settings)
    app.state.corrections = Corrections(store, svc.settings)
    app.state.training_jobs = jobs = Jobs(svc, store)
    jobs.recover()


async def close(app) -> None:
    jobs = getattr(app.state, "training_jobs", None)
    if jobs is not None:
        await jobs.close()


def teach(request: Request) -> TeachStore:
    return request.app.state.teach_store


def jobs_of(request: Request) -> Jobs:
    return request.app.state.training_jobs


def default_mode(settings) -> str:
    return settings.train_mode


def check_model(request: Request, name: str) -> str:
    """A model that can be a base or be corrected: served, in the registry or in the store."""
    svc = request.app.state.service
    if not name or name == "auto":
        return svc.default
    if name not in svc.models:
        ModelStore.of(svc.settings).spec_of(name)  # 404 unknown_model
    return name


# --- projects -----------------------------------------------------------------------------------
class ProjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., max_length=100, description="Also the trained model's name: lower-case "
                      "letters, digits, '_', '-', '.'.")  # fmt: skip
    title: str | None = Field(None, max_length=MAX_TITLE, description="What the page shows.")
    base: str | None = Field(None, description="The model to start from (default: the default).")
    mode: Mode | None = Field(None, description="head, finetune or full (default: train_mode).")
    classes: list[str] = Field(default_factory=list, max_length=1000)


class ClassIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., max_length=MAX_CLASS_NAME * 4)


class TrainIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base: str | None = Field(None, description="Default: the project's base.")
    mode: Mode | None = Field(None, description="Default: the project's mode.")
    epochs: int | None = Field(None, ge=1, le=1000, description="Default: train_epochs.")
    name: str | None = Field(None, max_length=100, description="The model's name (default: the "
                             "project's model name).")  # fmt: skip


def _model_of(request: Request, meta: dict) -> dict | None:
    """The model trained from a project, if there is one in the store."""
    svc = request.app.state.service
    package = ModelStore.of(svc.settings).get(meta["model"])
    if package is None or trained_project(package) != meta["name"]:
        return None
    state = svc.models.get(package.name)
    return {
        "name": package.name,
        "exists": True,
        "metrics": package.manifest.get("metrics"),
        "report": (package.path / "report" / "report.json").is_file(),
        "state": state.status if state else None,
        "created_at": package.manifest.get("created_at"),
    }


def _job_of(request: Request, project: str) -> dict | None:
    current = jobs_of(request).current
    if current is not None and current.project == project:
        return current.describe()
    found = read_json(teach(request).path(project) / JOB_FILE)
    if not found:
        return None
    found.pop("events", None)
    found.pop("pid", None)
    return found


def _summary(request: Request, name: str) -> dict:
    store = teach(request)
    meta = store.project(name)
    classes = store.counts(name)
    return {
        **meta,
        "model_name": meta["model"],  # what training it makes (and "try it" asks for)
        "classes": classes,
        "examples": sum(c["count"] for c in classes),
        "model": _model_of(request, meta),
        "job": _job_of(request, name),
    }


@router.get("/projects")
async def list_projects(request: Request):
    """Every Teach project: its classes with their photo counts, the model trained from it
    (with its validation metrics) and its last training job."""
    names = await run_in_threadpool(teach(request).names)
    return [await run_in_threadpool(_summary, request, n) for n in names]


@router.post("/projects", status_code=201)
async def create_project(request: Request, body: ProjectIn):
    """A new project; its name is also the trained model's. 409 project_exists."""
    settings = request.app.state.service.settings
    base = check_model(request, body.base or "")
    meta = await run_in_threadpool(
        teach(request).create, body.name, title=body.title, base=base,
        mode=body.mode or default_mode(settings), classes=body.classes, user=user_of(request),
    )  # fmt: skip
    summary = await run_in_threadpool(_summary, request, meta["name"])
    return JSONResponse(summary, status_code=201,
                        headers={"Location": f"{PREFIX}/projects/{meta['name']}"})  # fmt: skip


@router.get("/projects/{project}")
async def get_project(request: Request, project: str):
    """The project and every example photo (newest first within each class), each with the URL
    of its bytes."""
    summary = await run_in_threadpool(_summary, request, project)
    examples = await run_in_threadpool(teach(request).examples, project)
    for e in examples:
        e["url"] = f"{PREFIX}/projects/{project}/photos/{e['id']}"
    return {**summary, "examples": examples, "count": len(examples)}


@router.delete("/projects/{project}")
async def delete_project(request: Request, project: str):
    """Delete the project and its photos. A model trained from it stays (models remove)."""
    jobs_of(request).refuse_while_training(project)
    meta = await run_in_threadpool(teach(request).delete, project)
    return {"deleted": meta["name"]}


# --- classes ------------------------------------------------------------------------------------
@router.post("/projects/{project}/classes", status_code=201)
async def add_class(request: Request, project: str, body: ClassIn):
    """A new class (a folder of the project). 409 class_exists for a name that is another's
    after normalisation ("Cat" and "cat ")."""
    name = await run_in_threadpool(teach(request).add_class, project, body.name)
    return {"project": project, "name": name, "count": 0}


@router.delete("/projects/{project}/classes/{name}")
async def delete_class(request: Request, project: str, name: str):
    """Delete a class and its photos."""
    jobs_of(request).refuse_while_training(project)
    count = await run_in_threadpool(teach(request).delete_class, project, name)
    return {"project": project, "deleted": name, "photos": count}


# --- photos -------------------------------------------------------------------------------------
@router.post("/projects/{project}/classes/{name}/photos")
async def add_photos(
    request: Request,
    project: str,
    name: str,
    files: list[UploadFile] = File(..., description="Photos (parts named `files`)."),
    source: str = Form("upload", description=f"How they came: {', '.join(SOURCES)}."),
):
    """Keep photos as examples of the class, as uploaded. One row per file, in order: `{id,
    class, duplicate}` (the same photo twice is one example) or `{filename, error}` for a file
    that is not an image the service can read; one bad file fails only its own row."""
    store = teach(request)
    await run_in_threadpool(store.class_dir, project, name)  # 404 for the whole request
    if source not in SOURCES:
        raise InvalidArgument(f"Unknown source {source!r}; one of {', '.join(SOURCES)}.")
    limit, user = request.app.state.service.settings.max_upload_bytes, user_of(request)
    rows = []
    for upload in files:
        filename = upload.filename or "upload"
        try:
            data = await kit.read_upload(upload, limit)
            row = await run_in_threadpool(
                store.add_photo, project, name, data, filename=filename, source=source, user=user
            )
            rows.append({"filename": filename, **row})
        except LocalVisionError as exc:
            rows.append({"filename": filename, "error": exc.to_dict()})
    return {"project": project, "class": name, "rows": rows}


@router.get("/projects/{project}/photos/{photo_id}")
async def get_photo(request: Request, project: str, photo_id: str):
    """The photo's bytes, as uploaded."""
    _, path = await run_in_threadpool(teach(request).find, project, photo_id)
    media = MEDIA_TYPES.get(path.suffix.lstrip(".").lower(), "application/octet-stream")
    return FileResponse(path, media_type=media, headers={"X-Content-Type-Options": "nosniff"})


@router.delete("/projects/{project}/photos/{photo_id}")
async def delete_photo(request: Request, project: str, photo_id: str):
    jobs_of(request).refuse_while_training(project)
    row = await run_in_threadpool(teach(request).delete_photo, project, photo_id)
    return {"project": project, "deleted": row["id"], "class": row["class"]}


# --- training -------------------------------------------------------------------------------------
@router.post("/projects/{project}/train", status_code=202)
async def train(request: Request, project: str, body: TrainIn | None = None):
    """Start training the project (`localvision train` in its own process): 202 with the job;
    409 training_busy while another training runs; 409 model_not_from_project when a model of
    that name is in the store and was not trained from this project (an imported model,
    another project's): only the project's own model is trained again in place. Follow it at
    /api/v1/teach/job/events."""
    body = body or TrainIn()
    store = teach(request)
    meta = await run_in_threadpool(store.project, project)
    base = check_model(request, body.base or meta.get("base") or "")
    name = body.name or meta["model"]
    valid_name(name)
    if base == name:
        raise InvalidArgument(f"{name} cannot be its own base; start from the model it was "
                              "trained from.", hint=f'"base": "{meta.get("base")}"')  # fmt: skip
    if name == "auto" or name in model_names():  # what the trainer refuses, said at once
        raise ModelNameReserved(f"{name} is a registry model's name; give the trained model "
                                "another one.", hint=f'"name": "my-{name}"')  # fmt: skip
    # said at once; the trainer (--retrain) checks it again before it writes anything
    models = ModelStore.of(request.app.state.service.settings)
    await run_in_threadpool(check_retrain, models, name, meta["name"])
    job = jobs_of(request).start(
        project, name=name, base=base, mode=body.mode or meta.get("mode") or "head",
        epochs=body.epochs, user=user_of(request),
    )  # fmt: skip
    return JSONResponse(job.describe(), status_code=202, headers={"Location": f"{PREFIX}/job"})


@router.get("/job")
async def get_job(request: Request):
    """The current training job, or the last one (its state survives a reload and a server
    restart); null when none was ever started."""
    job = jobs_of(request).current
    return job.describe() if job else None


@router.get("/job/events", response_class=EventSourceResponse)
async def job_events(
    request: Request, last_event_id: str | None = Header(None, alias="Last-Event-ID")
) -> AsyncIterator[ServerSentEvent]:
    """Server-Sent Events: the job's events so far, then live ones, until it finishes: `state`
    (the whole job, at every change of state), and the trainer's `start`, `phase`, `epoch`,
    `done`, `error`. 404 no_training_job when none was ever started.

    While the job runs, one response lasts at most STREAM_S seconds: a browser's EventSource
    reconnects by itself and, sending the last id it saw (Last-Event-ID), gets only what came
    after it. So an open page never holds up a server that is stopping (uvicorn waits for
    every response to end)."""
    jobs = jobs_of(request)
    job = jobs.get()
    after = _resume_after(job.id, last_event_id)
    async for seq, event in jobs.listen(job, after=after, max_s=STREAM_S):
        yield ServerSentEvent(event=event["event"], data=event, id=f"{job.id}-{seq}",
                              retry=RETRY_MS)  # fmt: skip


def _resume_after(job_id: str, last_event_id: str | None) -> int:
    """The seq a reconnecting client saw last, when it was following this very job."""
    prefix, _, seq = (last_event_id or "").rpartition("-")
    return int(seq) if prefix == job_id and seq.isdigit() else 0


@router.post("/job/cancel")
async def cancel_job(request: Request):
    """Stop the running training (nothing is written: the store stays as it was). A job that
    has already finished is answered as it is."""
    return (await jobs_of(request).cancel()).describe()


# --- reports --------------------------------------------------------------------------------------
def _report_dir(request: Request, name: str):
    package = ModelStore.of(request.app.state.service.settings).get(name)
    folder = package.path / "report" if package is not None else None
    if folder is None or not (folder / "report.json").is_file():
        raise ReportNotFound(f"The model {name!r} has no training report.")
    return folder


@reports.get("/api/v1/models/{name}/report")
async def report(request: Request, name: str):
    """The training report of a trained model (report.json: accuracy, per-class precision and
    recall, the files beside it)."""
    folder = await run_in_threadpool(_report_dir, request, name)
    return JSONResponse(json.loads((folder / "report.json").read_text("utf-8")))


@reports.get("/api/v1/models/{name}/report/{file}")
async def report_file(request: Request, name: str, file: str):
    """One file of the report: the confusion matrices (PNG), the misclassified contact sheet
    (JPG), the per-epoch and per-class figures (CSV). Only files in the report's own folder."""
    folder = await run_in_threadpool(_report_dir, request, name)
    path = folder / file
    media = REPORT_FILES.get(path.suffix.lower())
    inside = path.resolve().parent == folder.resolve() and not file.startswith(".")
    if media is None or not inside or "/" in file or "\\" in file or not path.is_file():
        raise ReportNotFound(f"The report of {name!r} has no file {file!r}.")
    return FileResponse(path, media_type=media)


# --- corrections ----------------------------------------------------------------------------------
@feedback_router.post("/api/v1/feedback", status_code=201)
async def feedback(
    request: Request,
    file: UploadFile = File(..., description="The photo that was recognized."),
    model: str = Form(..., description="The model whose answer was wrong."),
    label: str = Form(
        ..., max_length=MAX_CLASS_NAME * 4,
        description="What it really is: a class of the model's project, or a new one.",
    ),
    predicted: str | None = Form(None, max_length=400, description="What the model said."),
):
    """Corrections, "wrong, it is X": keep the photo as a training example of class X in the
    Teach project of that model (made on the first correction). Any signed-in user may send
    one; with auth on, the user is recorded with it. 201 {project, class, id}.

    Corrections are photos kept on disk, so they are limited (training/corrections.py), counted
    from the photos kept (their sidecars), so the limits hold across restarts:
    - 429 too_many_corrections, with Retry-After: the user has stored
      `feedback_max_photos_per_user` corrections in the last 24 hours (a rate: it says when
      there is room again). Admins and auth off are not held to it: they may add any photo on
      the Teach page anyway.
    - 507 corrections_full (Insufficient Storage): the model's project holds
      `feedback_max_photos_per_model` corrections, from anyone; no Retry-After: it lasts until
      an admin deletes some.
    A photo already kept in the project (corrected again) adds nothing and is never refused;
    the Teach page's own uploads are not corrections and count for neither."""
    svc = request.app.state.service
    model = check_model(request, model)
    data = await kit.read_upload(file, svc.settings.max_upload_bytes)
    principal = principal_of(request)
    limited = principal is not None and not principal.is_admin

    def check(project: str | None, photo: bytes) -> None:
        request.app.state.corrections.check(project, photo, user_of(request), limited)

    row = await run_in_threadpool(
        teach(request).add_feedback, model, label, data, filename=file.filename,
        user=user_of(request), predicted=predicted, mode=default_mode(svc.settings),
        check=check,
    )  # fmt: skip
    return {"model": model, **row}
