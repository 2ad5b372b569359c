"""The servers users would pick instead of localvision, run beside it by ``python -m bench.run``.

Each rival serves the same seeded random ResNet-18 state dict as the classic recipe, in eager
PyTorch with the classic torchvision preprocessing and its own batching, and answers one raw
image body (``POST``, ``Content-Type: image/jpeg``) with TorchServe's top-5 ``{label: prob}``:

- ``torchserve_rival``: TorchServe (Java frontend + Python workers), a .mar built by
  torch-model-archiver with the built-in ``image_classifier`` handler, ``/predictions/resnet18``;
- ``litserve_app``: LitServe with ``max_batch_size``/``batch_timeout``, ``/predict``;
- ``rayserve_app``: Ray Serve with ``@serve.batch``, ``/predict``.

``RIVALS`` maps a row name to (module, the path the load generator posts to). Each module has
``server(weights, tmp, log_path)``: a context manager shaped like ``http_bench.localvision_server``
(yields server, lifetime RSS sampler, start-up facts). ``parity.py`` checks that the same client
calls give the same top-1 through TorchServe and localvision's v2 and TorchServe routes.
"""

from __future__ import annotations

import argparse
import importlib

RIVALS = {
    "torchserve": ("bench.rivals.torchserve_rival", "/predictions/resnet18"),
    "litserve": ("bench.rivals.litserve_app", "/predict"),
    "rayserve": ("bench.rivals.rayserve_app", "/predict"),
}


def starter(name: str):
    """The module's ``server`` function for rival ``name`` (imported only when it runs)."""
    return importlib.import_module(RIVALS[name][0]).server


def server_args(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    """A rival app's command line: --weights (the seeded state dict), --host, --port. (Here, not
    in common.py, which imports torch: Ray Serve's driver must not load it.)"""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    return ap.parse_args(argv)
