"""LitServe serving the bench's seeded ResNet-18 in eager PyTorch, with LitServe's batching.

    python -m bench.rivals.litserve_app --weights r18.pth --port 8000
    curl -H 'Content-Type: image/jpeg' --data-binary @photo.jpg http://127.0.0.1:8000/predict

``POST /predict`` takes the raw image body (``decode_request`` is annotated with a FastAPI
``Body`` of bytes, so LitServe hands the body through instead of parsing JSON) and answers
TorchServe's top-5 ``{label: prob}``. ``decode_request`` decodes and preprocesses with the
classic torchvision transforms (bench/rivals/common.py); LitServe gathers up to ``MAX_BATCH``
requests, waiting at most ``BATCH_TIMEOUT_S``, ``batch`` stacks them, ``predict`` runs one
forward, ``unbatch``/``encode_response`` answer each request.

Settings: accelerator cpu, 1 inference worker (``workers_per_device=1``: one copy of the model,
torch's intra-op threads use both cores for the batch), 1 API server process (LitServe's
default: uvicorn in its own process, feeding the worker through queues), max batch 8, batch
timeout 5 ms. RSS counts the launcher, the API server process and the inference worker
(LitServe starts them with multiprocessing, so they are children of the launcher).
``server`` is the bench's starter for it.
"""

# no `from __future__ import annotations`: LitServe passes decode_request's annotation to FastAPI

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import litserve as ls
import torch
from fastapi import Body

from bench.rivals import common, server_args

MAX_BATCH = 8
BATCH_TIMEOUT_S = 0.005
PREDICT_PATH = "/predict"
WEIGHTS_ENV = "BENCH_RIVAL_WEIGHTS"  # LitServe spawns its worker: the path travels in the env


class ResNet18API(ls.LitAPI):
    """The classic recipe in LitServe's lifecycle; the weights path comes from ``WEIGHTS_ENV``."""

    def setup(self, device):
        self.model = common.load_model(os.environ[WEIGHTS_ENV])

    def decode_request(self, request: Annotated[bytes, Body(media_type="image/jpeg")]):
        return common.preprocess(request)

    def batch(self, inputs):
        return torch.stack(inputs)

    def predict(self, x):
        return common.predict(self.model, x)

    def unbatch(self, output):
        return list(output)

    def encode_response(self, output):
        return output


def main(argv: list[str] | None = None) -> None:
    args = server_args(__doc__.splitlines()[0], argv)
    os.environ[WEIGHTS_ENV] = args.weights
    api = ResNet18API(max_batch_size=MAX_BATCH, batch_timeout=BATCH_TIMEOUT_S,
                      api_path=PREDICT_PATH)
    server = ls.LitServer(api, accelerator="cpu", workers_per_device=1)
    server.run(host=args.host, port=args.port, num_api_servers=1, generate_client_file=False,
               log_level="warning")


def settings() -> dict:
    return {
        "inference_workers": 1,
        "api_servers": 1,
        "max_batch_size": MAX_BATCH,
        "batch_timeout_ms": BATCH_TIMEOUT_S * 1000,
        "rss_counts": "launcher + API server process + inference worker",
    }


@contextlib.contextmanager
def server(weights: Path, tmp: Path, log_path: Path) -> Iterator:
    """The app, ready once ``/predict`` answers (the bench's starter)."""
    from bench.rivals.launch import module_server

    with module_server("bench.rivals.litserve_app", weights, PREDICT_PATH, log_path,
                       settings=settings(), env={"LITSERVE_DISABLE_TELEMETRY": "1"}) as running:  # fmt: skip
        yield running


if __name__ == "__main__":
    main()
