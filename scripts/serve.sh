#!/usr/bin/env bash
# Set up (first run only) and start the web service on the embedded defaults.
# Extra arguments go to `localvision serve` (e.g. --port 9000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/localvision serve "$@"
