#!/usr/bin/env bash
# Set up a virtual environment in .venv with the assistant and its training extra.
# Idempotent: a second run only installs what is missing.
#   bash scripts/setup.sh          runtime + training
#   bash scripts/setup.sh test     also the test tools
set -euo pipefail
cd "$(dirname "$0")/.."
extras="train"
[ "${1:-}" = "test" ] && extras="train,test"
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
# torch is pinned to the CPU build (torch==2.13.0 in the train extra): an unpinned torch pulls GBs of CUDA.
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$extras]"
