"""`assistant daemon`: the models kept loaded behind a Wyoming server (Home Assistant, desktop clients, the microphone)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from assistant.cli.common import add_engine_options, open_microphone, settings_of

log = logging.getLogger(__name__)


def cmd_daemon(args: argparse.Namespace) -> int:
    from assistant.cli.speech import load_service
    from assistant.daemon.server import Daemon, intent_event, serve
    from assistant.speech.pipeline import listen

    settings = settings_of(args)
    uri = args.uri or settings.speech.uri
    blocks = open_microphone(settings) if args.listen else None
    service = load_service(args, settings)
    service.watch()  # a newly trained current version is served without a restart
    daemon = Daemon(service)

    def reload() -> None:
        """SIGHUP: config.toml read again, the models loaded again; the old ones serve until then."""
        if service.reload(settings_of(args), force=True):
            log.info("models reloaded")

    def mic_loop(daemon: Daemon, loop: asyncio.AbstractEventLoop) -> None:
        for result in listen(lambda: daemon.service.current().pipeline, blocks, settings.speech.max_seconds, rate=settings.speech.sample_rate):
            log.info("heard %r -> %s", result.text, result.intent.name if result.intent else None)
            asyncio.run_coroutine_threadsafe(daemon.broadcast(intent_event(result)), loop)

    def ready() -> None:
        print(f"assistant daemon: serving on {uri}", file=sys.stderr, flush=True)

    asyncio.run(serve(uri, daemon, reload, mic_loop if blocks is not None else None, ready))
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("daemon", help="serve speech and intent recognition over the Wyoming protocol")
    p.add_argument("--uri", help="tcp://HOST:PORT or unix://PATH (default: speech.uri)")
    p.add_argument("--listen", action="store_true", help="also run the microphone loop and push each intent to connected clients")
    add_engine_options(p)
    p.set_defaults(run=cmd_daemon)
