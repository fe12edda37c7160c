"""`assistant client`: ask a running daemon over Wyoming, or with `--url` a REST server; the answer as a line on a
terminal, as JSON when piped."""

from __future__ import annotations

import argparse
import os

from assistant.cli.common import UsageError, add_audio_options, add_json_option, brief, emit, read_audio, recognized, settings_of


def cmd_client(args: argparse.Namespace) -> int:
    if args.url:
        return rest_client(args)
    from assistant.daemon import client

    settings = settings_of(args)
    uri = args.uri or settings.speech.uri
    if args.describe:
        out, readable = client.run(client.describe(uri, args.timeout)), described
    elif args.text is not None:
        out, readable = client.run(client.recognize_text(uri, args.text, args.timeout)), answered
    elif args.file:
        out = client.run(client.recognize_audio(uri, read_audio(args, settings), not args.no_intent, args.timeout))
        readable = lambda o: "\n".join(([answered(o["intent"])] if "intent" in o else []) + [f'heard "{o["transcript"].get("text", "")}"'])  # noqa: E731
    else:
        raise UsageError("give an audio file, --text or --describe")
    emit(out, args, readable)
    return 0


def answered(event: dict) -> str:
    """The daemon's `intent` or `not-recognized` event as a line: `LightsOn  room=kitchen`, or why not."""
    if event.get("type") == "intent":
        slots = "  ".join(f"{e.get('name')}={e.get('value')}" for e in event.get("entities") or [])
        return f"{event.get('name')}" + (f"  {slots}" if slots else "")
    return "- not recognised" + (f": {event['text']}" if event.get("text") else "")


def described(info: dict) -> str:
    """The daemon's Wyoming info as a line: its programs and their models."""
    programs = [f"{kind} {p.get('name')} ({', '.join(m.get('name', '') for m in p.get('models') or [])})"
                for kind in ("asr", "intent", "handle") for p in info.get(kind) or []]
    return "daemon: " + ("; ".join(programs) or "no programs")


def rest_client(args: argparse.Namespace) -> int:
    """One call to a REST server, its JSON answer on stdout."""
    from assistant.client import Client

    client = Client(args.url, token=args.token or os.environ.get("ASSISTANT_TOKEN"), timeout=args.timeout)
    if args.describe:
        out = client.models()
        readable = lambda m: f"serving {m.serving} (current {m.current}); {len(m.models)} versions in the store"  # noqa: E731
    elif args.text is not None:
        out, readable = client.parse(args.text), brief
    elif args.file:
        out, readable = client.recognize(args.file, rate=int(args.rate) if args.rate else None, channels=args.channels or 1), recognized
    else:
        raise UsageError("give an audio file, --text or --describe")
    emit(out, args, readable)
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("client", help="ask a running daemon (or with --url a REST server): an audio file, --text, or --describe")
    add_audio_options(p)
    p.add_argument("--text", help="understand this text")
    p.add_argument("--describe", action="store_true", help="print the daemon's info")
    p.add_argument("--no-intent", action="store_true", help="transcript only")
    p.add_argument("--uri", help="tcp://HOST:PORT or unix://PATH (default: speech.uri)")
    p.add_argument("--url", help="a REST server (http://HOST:PORT) to ask instead of the daemon")
    p.add_argument("--token", help="bearer token for --url (default: $ASSISTANT_TOKEN)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for an answer (default: 60)")
    add_json_option(p)
    p.set_defaults(run=cmd_client, quiet=True)
