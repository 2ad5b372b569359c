"""Ray Serve serving the bench's seeded ResNet-18 in eager PyTorch, batched by ``@serve.batch``.

    python -m bench.rivals.rayserve_app --weights r18.pth --port 8000
    curl -H 'Content-Type: image/jpeg' --data-binary @photo.jpg http://127.0.0.1:8000/predict

One deployment, ``ResNet18``, route ``/predict``: ``__call__`` reads the raw image body and
hands it to ``classify``, which ``@serve.batch`` calls with up to ``MAX_BATCH`` bodies, waiting
at most ``BATCH_WAIT_S``; it decodes and preprocesses each with the classic torchvision
transforms (bench/rivals/common.py), runs one forward, and answers each request with
TorchServe's top-5 ``{label: prob}``.

Settings: a local Ray started by this script (``ray.init(num_cpus=2)``, no dashboard, usage
stats off), Serve's HTTP proxy on a loopback port, 1 replica with ``num_cpus=2`` (Ray sets a
worker's ``OMP_NUM_THREADS`` to its CPUs, so this lets torch use both cores, as the others do)
and ``max_ongoing_requests=16`` (room for the 8 clients to fill a batch).

RSS counts the whole tree of this script: the driver, ``gcs_server``, ``raylet`` (it holds the
object store), the dashboard and runtime-env agents, log monitor, and the Ray workers the raylet
starts: ``ServeController``, the HTTP ``ProxyActor`` and the ``ResNet18`` replica (plus any idle
pre-started workers). ``server`` is the bench's starter for it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

from bench.rivals import server_args

MAX_BATCH = 8
BATCH_WAIT_S = 0.005
PREDICT_PATH = "/predict"
REPLICA_CPUS = 2


def build_app(weights: str):
    from ray import serve
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    @serve.deployment(num_replicas=1, max_ongoing_requests=16,
                      ray_actor_options={"num_cpus": REPLICA_CPUS})
    class ResNet18:
        def __init__(self, weights_path: str):
            from bench.rivals import common

            self.common = common
            self.model = common.load_model(weights_path)

        @serve.batch(max_batch_size=MAX_BATCH, batch_wait_timeout_s=BATCH_WAIT_S)
        async def classify(self, bodies: list[bytes]) -> list[dict]:
            import torch

            batch = torch.stack([self.common.preprocess(b) for b in bodies])
            return self.common.predict(self.model, batch)

        async def __call__(self, request: Request):
            return JSONResponse(await self.classify(await request.body()))

    return ResNet18.bind(weights)


def main(argv: list[str] | None = None) -> None:
    import ray
    from ray import serve

    args = server_args(__doc__.splitlines()[0], argv)
    repo = str(Path(__file__).resolve().parents[2])
    ray.init(num_cpus=REPLICA_CPUS, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": repo}})
    serve.start(http_options={"host": args.host, "port": args.port})
    serve.run(build_app(args.weights), name="resnet18", route_prefix=PREDICT_PATH)
    print("rayserve_app: serving", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    serve.shutdown()
    ray.shutdown()


def settings() -> dict:
    return {
        "replicas": 1,
        "replica_num_cpus": REPLICA_CPUS,
        "max_batch_size": MAX_BATCH,
        "batch_wait_timeout_ms": BATCH_WAIT_S * 1000,
        "max_ongoing_requests": 16,
        "rss_counts": "driver + gcs_server + raylet + agents + ServeController + ProxyActor + replica",
    }


@contextlib.contextmanager
def server(weights: Path, tmp: Path, log_path: Path) -> Iterator:
    """The app under a private Ray, ready once ``/predict`` answers (the bench's starter)."""
    from bench.rivals.launch import REPO, module_server

    env = {
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_TMPDIR": str(tmp / "ray"),  # its sockets and logs stay in the run's temp dir
        "PYTHONPATH": f"{REPO}:{os.environ.get('PYTHONPATH', '')}",
    }
    (tmp / "ray").mkdir(exist_ok=True)
    with module_server("bench.rivals.rayserve_app", weights, PREDICT_PATH, log_path,
                       settings=settings(), env=env) as running:
        yield running


if __name__ == "__main__":
    main()
