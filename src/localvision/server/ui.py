"""The browser UI (static HTML/JS/CSS, no CDN) and the OpenAPI docs page with local assets."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(str(resources.files(__package__).joinpath("static")))

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index():
    return FileResponse(STATIC / "index.html")


@router.get("/history")
async def history_page():
    return FileResponse(STATIC / "history.html")


@router.get("/docs")
async def docs():
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="localvision API",
        swagger_js_url="/swagger/swagger-ui-bundle.js",
        swagger_css_url="/swagger/swagger-ui.css",
        swagger_favicon_url="/swagger/favicon-32x32.png",
    )


def install(app: FastAPI) -> None:
    # FastAPI's default docs page pulls Swagger UI from a CDN; serve the packaged copy instead.
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/swagger", StaticFiles(directory=swagger_ui_path), name="swagger")
    app.include_router(router)
