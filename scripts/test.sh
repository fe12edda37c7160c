#!/usr/bin/env bash
# Set up and run the whole test suite: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# The speech tests synthesise their audio with espeak-ng and use sox; PortAudio and libsndfile back
# sounddevice and soundfile; the web console is tested in Debian's Chromium (Playwright drives it).
# Installed from Debian when missing (root only), skipped when present.
if ! command -v espeak-ng >/dev/null || ! command -v sox >/dev/null || ! ldconfig -p | grep libportaudio >/dev/null || [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng sox libportaudio2 libsndfile1 chromium >/dev/null
    else
        echo "scripts/test.sh: install espeak-ng, sox, libportaudio2 and chromium for the speech and console tests (skipped without them)" >&2
    fi
fi
export HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
