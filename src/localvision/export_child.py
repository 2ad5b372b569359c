"""Child program: export a package to a backend's fp32 artifact.

`python -m localvision.export_child PACKAGE_DIR BACKEND`, started by engine/factory.py through
child.run_child on a first start: the export needs torch, whose memory then leaves with this
process, so the serving process never holds it.
"""

from __future__ import annotations

from pathlib import Path

from .child import child_main
from .export import Target, export
from .models.store import read_package


def _export(args: list[str]) -> None:
    path, backend = args[:2]
    export(read_package(Path(path)), Target(backend, "fp32", "cpu", 0))


if __name__ == "__main__":
    child_main(_export)
