"""`assistant`: the command line, the top layer; the only place argparse lives.

    nlu.py      train, evaluate, parse
    speech.py   transcribe, recognize, listen, models
    daemon.py   daemon (Wyoming)
    ha.py       ha sync: the names of a Home Assistant home, and retraining when they change
    rasa.py     import-rasa: Rasa NLU training data as an intent file
    serve.py    serve (REST API and web console)
    client.py   client: ask a running daemon, or with --url a REST server
    common.py   what the commands share: settings from flags, audio and engine options, `UsageError`

Results go to stdout: a readable line (or a short block) on a terminal, one JSON
object a line when piped or with `--json`; logs and progress bars go to stderr,
so the output pipes cleanly into other tools.
Every `AssistantError` is printed as one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys

from assistant.cli import client, daemon, ha, nlu, rasa, serve, speech
from assistant.errors import AssistantError

log = logging.getLogger("assistant")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description="On-device voice-assistant intent service.")
    parser.add_argument("--config", help="config file (default: $ASSISTANT_CONFIG or ./config.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logs")
    parser.add_argument("--version", action="version", version=f"assistant {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (nlu, rasa, speech, daemon, ha, client, serve):
        module.add_commands(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("assistant")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Commands that run for minutes or for ever say what they do; a one-shot answer prints only its JSON.
    log.setLevel(logging.DEBUG if args.verbose else logging.WARNING if getattr(args, "quiet", False) else logging.INFO)
    try:
        return args.run(args)
    except AssistantError as e:
        print(f"assistant: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
