"""`localvision serve --ray`: the same FastAPI app (server/app.py) as a Ray Serve application.

Each replica is a Ray actor that builds the app with `create_app` and serves it behind Ray's
HTTP proxy (a deployment with FastAPI ingress). The only thing that differs from
`localvision serve` is how inference runs, a parameter of the service (server/service/
inference.py): a replica's service hands each prepared image to the deployment's `@serve.batch`
method (`BatchMethod`), which merges the images of concurrent requests into one model call
(instead of the in-process micro-batcher, which Serve's batching replaces). The
road itself (road.py) is the one every entry point walks.

    client ─► Ray proxy (HTTP, on every node) ─► replica: create_app(...) ─► Service.recognize
              picks a replica                      the road: decode in the pool ─► infer_batch
                                                   (@serve.batch: images of many requests)

A replica says who it is: every answer carries `X-Localvision-Replica`, and
GET /api/v1/replica gives its id, pid, memory and the sizes of the batches it ran.

A replica is ready (Serve routes to it) only once its default model has loaded: its app's
lifespan waits for the load, which Serve awaits before the replica counts as started.

History: each replica writes the --db it is given. With a PostgreSQL URL every replica on every
node shares one database; without one, replicas on a node share that node's SQLite file (WAL
mode, safe across processes) and each node keeps its own.

For a real cluster (KubeRay's RayService), `app_builder` is the import path Serve's config
names: `localvision.scale.serve:app_builder`, with Settings fields as its args.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from contextlib import asynccontextmanager
from typing import Callable

import numpy as np
from fastapi import APIRouter
from ray import serve

from ..classifier import Classifier
from ..config import Settings
from ..server.service.inference import BatchMethod
from ..server.service.state import rss_mb
from . import builder_settings, connect, pool_size, sized, worker_env

log = logging.getLogger("localvision.scale")

APP_NAME = "localvision"
REPLICA_HEADER = "x-localvision-replica"


def deployment_options(settings: Settings) -> dict:
    """The Serve deployment's options from the settings: replicas (fixed or autoscaled), the
    CPUs each reserves, how many requests it takes at once, our environment in its process."""
    size = pool_size(settings)
    options: dict = {
        "ray_actor_options": {
            "num_cpus": settings.ray_cpus_per_replica,
            "runtime_env": {"env_vars": worker_env()},
        },
        # Enough requests in a replica to fill the next batch while one runs.
        "max_ongoing_requests": 4 * settings.max_batch,
    }
    if isinstance(size, tuple):
        low, high = size
        options["autoscaling_config"] = {
            "min_replicas": low,
            "max_replicas": high,
            # A replica is busy enough when it has a full batch waiting.
            "target_ongoing_requests": settings.max_batch,
        }
    else:
        options["num_replicas"] = size
    return options


class _ReplicaHeader:
    """ASGI middleware: every answer names the replica that gave it."""

    def __init__(self, app, replica: str):
        self.app = app
        self.value = replica.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_named(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (REPLICA_HEADER.encode(), self.value)]
            await send(message)

        await self.app(scope, receive, send_named)


@serve.deployment(name="Recognizer")
@serve.ingress()
class Recognizer:
    """One replica: the localvision app around its own models, batching with @serve.batch."""

    def __init__(self, settings: dict, insecure_no_auth: bool = False):
        self.settings = Settings(**settings)
        self.insecure_no_auth = insecure_no_auth
        self.replica = serve.get_replica_context().replica_id.unique_id
        self.batches: Counter = Counter()  # batch size -> how many batches of that size ran
        self.infer_batch.set_max_batch_size(self.settings.max_batch)
        self.infer_batch.set_batch_wait_timeout_s(self.settings.max_wait_ms / 1000)

    def __serve_build_asgi_app__(self):
        from ..server.app import create_app

        loaded = asyncio.Event()
        app = create_app(
            self.settings,
            on_ready=lambda svc: loaded.set(),
            inference=BatchMethod(self.infer_batch),
            insecure_no_auth=self.insecure_no_auth,
        )
        inner = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(app):
            async with inner(app) as state:
                await loaded.wait()  # Serve routes to this replica once this returns
                yield state

        app.router.lifespan_context = lifespan
        app.include_router(self._router())
        app.add_middleware(_ReplicaHeader, replica=self.replica)
        return app

    def _router(self) -> APIRouter:
        router = APIRouter()

        @router.get("/api/v1/replica", tags=["health"])
        async def replica():
            """Which Ray replica answered, its process and memory, and the batches it ran."""
            sizes = self.batches
            return {
                "replica": self.replica,
                "pid": os.getpid(),
                "rss_mb": rss_mb(),
                "batches": {
                    "sizes": {str(n): c for n, c in sorted(sizes.items())},
                    "largest": max(sizes, default=0),
                    "images": sum(n * c for n, c in sizes.items()),
                },
            }

        return router

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.005)
    async def infer_batch(self, items: list[tuple[Classifier, np.ndarray]]) -> list[np.ndarray]:
        """The images of concurrent requests (one model or several), one model call per model:
        one probability row per image, in order."""
        self.batches[len(items)] += 1
        out: list = [None] * len(items)
        by_model: dict[int, tuple[Classifier, list[int]]] = {}
        for i, (clf, _) in enumerate(items):
            by_model.setdefault(id(clf), (clf, []))[1].append(i)
        for clf, rows in by_model.values():
            probs = await asyncio.to_thread(clf.infer, [items[i][1] for i in rows])
            for i, p in zip(rows, probs):
                out[i] = p
        return out


def build(settings: Settings, insecure_no_auth: bool = False):
    """The Serve application for these settings (what `serve.run` deploys); `insecure_no_auth`:
    auth off on an address other machines reach was asked for in so many words."""
    options = deployment_options(settings)
    return Recognizer.options(**options).bind(settings.model_dump(mode="json"), insecure_no_auth)


def app_builder(args: dict):
    """For Serve's config file and KubeRay (import_path: localvision.scale.serve:app_builder):
    args are Settings fields (plus `insecure_no_auth`); the rest comes from LOCALVISION_*
    variables, as everywhere. The app counts as reachable from the cluster unless told
    otherwise (scale.builder_settings)."""
    settings, insecure = builder_settings(args)
    return build(settings, insecure)


def deploy(settings: Settings) -> str:
    """Start Serve's proxy on --host/--port and deploy the app; returns once every replica has
    its model loaded. Returns the address."""
    connect(settings)
    serve.start(http_options={"host": settings.host, "port": settings.port})
    # `serve --ray` has applied the policy already (cli/admin.serve_auth): auth is off on a
    # public address only when --insecure-no-auth said so
    app = build(settings, insecure_no_auth=settings.auth == "off")
    serve.run(app, name=APP_NAME, route_prefix="/", blocking=False)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"http://{host}:{settings.port}/"


def run(settings: Settings, say: Callable[[str], None]) -> None:
    """`localvision serve --ray`: deploy, say where, serve until interrupted, then take the app
    down (and the local cluster, when this command started it)."""
    import ray

    started_here = not settings.ray_address and not ray.is_initialized()
    if not settings.ray_address:  # a local cluster: the default replicas must fit its CPUs
        connect(settings)
        settings = sized(settings, ray.available_resources().get("CPU", 0.0))
    url = deploy(settings)
    size = pool_size(settings)
    replicas = f"{size[0]}-{size[1]} replicas (autoscaled)" if isinstance(size, tuple) else (
        f"{size} replica" + ("s" if size != 1 else "")
    )
    say(f"ready: open {url} in your browser (Ray Serve, {replicas}, "
        f"{settings.ray_cpus_per_replica:g} CPU each)")  # fmt: skip
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        serve.delete(APP_NAME)
        if started_here:
            serve.shutdown()
            ray.shutdown()
