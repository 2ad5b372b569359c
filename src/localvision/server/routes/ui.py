"""The browser UI (static HTML/JS/CSS, no CDN) and the OpenAPI docs page with local assets.

/docs is Swagger UI 5.x from the PyPI package fastapi-offline (its `static/` folder: the
swagger-ui-dist bundle and stylesheet), served under /swagger. FastAPI writes OpenAPI 3.1, which
Swagger UI renders only from 5.0 on; swagger-ui-bundle (Swagger UI 4.15.5) said "Unable to render
this definition". With auth on, the gate asks for a key or a session here like everywhere else.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

# The page assets live beside the rooms, in server/static (the package data the wheel ships).
STATIC = Path(str(resources.files("localvision.server").joinpath("static")))

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index():
    return FileResponse(STATIC / "index.html")


@router.get("/history")
async def history_page():
    return FileResponse(STATIC / "history.html")


@router.get("/teach")
async def teach_page():
    """Teach it your own classes (static/teach.html; its API: teach_routes.py)."""
    return FileResponse(STATIC / "teach.html")


@router.get("/docs")
async def docs():
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="localvision API",
        swagger_js_url="/swagger/swagger-ui-bundle.js",
        swagger_css_url="/swagger/swagger-ui.css",
        swagger_favicon_url="/swagger/favicon.png",
    )


# The assets fastapi-offline ships: swagger-ui-bundle.js, swagger-ui.css, favicon.png (and ReDoc).
SWAGGER = Path(str(resources.files("fastapi_offline").joinpath("static")))


def install(app: FastAPI) -> None:
    # FastAPI's default docs page pulls Swagger UI from a CDN; serve the packaged copy instead.
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/swagger", StaticFiles(directory=SWAGGER), name="swagger")
    app.include_router(router)
