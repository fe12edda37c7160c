"""`assistant serve`: the REST API and web console over HTTP (gunicorn)."""

from __future__ import annotations

import argparse
from pathlib import Path

from assistant.cli.common import UsageError, add_model_option, settings_of


def cmd_serve(args: argparse.Namespace) -> int:
    from assistant.nlu.store import ensure_model
    from assistant.server.serve import check, serve

    settings = settings_of(args)
    for key in ("host", "port", "workers", "threads"):
        if getattr(args, key) is not None:
            setattr(settings.server, key, getattr(args, key))
    if args.token_file:
        settings.server.tokens = read_tokens(args.token_file)
    check(settings)  # ServeError before minutes of first-use training
    ensure_model(settings)  # first use: train the default model before any worker starts
    serve(settings, dev=args.dev, access_log=args.access_log)
    return 0


def read_tokens(path: str) -> list[str]:
    """The tokens of a token file: one per line, blank lines and `#` comments skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot read the token file: {e}") from None
    tokens = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not tokens:
        raise UsageError(f"{path}: no token in the token file")
    return tokens


def add_commands(sub) -> None:
    p = sub.add_parser("serve", help="serve the REST API and web console over HTTP (gunicorn)")
    p.add_argument("--host", help="address to bind (default: server.host, 127.0.0.1); beyond loopback, tokens are required")
    p.add_argument("--port", type=int, help="port (default: server.port)")
    p.add_argument("--workers", type=int, help="worker processes (default: server.workers)")
    p.add_argument("--threads", type=int, help="threads per worker (default: server.threads)")
    p.add_argument("--token-file", metavar="FILE",
                   help="file of the bearer tokens clients must send, one per line (default: $ASSISTANT_SERVER_TOKENS, "
                        "else server.tokens); never on the command line, where `ps` shows it to every user")
    add_model_option(p, "serve this model folder, pinned")
    p.add_argument("--dev", action="store_true", help="Flask's development server instead of gunicorn (trying things out only)")
    p.add_argument("--access-log", action="store_true", help="log every request (never with tokens)")
    p.set_defaults(run=cmd_serve)
