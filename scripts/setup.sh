#!/usr/bin/env bash
# Creates ./.venv and installs localvision into it (with the test extras when given "test").
# Safe to run again: pip skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
extras=""
if [ "${1:-}" = "test" ]; then extras="[test]"; fi
# torch/torchvision first and pinned: on the reference machines they install from local disk.
.venv/bin/pip install --quiet --disable-pip-version-check "torch==2.14.1" "torchvision==0.29.1"
.venv/bin/pip install --quiet --disable-pip-version-check -e ".${extras}"
