"""`localvision bench`: the model alone, timed (benchmark.py); the full suite is bench/ in a
source checkout."""

from __future__ import annotations

import typer
from rich.table import Table

from ..config import Settings
from . import render
from .options import settings_options
from .shared import describe, load


@settings_options("model", "weights", "backend", "device", "precision", "offline", "model_dir")
def bench(
    *,
    settings: Settings,
    batch: int = typer.Option(16, "--batch", min=1, help="Batch size for the throughput figure."),
    iterations: int = typer.Option(30, "--iterations", min=1, help="Timed batch-1 calls."),
):
    """Time the model alone: batch-1 latency (p50, p99) and batch throughput.

    The full suite (HTTP load, the classic baseline, ratios) is `python -m bench.run` in a
    source checkout."""
    from ..benchmark import bench_backend

    clf = load(settings)
    # a backend failing while timed is InferenceFailed (benchmark.py, road.backend_failures)
    result = bench_backend(clf.backend, clf.spec.preprocess.crop, batch, iterations)
    table = Table(title=f"localvision bench · {describe(clf)}", title_justify="left")
    for key in result:
        table.add_column(key)
    table.add_row(*(str(v) for v in result.values()))
    render.out.print(table)
