"""CLI of the REST API, registered into `assistant.cli`.

    assistant serve                  the REST API and web console (gunicorn)
    assistant client --url URL ...   ask a running REST server (`assistant client` without --url asks the daemon)
"""

from __future__ import annotations

import os
import sys


def cmd_serve(args) -> int:
    from assistant.cli import _settings, ensure_model
    from assistant.server.serve import check, serve

    settings = _settings(args)
    for key in ("host", "port", "workers", "threads"):
        if getattr(args, key) is not None:
            setattr(settings.server, key, getattr(args, key))
    if args.token:
        settings.server.tokens = args.token
    check(settings)  # ServeError before minutes of first-use training
    ensure_model(settings, explicit=bool(args.model))  # first use: train the default model before any worker starts
    serve(settings, dev=args.dev, access_log=args.access_log)
    return 0


def cmd_rest_client(args) -> int:
    """`assistant client --url`: one call to a REST server, its JSON answer on stdout."""
    from assistant.cli import UsageError
    from assistant.client import Client, ClientError

    client = Client(args.url, token=args.token or os.environ.get("ASSISTANT_TOKEN"), timeout=args.timeout)
    try:
        if args.describe:
            out = client.models()
        elif args.text is not None:
            out = client.parse(args.text)
        elif args.file:
            out = client.recognize(args.file, rate=int(args.rate) if args.rate else None, channels=args.channels or 1)
        else:
            raise UsageError("give an audio file, --text or --describe")
    except ClientError as e:
        print(f"assistant: {e}", file=sys.stderr)
        return 2
    print(out.model_dump_json(indent=2))
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("serve", help="serve the REST API and web console over HTTP (gunicorn)")
    p.add_argument("--host", help="address to bind (default: server.host, 127.0.0.1); beyond loopback, tokens are required")
    p.add_argument("--port", type=int, help="port (default: server.port)")
    p.add_argument("--workers", type=int, help="worker processes (default: server.workers)")
    p.add_argument("--threads", type=int, help="threads per worker (default: server.threads)")
    p.add_argument("--token", action="append", help="a bearer token clients must send (repeatable; default: server.tokens)")
    p.add_argument("--model", help="serve this model folder, pinned (default: the current version of nlu.models)")
    p.add_argument("--dev", action="store_true", help="Flask's development server instead of gunicorn (trying things out only)")
    p.add_argument("--access-log", action="store_true", help="log every request (never with tokens)")
    p.set_defaults(run=cmd_serve)
