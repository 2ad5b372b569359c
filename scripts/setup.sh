#!/usr/bin/env bash
# Creates ./.venv and installs localvision into it (with the test extras when given "test").
#
# The first run says what it installs and shows pip's progress (torch alone is a few minutes).
# A rerun with nothing changed says nothing and takes well under a second: the install is
# recorded in .venv/.setup-<extras> with a hash of pyproject.toml, and pip runs again only when
# that changed (the package itself is installed editable, so code changes need no reinstall).
# `bash scripts/setup.sh --check [test]` exits 0 when the install is current, 1 when not.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
TORCH=("torch==2.14.1" "torchvision==0.29.1")

check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
# The base install reads text in photos too (the `text` extra: rapidocr, whose models ship in
# its wheel), so the service the README starts has every door; the test extra includes it.
extras="[text]"; name="base"
if [ "${1:-}" = "test" ]; then extras="[test]"; name="test"; fi

say() { printf 'setup: %s\n' "$*" >&2; }

# What an install depends on: the project's metadata and the pinned torch.
want="$( { cat pyproject.toml; printf '%s\n' "${TORCH[@]}"; } | sha256sum | cut -d' ' -f1)"
current() {  # the test install covers the base one
    local n
    for n in "$name" $([ "$name" = base ] && echo test); do
        [ -f ".venv/.setup-$n" ] && [ "$(cat ".venv/.setup-$n")" = "$want" ] && return 0
    done
    return 1
}
if [ -x .venv/bin/localvision ] && current; then
    exit 0
fi
if [ "$check" = 1 ]; then exit 1; fi

pip_opts=(--disable-pip-version-check)
if [ ! -x .venv/bin/python ]; then
    say "creating ./.venv with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv .venv
else
    # An update (pyproject.toml changed): pip's per-package lines would be mostly "already
    # satisfied", so only the steps are shown.
    say "updating ./.venv (pyproject.toml changed, or no finished install is recorded)"
    pip_opts+=(--quiet)
fi
rm -f .venv/.setup-base .venv/.setup-test
# torch/torchvision first and pinned: on the reference machines they install from local disk.
say "[1/2] installing ${TORCH[*]} (the largest part; a few minutes on a first install)"
.venv/bin/pip install "${pip_opts[@]}" "${TORCH[@]}"
say "[2/2] installing localvision${extras} and its dependencies (editable, from this checkout)"
.venv/bin/pip install "${pip_opts[@]}" -e ".${extras}"
echo "$want" > ".venv/.setup-$name"
say "done. To use the localvision command: source .venv/bin/activate (or run .venv/bin/localvision)"
