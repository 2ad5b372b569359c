"""Work that needs torch, run in a child process so torch's memory goes away with it.

A child is a module of this package run as `python -m MODULE ARGS...` (models/package_child.py,
export_child.py): `run_child` starts it within a time limit; the child's `child_main` prints a
typed error as one JSON line and exits 3, and the parent raises that same error again, so a
corrupt weights file reads the same whether it was found here or in the child.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Callable, Sequence

from .errors import LocalVisionError, ModelError

TYPED_ERROR_EXIT = 3


def run_child(module: str, args: Sequence[str], what: str, timeout: float) -> None:
    """Run `python -m module args...` within `timeout` seconds; its typed errors come back as
    themselves, anything else as one ModelError line naming `what`."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", module, *args], capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise ModelError(
            f"{what} took longer than {timeout:g} s and was stopped.",
            hint="raise LOCALVISION_EXPORT_TIMEOUT_S on a slow machine",
        ) from None
    if proc.returncode == TYPED_ERROR_EXIT:
        raise LocalVisionError.from_dict(json.loads(proc.stdout.strip().splitlines()[-1]))
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit code {proc.returncode}"
        raise ModelError(f"{what} failed: {detail}")


def child_main(work: Callable[[list[str]], None]) -> None:
    """A child's body: `work(sys.argv[1:])`; a typed error is printed for `run_child` to read."""
    try:
        work(sys.argv[1:])
    except LocalVisionError as exc:
        print(json.dumps({**exc.to_dict(), "hint": exc.hint}))
        sys.exit(TYPED_ERROR_EXIT)
