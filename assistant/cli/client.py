"""`assistant client`: ask a running daemon over Wyoming, or with `--url` a REST server; the answer as JSON."""

from __future__ import annotations

import argparse
import json
import os

from assistant.cli.common import UsageError, add_audio_options, read_audio, settings_of


def cmd_client(args: argparse.Namespace) -> int:
    if args.url:
        return rest_client(args)
    from assistant.daemon import client

    settings = settings_of(args)
    uri = args.uri or settings.speech.uri
    if args.describe:
        out = client.run(client.describe(uri, args.timeout))
    elif args.text is not None:
        out = client.run(client.recognize_text(uri, args.text, args.timeout))
    elif args.file:
        out = client.run(client.recognize_audio(uri, read_audio(args, settings), not args.no_intent, args.timeout))
    else:
        raise UsageError("give an audio file, --text or --describe")
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


def rest_client(args: argparse.Namespace) -> int:
    """One call to a REST server, its JSON answer on stdout."""
    from assistant.client import Client

    client = Client(args.url, token=args.token or os.environ.get("ASSISTANT_TOKEN"), timeout=args.timeout)
    if args.describe:
        out = client.models()
    elif args.text is not None:
        out = client.parse(args.text)
    elif args.file:
        out = client.recognize(args.file, rate=int(args.rate) if args.rate else None, channels=args.channels or 1)
    else:
        raise UsageError("give an audio file, --text or --describe")
    print(out.model_dump_json(indent=2))
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
    p.set_defaults(run=cmd_client, quiet=True)
