"""The app factory: `create_app(settings)` builds the FastAPI app around the models it serves.

The models load in the background after start-up, one after another, so /healthz answers at once
and /readyz says "loading" until the default model is ready. If a model cannot load (weights
missing or corrupt), the service still runs in degraded mode: /readyz and the classify
endpoints say why, the UI shows a banner.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Callable

from fastapi import FastAPI

from .. import __version__
from ..classifier import Classifier
from ..config import Settings
from ..dbwait import open_history
from ..history import HistoryStore
from ..models.store import ModelStore
from . import errors
from .guards import body, dialects, gate, origin, ratelimit
from .observe import logs, metrics, observer
from .routes import (
    accounts,
    api,
    camera,
    history_routes,
    judge,
    kserve,
    login,
    model_routes,
    openapi,
    results_csv,
    streams_routes,
    teach_routes,
    torchserve,
    ui,
)  # fmt: skip
from .service import startup
from .service.inference import Inference
from .service.state import Service

log = logging.getLogger("localvision.server")


def create_app(
    settings: Settings | None = None,
    classifier: Classifier | None = None,
    on_ready: Callable[[Service], None] | None = None,
    history: HistoryStore | None = None,
    inference: Inference | None = None,
    insecure_no_auth: bool = False,
) -> FastAPI:
    """classifier: an already-loaded Classifier to serve as the only model (tests and
    embedding); else the app loads the models the settings name (`models`, else `model`).
    on_ready: called once the default model is ready to answer, or has failed to load and the
    service runs degraded (svc.model.status says which); `localvision serve` prints the
    address then, not before.
    history: the history store, already opened (`localvision serve` waits for its database
    before anything starts: dbwait.py); else it is opened at start-up, waiting up to db_wait_s
    for a database server that cannot be reached yet.
    inference: how the models run (server/service/inference.py); None: each model's own
    micro-batcher. A Ray Serve replica passes its @serve.batch method (scale/serve.py).
    insecure_no_auth: auth off on an address other machines can reach was asked for in so many
    words (`--insecure-no-auth`); without it such settings are refused here, by every way of
    starting the service (server/service/startup.py, which also makes the first admin)."""
    settings = settings or Settings()
    startup.check_auth(settings, insecure_no_auth)
    startup.limit_malloc_arenas()

    def each(svc: Service, state) -> None:
        if on_ready is not None and state is svc.model:
            on_ready(svc)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # a model replacement a crash cut short is finished or undone before anything loads
        await asyncio.to_thread(ModelStore.of(settings).recover)
        store = history or await asyncio.to_thread(open_history, settings.db, settings.db_wait_s)
        try:  # with auth on: the first admin and key, and who can get in, said in the log
            await asyncio.to_thread(startup.welcome, settings, store.engine)
        except BaseException:
            store.close()
            raise
        svc = Service(settings, store, inference=inference)
        app.state.service = svc
        teach_routes.start(app)  # the Teach store; a training a stopped server left: failed
        if classifier is not None:
            svc.models = {}
            svc.default = classifier.name
            each(svc, await svc.load(classifier.name, classifier))
            loader = None
        else:
            loader = asyncio.create_task(svc.load_all(each))
        try:
            yield
        finally:
            if loader is not None:
                loader.cancel()
            await streams_routes.close(app)  # the cameras watched: their open segments recorded
            await teach_routes.close(app)  # a training still running is ended
            await svc.close()
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
    # Middleware runs outermost-last-added: observer -> protocol error shapes -> origin guard (and
    # CORS) -> auth gate ->
    # rate limiter (keyed on who the gate verified) -> body limits -> the routes.
    body.install(app, settings)  # body size, multipart shape, slow bodies: as bytes arrive
    ratelimit.install(app, settings)
    if gate.install(app, settings).enabled:  # every path but health and /login needs a key
        openapi.document_bearer(app)  # or a sign-in: /docs gets an Authorize button
    origin.install(app, settings)  # Host names this server, no cross-site writes
    app.include_router(login.router)
    app.include_router(accounts.router)
    app.include_router(api.router)
    app.include_router(results_csv.router)  # the page's results as a CSV download
    app.include_router(model_routes.router)
    app.include_router(history_routes.router)
    app.include_router(judge.router)  # yes or no by a rule, and the saved rules
    app.include_router(kserve.router)
    app.include_router(torchserve.router)
    app.include_router(camera.router)  # the live camera page and its WebSocket
    app.include_router(streams_routes.router)  # cameras the service watches
    app.include_router(teach_routes.router)  # Teach projects, photos, training jobs (admins)
    app.include_router(teach_routes.reports)  # a trained model's report
    app.include_router(teach_routes.feedback_router)  # "wrong, it is X" (any user)
    ui.install(app)
    dialects.install(app)  # KServe's and TorchServe's error shapes on their paths
    sinks = [metrics.install(app)] + ([logs.AccessLog()] if settings.access_log else [])
    observer.install(app, sinks)  # added last: outermost, sees every request
    return app
