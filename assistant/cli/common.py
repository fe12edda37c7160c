"""What the commands share: settings with their flags applied, audio and engine options, the microphone."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

from assistant.config import Settings, load_settings
from assistant.errors import AssistantError
from assistant.speech.audio import Audio, load_audio, microphone


class UsageError(AssistantError):
    """A problem with what the user asked for on the command line."""


def settings_of(args: argparse.Namespace) -> Settings:
    """config.toml and the environment, read afresh (a reload sees an edited file), with `--model` on top."""
    settings = load_settings(args.config)
    if getattr(args, "model", None):
        settings.nlu.model = Path(args.model)
    return settings


def add_model_option(p: argparse.ArgumentParser, what: str = "model folder") -> None:
    p.add_argument("--model", help=f"{what} (default: nlu.model, else the current version of nlu.models)")


def add_engine_options(p: argparse.ArgumentParser, mode: bool = True) -> None:
    p.add_argument("--engine", choices=["auto", "vosk", "whisper", "pocketsphinx"], help="speech engine (default: speech.engine from config)")
    p.add_argument("--vosk-model", help="a Vosk model folder or an installed vosk_model_* package name (default: speech.vosk_model)")
    p.add_argument("--second-engine", choices=["auto", "none", "vosk", "whisper", "pocketsphinx"],
                   help="engine that hears a command again when the first is too unsure (default: speech.second_engine)")
    if mode:
        p.add_argument("--mode", choices=["domain", "free"], help="domain-biased or free-form recognition (default: speech.mode)")
    add_model_option(p, "NLU model folder")


def add_audio_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", help="a WAV, FLAC, OGG, MP3 or AIFF file, or raw 16-bit PCM with --rate and --channels")
    p.add_argument("--rate", type=float, help="sample rate of raw PCM input (default: read from the file's header)")
    p.add_argument("--channels", type=int, help="channel count of raw PCM input (default: read from the file's header)")


def read_audio(args: argparse.Namespace, settings: Settings) -> Audio:
    if not args.file:
        raise UsageError("give an audio file")
    return load_audio(args.file, settings.speech.max_seconds, args.rate, args.channels)


def open_microphone(settings: Settings, device: str | None = None) -> Iterator[bytes]:
    """16-bit blocks at `speech.sample_rate` from the microphone, opened now: no microphone fails here, not after
    minutes of model loading."""
    blocks = microphone(settings.speech.sample_rate, device or settings.speech.input_device or None)
    first = next(blocks)

    def all_blocks() -> Iterator[bytes]:
        yield first
        yield from blocks

    return all_blocks()
