"""The models over HTTP: what the service serves (each model's state, backend, precision, labels
and languages, accuracy where known, its speed and memory), a model's labels in a language, and
loading or unloading a model at run time (admins only when auth is on)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from ...errors import InvalidArgument, UnknownModel
from ...models.store import ModelStore
from .. import request as kit
from ..guards.gate import require_admin
from ..request import service

router = APIRouter(tags=["models"])


@router.get("/api/v1/models")
async def models(request: Request):
    """Every served model (the default first) and the models that could be loaded; for the
    default model the older single-model fields too (`ready`, `status`, `model`)."""
    svc = service(request)
    s, state = svc.settings, svc.model
    clf = state.classifier
    served = [svc.models[svc.default].describe()] + [
        st.describe() for name, st in svc.models.items() if name != svc.default
    ]
    store = ModelStore.of(s)
    return {
        "default": svc.default,
        "models": served,
        "available": [n for n in store.names() if n not in svc.models],
        "ready": state.status == "ready",
        "status": state.status,
        "model": clf.info() if clf else None,
        "notice": clf.notice if clf else None,
        "notice_code": clf.notice_code if clf else None,  # the page says it in its language
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
            "min_confidence": s.min_confidence,
        },
    }


@router.get("/api/v1/models/{name}/labels")
async def labels(request: Request, name: str, lang: str = Query("en", description="en or zh")):
    """The model's labels in class-index order, in `lang` (English where it has none)."""
    kit.check_language(lang)
    svc = service(request)
    state = svc.models.get(name)
    if state is not None and state.classifier is not None:
        spec = state.classifier.spec
    else:
        spec = ModelStore.of(svc.settings).spec_of(name)
    return {"model": name, "lang": lang, "labels": list(spec.labels_in(lang))}


@router.post("/api/v1/models/{name}/load", status_code=202)
async def load(request: Request, name: str, _admin=Depends(require_admin)):
    """Load a model from the registry or the store (e.g. one imported or trained since the
    service started), in the background: 202 while it loads; GET /api/v1/models shows when it
    is ready. Loading a model already served loads it again."""
    svc = service(request)
    store = ModelStore.of(svc.settings)
    if name not in svc.models:
        store.spec_of(name)  # unknown: 404 now, not a failed load later
    state = svc.start_load(name)
    return {"name": name, "state": state.status}


@router.post("/api/v1/models/{name}/unload")
async def unload(request: Request, name: str, _admin=Depends(require_admin)):
    """Stop serving a model and free its memory. The default model cannot be unloaded."""
    svc = service(request)
    if name not in svc.models:
        raise UnknownModel(f"The service does not serve a model {name!r}.")
    if name == svc.default:
        raise InvalidArgument(f"{name} is the default model; it cannot be unloaded.")
    state = await svc.unload(name)
    return {"name": name, "state": state.status}
