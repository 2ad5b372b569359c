"""TorchServe's inference API and its read-only management calls, so TorchServe's documented
curl commands work unchanged against localvision, as a thin shell on the service's road.

- `GET /ping` -> `{"status": "Healthy"}` (500 `Unhealthy` while the default model cannot answer).
- `POST` or `PUT /predictions/{model}[/{version}]`: one image as the raw body (`curl -T
  photo.jpg`, which PUTs) or as a multipart file part (`curl -F data=@photo.jpg`) ->
  `{label: probability}` for the top 5, most probable first, as TorchServe's
  `image_classifier` handler answers (a label that two classes share gets its index added).
- `GET /models` and `GET /models/{name}[/{version}]` in the management API's shape (TorchServe
  serves those on a second port; here they share the one port, read-only).

Errors come in TorchServe's shape (`{"code", "type", "message"}`), by server/guards/dialects.py.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ...errors import NotFound
from ...imaging import MB
from .. import request as kit
from ..service.state import ModelState

router = APIRouter(tags=["torchserve"])

TOP_K = 5  # what TorchServe's image_classifier handler returns
VERSIONS = ("1.0", "1")  # a served model has one version; TorchServe writes it "1.0"


def _served(request: Request, name: str, version: str | None) -> ModelState:
    state = kit.service(request).state(name)
    if version is not None and version not in VERSIONS:
        raise NotFound(f"Model {name!r} has no version {version!r}; its only version is 1.0.")
    return state


@router.get("/ping")
async def ping(request: Request):
    if kit.service(request).ready:
        return {"status": "Healthy"}
    return JSONResponse({"status": "Unhealthy"}, status_code=500)


def _by_label(predictions) -> dict[str, float]:
    out: dict[str, float] = {}
    for p in predictions:
        key = p.label if p.label not in out else f"{p.label} ({p.index})"
        out[key] = p.probability
    return out


@router.post("/predictions/{name}")
@router.post("/predictions/{name}/{version}")
@router.put("/predictions/{name}", operation_id="predictions_put")  # curl -T
@router.put("/predictions/{name}/{version}", operation_id="predictions_version_put")
async def predictions(request: Request, name: str, version: str | None = None):
    _served(request, name, version)
    ask = kit.ask(request, name, top_k=TOP_K, lang=request.query_params.get("lang"))
    limit = ask.service.settings.max_upload_bytes
    item = await kit.the_image(request, limit, "/predictions", "data")
    (result,) = await ask.recognize([item])
    if result.error is not None:
        raise result.error
    return _by_label(result.predictions)


def _description(request: Request, state: ModelState) -> dict:
    s = kit.service(request).settings
    worker = {"id": "1", "status": "READY" if state.status == "ready" else state.status.upper(),
              "memoryUsage": int((state.memory_mb or 0) * MB), "gpu": False}  # fmt: skip
    return {
        "modelName": state.name,
        "modelVersion": "1.0",
        "modelUrl": state.name,
        "runtime": "python",
        "minWorkers": 1,
        "maxWorkers": 1,
        "batchSize": s.max_batch,
        "maxBatchDelay": s.max_wait_ms,
        "loadedAtStartup": state.name in s.model_names,
        "workers": [worker],
    }


@router.get("/models")
async def models(request: Request):
    return {"models": [{"modelName": n, "modelUrl": n} for n in kit.service(request).models]}


@router.get("/models/{name}")
@router.get("/models/{name}/{version}")
async def model(request: Request, name: str, version: str | None = None):
    return [_description(request, _served(request, name, version))]
