"""Child program: package a registry model's published weights into the store.

`python -m localvision.models.package_child JOB_JSON`, started by resolve.py through
child.run_child: reading a .pth needs torch, whose memory then leaves with this process.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..child import child_main
from .registry import get_spec
from .store import package_registry_model


def _package(args: list[str]) -> None:
    job = json.loads(args[0])
    package_registry_model(
        get_spec(job["model"]), Path(job["weights"]), job["origin"], Path(job["dest"])
    )


if __name__ == "__main__":
    child_main(_package)
