"""CLI commands of the speech front end and the daemon, registered into `assistant.cli`.

    assistant transcribe FILE        speech to text (JSON)
    assistant recognize FILE         speech to intent (JSON); --text for typed input, same schema
    assistant listen                 the microphone, one JSON line per utterance
    assistant models                 the engines and models found, and how to get a Vosk model
    assistant daemon                 serve the models over Wyoming
    assistant client FILE|--text     ask a running daemon
"""

from __future__ import annotations

import functools
import json
import logging
import sys

log = logging.getLogger("assistant")


def _clean_errors(run):
    """Errors of audio, engines and the daemon as one line on stderr and exit status 2, like the rest of the CLI."""

    @functools.wraps(run)
    def wrapper(args) -> int:
        from assistant.daemon.client import DaemonError
        from assistant.speech.audio import AudioError
        from assistant.speech.engines import SpeechError

        try:
            return run(args)
        except (AudioError, SpeechError, DaemonError) as e:
            print(f"assistant: {e}", file=sys.stderr)
            return 2

    return wrapper


def _settings(args):
    from assistant.cli import _settings as settings_of

    return settings_of(args)


def _engine_options(p, mode: bool = True) -> None:
    p.add_argument("--engine", choices=["auto", "vosk", "pocketsphinx"], help="speech engine (default: speech.engine from config)")
    p.add_argument("--vosk-model", help="a Vosk model folder or an installed vosk_model_* package name")
    if mode:
        p.add_argument("--mode", choices=["domain", "free"], help="domain-biased or free-form recognition (default: speech.mode)")
    p.add_argument("--model", help="NLU model folder (default: nlu.model, else the current version of nlu.models)")


def _audio_options(p) -> None:
    p.add_argument("file", nargs="?", help="a WAV, FLAC or OGG file, or raw 16-bit PCM with --rate and --channels")
    p.add_argument("--rate", type=float, help="sample rate of raw PCM input")
    p.add_argument("--channels", type=int, help="channel count of raw PCM input")


def _read_audio(args, settings):
    from assistant.cli import UsageError
    from assistant.speech.audio import load_audio

    if not args.file:
        raise UsageError("give an audio file")
    return load_audio(args.file, settings.speech.max_seconds, args.rate, args.channels)


def _pipeline(args, settings, speech: bool = True):
    from assistant.speech.pipeline import load_pipeline

    return load_pipeline(settings, args.engine, args.vosk_model, args.model, getattr(args, "mode", None), speech)


@_clean_errors
def cmd_transcribe(args) -> int:
    """Speech to text only; the domain for biased mode comes from the NLU model, else from the intent files."""
    from assistant.intents import load_domain
    from assistant.intents.schema import Domain
    from assistant.nlu import bundle
    from assistant.speech.engines import load_recognizer, transcribe

    settings = _settings(args)
    audio = _read_audio(args, settings)
    domain = None
    if args.mode != "free":
        folder = settings.model_folder()
        if (folder / bundle.DOMAIN).is_file():
            domain = Domain.model_validate_json((folder / bundle.DOMAIN).read_bytes())
        elif settings.path(settings.nlu.intents) and settings.path(settings.nlu.intents).exists():
            domain = load_domain(settings.path(settings.nlu.intents))
    recognizer = load_recognizer(settings, domain, args.engine, args.vosk_model)
    mode = args.mode or (settings.speech.mode if settings.speech.mode in recognizer.modes() else None)
    print(transcribe(recognizer, audio, mode).model_dump_json(indent=2))
    return 0


@_clean_errors
def cmd_recognize(args) -> int:
    from assistant.cli import UsageError

    settings = _settings(args)
    if args.text is not None and args.file:
        raise UsageError("give an audio file or --text, not both")
    if args.text is not None:
        print(_pipeline(args, settings, speech=False).recognize_text(args.text).model_dump_json(indent=2))
        return 0
    audio = _read_audio(args, settings)
    print(_pipeline(args, settings).recognize_audio(audio).model_dump_json(indent=2))
    return 0


@_clean_errors
def cmd_listen(args) -> int:
    from assistant.speech.audio import microphone
    from assistant.speech.pipeline import listen

    settings = _settings(args)
    blocks = microphone(settings.speech.sample_rate, args.device or settings.speech.input_device or None)
    first = next(blocks)  # opens the device: no microphone fails here, before minutes of model loading
    pipeline = _pipeline(args, settings)
    if pipeline.recognizer.rate != settings.speech.sample_rate:
        blocks.close()
        blocks = microphone(pipeline.recognizer.rate, args.device or settings.speech.input_device or None)
    else:
        blocks = _prepend(first, blocks)
    log.info("listening: speak a command (Ctrl-C to stop)")

    def partial(text: str) -> None:
        print(f"\r… {text[-70:]:<72}", end="", file=sys.stderr, flush=True)

    for result in listen(pipeline, blocks, settings.speech.max_seconds, partial if sys.stderr.isatty() else None):
        if sys.stderr.isatty():
            print("\r" + " " * 76 + "\r", end="", file=sys.stderr)
        print(result.model_dump_json(), flush=True)
    return 0


def _prepend(first, rest):
    yield first
    yield from rest


@_clean_errors
def cmd_models(args) -> int:
    from assistant.speech.engines import VOSK_DOWNLOAD, find_engines

    settings = _settings(args)
    engines = find_engines(settings)
    if args.json:
        print(json.dumps({"engines": [e.model_dump() for e in engines], "vosk_download": VOSK_DOWNLOAD}, indent=2))
        return 0
    if not engines:
        print("no speech engine installed: pip install 'assistant[speech]'")
    for e in engines:
        mark = "*" if e.default else " "
        where = f"  {e.path}" if e.path else ""
        print(f"{mark} {e.engine:<13} {e.model:<28} language {e.language:<10} modes {','.join(e.modes):<12} ({e.source}){where}")
    if engines:
        print("\n* the default: used by transcribe, recognize, listen and daemon unless --engine or --vosk-model says otherwise")
    if not any(e.engine == "vosk" and e.language in ("en", "configured") for e in engines):
        print("\n" + VOSK_DOWNLOAD)
    return 0


@_clean_errors
def cmd_daemon(args) -> int:
    import asyncio

    from assistant.daemon.server import Service, intent_event, serve
    from assistant.speech.audio import microphone
    from assistant.speech.pipeline import listen

    settings = _settings(args)
    uri = args.uri or settings.speech.uri
    blocks = None
    if args.listen:
        blocks = microphone(settings.speech.sample_rate, settings.speech.input_device or None)
        next(blocks)  # no microphone: fail now, not in a thread after the models load

    def load():
        return _pipeline(args, load_settings_again(args))

    service = Service(load)

    def mic_loop(service: Service, loop) -> None:
        for result in listen(lambda: service.pipeline, blocks, settings.speech.max_seconds, rate=settings.speech.sample_rate):
            log.info("heard %r -> %s", result.text, result.intent.name if result.intent else None)
            asyncio.run_coroutine_threadsafe(service.broadcast(intent_event(result)), loop)

    def ready() -> None:
        print(f"assistant daemon: serving on {uri}", file=sys.stderr, flush=True)

    asyncio.run(serve(uri, service, mic_loop if blocks is not None else None, ready))
    return 0


def load_settings_again(args):
    """Settings read afresh, so a reload (SIGHUP) sees an edited config.toml."""
    return _settings(args)


@_clean_errors
def cmd_client(args) -> int:
    from assistant.cli import UsageError
    from assistant.daemon import client

    if args.url:
        from assistant.server.commands import cmd_rest_client

        return cmd_rest_client(args)
    settings = _settings(args)
    uri = args.uri or settings.speech.uri
    if args.describe:
        print(json.dumps(client.run(client.describe(uri, args.timeout)), indent=2))
        return 0
    if args.text is not None:
        print(json.dumps(client.run(client.recognize_text(uri, args.text, args.timeout)), indent=2, ensure_ascii=False))
        return 0
    if not args.file:
        raise UsageError("give an audio file, --text or --describe")
    audio = _read_audio(args, settings)
    out = client.run(client.recognize_audio(uri, audio, not args.no_intent, args.timeout))
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


def add_commands(sub) -> None:
    """Add `transcribe`, `recognize`, `listen`, `models`, `daemon` and `client` to the `assistant` command."""
    p = sub.add_parser("transcribe", help="speech to text: prints the transcript, word timings and confidence as JSON")
    _audio_options(p)
    _engine_options(p)
    p.set_defaults(run=cmd_transcribe)

    p = sub.add_parser("recognize", help="speech to intent: prints the intent, slots, transcript and timings as JSON")
    _audio_options(p)
    p.add_argument("--text", help="understand this text instead of audio (same result schema)")
    _engine_options(p)
    p.set_defaults(run=cmd_recognize)

    p = sub.add_parser("listen", help="recognise commands from the microphone, one JSON line per utterance")
    p.add_argument("--device", help="input device name or index (default: speech.input_device, else the system's)")
    _engine_options(p)
    p.set_defaults(run=cmd_listen)

    p = sub.add_parser("models", help="list the speech engines and models found, and how to add a Vosk model")
    p.add_argument("--json", action="store_true", help="as JSON")
    p.set_defaults(run=cmd_models)

    p = sub.add_parser("daemon", help="serve speech and intent recognition over the Wyoming protocol")
    p.add_argument("--uri", help="tcp://HOST:PORT or unix://PATH (default: speech.uri)")
    p.add_argument("--listen", action="store_true", help="also run the microphone loop and push each intent to connected clients")
    _engine_options(p)
    p.set_defaults(run=cmd_daemon)

    p = sub.add_parser("client", help="ask a running daemon (or with --url a REST server): an audio file, --text, or --describe")
    _audio_options(p)
    p.add_argument("--text", help="understand this text")
    p.add_argument("--describe", action="store_true", help="print the daemon's info")
    p.add_argument("--no-intent", action="store_true", help="transcript only")
    p.add_argument("--uri", help="tcp://HOST:PORT or unix://PATH (default: speech.uri)")
    p.add_argument("--url", help="a REST server (http://HOST:PORT) to ask instead of the daemon")
    p.add_argument("--token", help="bearer token for --url (default: $ASSISTANT_TOKEN)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for an answer")
    p.set_defaults(run=cmd_client)
