"""The app factory: `create_app(settings)` builds the FastAPI app around one Classifier.

The model loads in a background thread after start-up, so /healthz answers at once and /readyz
says "loading" until it is ready. If it cannot load (weights missing or corrupt), the service
still runs in degraded mode: /readyz and the classify endpoints say why, the UI shows a banner.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Callable

from fastapi import FastAPI

from .. import __version__
from ..classifier import Classifier, from_settings
from ..config import Settings
from ..errors import LocalVisionError
from ..history import HistoryStore
from . import (
    accounts, api, body, errors, gate, history_routes, login, logs, metrics, observer, openapi,
    origin, ratelimit, ui,
)  # fmt: skip
from .state import ModelState, Service

log = logging.getLogger("localvision.server")


async def _load_model(
    svc: Service, classifier: Classifier | None, on_ready: Callable[[Service], None] | None
) -> None:
    try:
        clf = classifier or await asyncio.to_thread(from_settings, svc.settings)
        if classifier is None:
            await asyncio.to_thread(clf.warm_up, svc.settings.max_batch)
    except LocalVisionError as exc:
        log.error("model not loaded: %s", exc.message)
        svc.model = ModelState(None, "failed", exc.message, exc.hint)
    except Exception as exc:  # never let a load failure kill the service
        log.exception("model failed to load")
        svc.model = ModelState(None, "failed", f"the model failed to load ({exc})", None)
    if svc.model.status == "failed":
        if on_ready is not None:
            on_ready(svc)  # up in degraded mode: that is worth saying too
        return
    if clf.notice:
        log.warning(clf.notice)
    svc.attach(clf)
    b = clf.backend
    log.info("model %s ready (%s %s on %s, weights: %s)", clf.name, b.name, b.precision, b.device,
             clf.weights_origin)  # fmt: skip
    if on_ready is not None:
        on_ready(svc)


def create_app(
    settings: Settings | None = None,
    classifier: Classifier | None = None,
    on_ready: Callable[[Service], None] | None = None,
) -> FastAPI:
    """classifier: an already-loaded Classifier to serve (tests and embedding); else the app
    loads the one the settings describe. on_ready: called once the model is ready to answer,
    or has failed to load and the service runs degraded (svc.model.status says which);
    `localvision serve` prints the address then, not before."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        svc = Service(settings, HistoryStore(settings.db))
        app.state.service = svc
        loader = asyncio.create_task(_load_model(svc, classifier, on_ready))
        if classifier is not None:
            await loader
        try:
            yield
        finally:
            loader.cancel()
            if svc.batcher:
                await svc.batcher.stop()
            svc.history.close()

    app = FastAPI(
        title="localvision",
        version=__version__,
        description="Local, offline image recognition. Errors are `{\"error\": {\"code\", \"message\"}}`.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    errors.install(app)
    # Middleware runs outermost-last-added: observer -> origin guard (and CORS) -> auth gate ->
    # rate limiter (keyed on who the gate verified) -> body limits -> the routes.
    body.install(app, settings)  # body size, multipart shape, slow bodies: as bytes arrive
    ratelimit.install(app, settings)
    if gate.install(app, settings).enabled:  # every path but health and /login needs a key
        openapi.document_bearer(app)  # or a sign-in: /docs gets an Authorize button
    origin.install(app, settings)  # Host names this server, no cross-site writes
    app.include_router(login.router)
    app.include_router(accounts.router)
    app.include_router(api.router)
    app.include_router(history_routes.router)
    ui.install(app)
    sinks = [metrics.install(app)] + ([logs.AccessLog()] if settings.access_log else [])
    observer.install(app, sinks)  # added last: outermost, sees every request
    return app
