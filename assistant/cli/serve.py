"""`assistant serve`: the REST API and web console over HTTP (gunicorn)."""

from __future__ import annotations

import argparse

from assistant.cli.common import add_model_option, settings_of


def cmd_serve(args: argparse.Namespace) -> int:
    from assistant.nlu.store import ensure_model
    from assistant.server.serve import check, serve

    settings = settings_of(args)
    for key in ("host", "port", "workers", "threads"):
        if getattr(args, key) is not None:
            setattr(settings.server, key, getattr(args, key))
    if args.token:
        settings.server.tokens = args.token
    check(settings)  # ServeError before minutes of first-use training
    ensure_model(settings)  # first use: train the default model before any worker starts
    serve(settings, dev=args.dev, access_log=args.access_log)
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("serve", help="serve the REST API and web console over HTTP (gunicorn)")
    p.add_argument("--host", help="address to bind (default: server.host, 127.0.0.1); beyond loopback, tokens are required")
    p.add_argument("--port", type=int, help="port (default: server.port)")
    p.add_argument("--workers", type=int, help="worker processes (default: server.workers)")
    p.add_argument("--threads", type=int, help="threads per worker (default: server.threads)")
    p.add_argument("--token", action="append", help="a bearer token clients must send (repeatable; default: server.tokens)")
    add_model_option(p, "serve this model folder, pinned")
    p.add_argument("--dev", action="store_true", help="Flask's development server instead of gunicorn (trying things out only)")
    p.add_argument("--access-log", action="store_true", help="log every request (never with tokens)")
    p.set_defaults(run=cmd_serve)
