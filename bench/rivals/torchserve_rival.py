"""TorchServe as users set it up for an image classifier, on the bench's seeded ResNet-18.

``build_mar`` writes a model file defining ``ResNet18`` (torchvision's ResNet with BasicBlock
[2, 2, 2, 2]), an ``index_to_name.json`` from torchvision's ImageNet categories, and archives
them with the seeded state dict by ``torch-model-archiver --handler image_classifier`` (eager
mode: the built-in handler's PIL decode + Resize 256 / CenterCrop 224 / Normalize, softmax,
top 5 as ``{label: prob}``). ``server`` starts ``torchserve --start --foreground --ncs`` with a
config.properties written here:

- batching on: ``batchSize`` 8 and ``maxBatchDelay`` 5 ms (localvision's micro-batcher waits at
  most a few ms for a batch of up to 8 too);
- ``WORKERS`` workers (see below), models loaded at start, token authorization off, the metrics
  API and system metrics off, inference / management / metrics on free loopback ports.

Workers: TorchServe's default is one per logical CPU (2 here), each an eager-PyTorch process
with its own copy of the model. With two workers one decodes/preprocesses while the other runs
the model, which is what a 2-core box needs when the 4 MP decode costs as much as the model;
each worker gets ``OMP_NUM_THREADS=1`` (TorchServe's CPU performance guide: workers × threads =
cores) so the two do not oversubscribe the cores. ``WORKERS=1`` (one worker, 2 threads) is the
alternative; ``BENCH_TORCHSERVE_WORKERS`` overrides the choice.

RSS counts every process of the tree: the ``torchserve`` Python launcher, the Java frontend
(netty, its JVM heap) and each Python backend worker (``ts/model_service_worker.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.loadgen import ProcessTreeRSS
from bench.rivals.launch import rival_server
from bench.servers import Server, free_port

MODEL_NAME = "resnet18"
BATCH_SIZE = 8
MAX_BATCH_DELAY_MS = 5
WORKERS = int(os.environ.get("BENCH_TORCHSERVE_WORKERS", "2"))
PREDICT_PATH = f"/predictions/{MODEL_NAME}"

MODEL_FILE = '''"""ResNet-18 for TorchServe's eager mode: the file must define exactly one nn.Module class."""
from torchvision.models.resnet import BasicBlock, ResNet


class ResNet18(ResNet):
    def __init__(self):
        super().__init__(BasicBlock, [2, 2, 2, 2])
'''


def bin_path(name: str) -> str:
    """A console script of this venv (``torchserve``, ``torch-model-archiver``)."""
    here = Path(sys.executable).with_name(name)
    return str(here) if here.exists() else (shutil.which(name) or name)


def index_to_name() -> dict[str, str]:
    from torchvision.models import ResNet18_Weights

    return {str(i): c for i, c in enumerate(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])}


def build_mar(weights: Path, work: Path) -> Path:
    """``<work>/store/resnet18.mar`` from the seeded state dict (eager model file + handler)."""
    src, store = work / "src", work / "store"
    src.mkdir(parents=True, exist_ok=True)
    store.mkdir(parents=True, exist_ok=True)
    (src / "model.py").write_text(MODEL_FILE)
    (src / "index_to_name.json").write_text(json.dumps(index_to_name()))
    cmd = [
        bin_path("torch-model-archiver"), "--model-name", MODEL_NAME, "--version", "1.0",
        "--model-file", str(src / "model.py"), "--serialized-file", str(weights),
        "--handler", "image_classifier", "--extra-files", str(src / "index_to_name.json"),
        "--export-path", str(store), "--force",
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300)
    return store / f"{MODEL_NAME}.mar"


def config_properties(store: Path, port: int, workers: int) -> str:
    models = {
        MODEL_NAME: {
            "1.0": {
                "defaultVersion": True,
                "marName": f"{MODEL_NAME}.mar",
                "minWorkers": workers,
                "maxWorkers": workers,
                "batchSize": BATCH_SIZE,
                "maxBatchDelay": MAX_BATCH_DELAY_MS,
                "responseTimeout": 120,
            }
        }
    }
    return "\n".join([
        f"inference_address=http://127.0.0.1:{port}",
        f"management_address=http://127.0.0.1:{free_port()}",
        f"metrics_address=http://127.0.0.1:{free_port()}",
        "disable_token_authorization=true",
        "enable_metrics_api=false",
        "disable_system_metrics=true",
        "install_py_dep_per_model=false",
        f"model_store={store}",
        f"load_models={MODEL_NAME}.mar",
        f"default_workers_per_model={workers}",
        f"models={json.dumps(models)}",
        "",
    ])  # fmt: skip


def settings(workers: int = WORKERS) -> dict:
    return {
        "handler": "image_classifier (eager model file + state dict)",
        "workers": workers,
        "omp_threads_per_worker": max(1, 2 // workers),
        "batch_size": BATCH_SIZE,
        "max_batch_delay_ms": MAX_BATCH_DELAY_MS,
        "rss_counts": "torchserve launcher + Java frontend + every Python worker",
    }


@contextlib.contextmanager
def server(weights: Path, tmp: Path, log_path: Path
           ) -> Iterator[tuple[Server, ProcessTreeRSS, dict]]:
    """TorchServe serving the .mar, ready once ``/predictions/resnet18`` answers."""
    work = tmp / "torchserve"
    store = build_mar(weights, work).parent
    port = free_port()
    cfg = work / "config.properties"
    cfg.write_text(config_properties(store, port, WORKERS))
    cmd = [bin_path("torchserve"), "--start", "--foreground", "--ncs", "--disable-token-auth",
           "--ts-config", str(cfg), "--model-store", str(store)]  # fmt: skip
    env = {
        # the workers are started with the `python` on PATH: this venv's
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "OMP_NUM_THREADS": str(max(1, 2 // WORKERS)),
        "LOG_LOCATION": str(work / "logs"),
        "METRICS_LOCATION": str(work / "logs"),
        "TS_DISABLE_SYSTEM_METRICS": "true",
    }
    with rival_server(cmd, PREDICT_PATH, log_path, env=env, cwd=work, port=port,
                      settings=settings()) as running:
        yield running
