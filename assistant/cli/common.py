"""What the commands share: settings with their flags applied, audio and engine options, the microphone."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
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


def add_json_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="the whole result as JSON even on a terminal (piped output always is)")


def emit(result, args: argparse.Namespace, readable: Callable[[object], str]) -> None:
    """A command's answer: `readable(result)` for a person at a terminal; one line of JSON for a pipe, a script or
    `--json` (`result` a pydantic model or plain data)."""
    if getattr(args, "json", False) or not sys.stdout.isatty():
        print(result.model_dump_json() if hasattr(result, "model_dump_json") else json.dumps(result, ensure_ascii=False), flush=True)
    else:
        print(readable(result), flush=True)


def brief(result, top: int = 0) -> str:
    """A parse result as a person reads it: `LightsOff 0.998 (grammar)  room=kitchen`, then `top` ranking lines.

    Slots show their canonical value, and the words said when they differ (`room=living_room ("lounge")`)."""
    if result.intent is None:
        why = result.warnings[-1] if result.warnings else f"out of scope ({result.rejected_by or 'no intent'})"
        best = f"; nearest {result.intent_ranking[0].name} {result.intent_ranking[0].confidence:.3f}" if result.intent_ranking else ""
        line = f"- {why}{best}"
    else:
        slots = "  ".join(f"{e.slot}={e.value}" + (f' ("{e.text}")' if e.text and str(e.value) != e.text else "") for e in result.entities)
        flags = ", ".join([result.source or "model"] + (["ambiguous"] if result.ambiguous else []) + (["repaired"] if result.repair else []))
        line = f"{result.intent.name} {result.intent.confidence:.3f} ({flags})" + (f"  {slots}" if slots else "")
    ranking = [f"  {i + 1}. {s.name} {s.confidence:.3f}" for i, s in enumerate(result.intent_ranking[:top])]
    return "\n".join([line, *ranking])


def heard(transcript) -> str:
    """A transcript as a person reads it: `"turn on the lights" (whisper tiny.en, domain, confidence 0.93)`."""
    text = f'"{transcript.text}"' if transcript.text else "nothing heard"
    return f"{text} ({transcript.engine} {transcript.model}, {transcript.mode}, confidence {transcript.confidence:.2f})"


def recognized(result) -> str:
    """A spoken command's result: the parse as `brief` says it, then what was heard and how long it took."""
    said = heard(result.asr) if result.asr is not None else f'typed "{result.text}"'
    return f"{brief(result)}\n  {said}; {result.timings.latency_ms:.0f} ms after the end of the audio"
