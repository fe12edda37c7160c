"""`assistant transcribe | recognize | listen | models`: speech to text and to intent from files and the microphone.

The engines and models are imported by the command that uses them.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from assistant.cli.common import (UsageError, add_audio_options, add_engine_options, add_json_option, emit, heard, open_microphone, read_audio,
                                  recognized, settings_of)
from assistant.config import Settings

log = logging.getLogger(__name__)


def load_service(args: argparse.Namespace, settings: Settings, speech: bool = True):
    """The NLU model of the settings (trained on first use) and, with `speech`, the engine the flags ask for: it must load."""
    from assistant.speech.service import Service, SpeechOptions

    options = SpeechOptions(enabled=speech, required=True, engine=getattr(args, "engine", None),
                            vosk_model=getattr(args, "vosk_model", None), mode=getattr(args, "mode", None),
                            second=getattr(args, "second_engine", None))
    service = Service(settings, options)
    service.start()
    return service


def cmd_transcribe(args: argparse.Namespace) -> int:
    """Speech to text only; the domain for biased mode comes from the NLU model, else from the intent files."""
    from assistant.intents import load_domain
    from assistant.intents.schema import Domain
    from assistant.nlu import bundle
    from assistant.speech.engines import load_recognizer
    from assistant.speech.pipeline import transcribe

    settings = settings_of(args)
    audio = read_audio(args, settings)
    domain = None
    if args.mode != "free":
        folder = settings.model_folder()
        intents = settings.path(settings.nlu.intents)
        if (folder / bundle.DOMAIN).is_file():
            domain = Domain.model_validate_json((folder / bundle.DOMAIN).read_bytes())
        elif intents and intents.exists():
            domain = load_domain(intents)
    recognizer = load_recognizer(settings, domain, args.engine, args.vosk_model)
    mode = args.mode or (settings.speech.mode if settings.speech.mode in recognizer.modes() else None)
    emit(transcribe(recognizer, audio, mode), args, heard)
    return 0


def cmd_recognize(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    if args.text is not None and args.file:
        raise UsageError("give an audio file or --text, not both")
    if args.text is not None:
        if not args.text.strip():
            raise UsageError("--text is empty: give the words to understand")
        pipeline = load_service(args, settings, speech=False).current().pipeline
        emit(pipeline.recognize_text(args.text), args, recognized)
        return 0
    audio = read_audio(args, settings)
    emit(load_service(args, settings).current().pipeline.recognize_audio(audio), args, recognized)
    return 0


def cmd_listen(args: argparse.Namespace) -> int:
    from assistant.speech.pipeline import listen

    settings = settings_of(args)
    blocks = open_microphone(settings, args.device)
    pipeline = load_service(args, settings).current().pipeline
    log.info("listening: speak a command (Ctrl-C to stop)")

    def partial(text: str) -> None:
        print(f"\r… {text[-70:]:<72}", end="", file=sys.stderr, flush=True)

    for result in listen(pipeline, blocks, settings.speech.max_seconds, partial if sys.stderr.isatty() else None,
                         rate=settings.speech.sample_rate):
        if sys.stderr.isatty():
            print("\r" + " " * 76 + "\r", end="", file=sys.stderr)
        emit(result, args, recognized)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from assistant.speech.engines import find_engines, vosk_download

    settings = settings_of(args)
    engines = find_engines(settings)
    if args.json:
        print(json.dumps({"engines": [e.model_dump() for e in engines], "vosk_download": vosk_download(settings)}, indent=2))
        return 0
    if not engines:
        print("no speech engine installed: pip install 'assistant[speech]'")
    for e in engines:
        mark = "*" if e.default else " "
        where = f"  {e.path}" if e.path else ""
        print(f"{mark} {e.engine:<13} {e.model:<28} language {e.language:<10} modes {','.join(e.modes):<12} ({e.source}){where}")
        if e.note:
            print(f"  {'':<13} {e.note}")
    if engines:
        print("\n* the default: used by transcribe, recognize, listen and daemon unless --engine or --vosk-model says otherwise")
    if not any(e.engine == "vosk" and e.language == "en" for e in engines):
        print("\n" + vosk_download(settings))
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("transcribe", help="speech to text: the transcript on a terminal; with word timings and confidence as JSON when piped")
    add_audio_options(p)
    add_engine_options(p)
    add_json_option(p)
    p.set_defaults(run=cmd_transcribe, quiet=True)

    p = sub.add_parser("recognize", help="speech to intent: the intent, slots and what was heard on a terminal; the whole result "
                                         "(transcript, timings) as JSON when piped")
    add_audio_options(p)
    p.add_argument("--text", help="understand this text instead of audio (same result schema)")
    add_engine_options(p)
    add_json_option(p)
    p.set_defaults(run=cmd_recognize, quiet=True)

    p = sub.add_parser("listen", help="recognise commands from the microphone: a line each on a terminal, a JSON line each when piped")
    p.add_argument("--device", help="input device name or index (default: speech.input_device, else the system's)")
    add_engine_options(p)
    add_json_option(p)
    p.set_defaults(run=cmd_listen)

    p = sub.add_parser("models", help="list the speech engines and models found, and how to add a Vosk model")
    p.add_argument("--json", action="store_true", help="as JSON")
    p.set_defaults(run=cmd_models, quiet=True)
