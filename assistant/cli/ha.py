"""`assistant ha sync`: the names of a Home Assistant home into the home file, and the model retrained when they change."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
from pathlib import Path

from assistant.cli.common import UsageError
from assistant.cli.nlu import add_training_source, train_model

log = logging.getLogger(__name__)


def cmd_sync(args: argparse.Namespace) -> int:
    from assistant.daemon.ha_sync import Connection, owed, sync, watch

    if not args.url:
        raise UsageError("give Home Assistant's URL: --url http://homeassistant.local:8123 (or $ASSISTANT_HA_URL)")
    if not args.token:
        raise UsageError("give a long-lived access token: $ASSISTANT_HA_TOKEN (or --token); create one in Home Assistant "
                         "under your profile, Security tab")
    if args.retrain and not (args.ha or args.data):
        raise UsageError("--retrain trains on --ha LANGUAGE (and DATA, your own intents), or on DATA whose intent files "
                         "include the home file (homeassistant: {home: ...})")
    home = Path(args.home)

    def connect() -> Connection:
        return Connection(args.url, args.token, timeout=args.timeout)

    def retrain() -> dict:
        trained = train_model(argparse.Namespace(**vars(args), out=None, no_activate=False, encoder=None, epochs=None, seed=None,
                                                 max_minutes=None, no_crf=False, keep_fp32=False))
        if trained["current"]:
            log.info("model %s trained on the new names and made current", trained["version"])
        else:
            log.warning("model %s trained on the new names but not made current: %s", trained["version"], trained["gate"]["reason"])
        return trained

    if args.watch:
        stop = threading.Event()
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, lambda *_: stop.set())
        log.info("following %s: the home file %s is rewritten when its names change", args.url, home)
        watch(connect, home, args.url, retrain if args.retrain else None, settle=args.settle, stop=stop, retry=args.retry)
        return 0
    connection = connect()
    try:
        names, changed = sync(connection, home, args.url)
    finally:
        connection.close()
    # Owed: the names changed now, or an earlier retrain on them failed (its error said so; this one tries again).
    trained = None
    if args.retrain and (owed(home).exists() or args.always):
        trained = retrain()
        owed(home).unlink(missing_ok=True)  # `watch` clears it itself
    print(json.dumps({"home": str(home), "changed": changed, "areas": len(names.areas), "floors": len(names.floors),
                      "entities": len(names.entities), "trained": trained}, indent=2))
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("ha", help="Home Assistant: keep the home's names (areas, floors, devices) in step with it")
    ha = p.add_subparsers(dest="ha_command", required=True)
    s = ha.add_parser("sync", help="read the home's areas, floors and exposed entities (with aliases) from Home Assistant's "
                                   "WebSocket API into the home file; with --retrain, train a new model when they changed")
    add_training_source(s, home_help="the home file to write (YAML: areas, floors, entities with aliases), which training reads")
    s.add_argument("--url", default=os.environ.get("ASSISTANT_HA_URL"), help="Home Assistant, e.g. http://homeassistant.local:8123 "
                                                                              "(default: $ASSISTANT_HA_URL)")
    s.add_argument("--token", default=os.environ.get("ASSISTANT_HA_TOKEN"),
                   help="a long-lived access token (default: $ASSISTANT_HA_TOKEN, which keeps it out of the process list)")
    s.add_argument("--retrain", action="store_true", help="when the names changed, train a new version of the store on --ha and "
                                                          "DATA with the new home file and make it current (the daemon and the server follow)")
    s.add_argument("--always", action="store_true", help="with --retrain: train even when the names did not change")
    s.add_argument("--watch", action="store_true", help="stay connected and sync again after every change Home Assistant announces")
    s.add_argument("--settle", type=float, default=5.0, help="with --watch: seconds after the last change of a burst before syncing (default: 5)")
    s.add_argument("--retry", type=float, default=30.0, help="with --watch: seconds before reconnecting after a lost connection (default: 30)")
    s.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for Home Assistant's answers (default: 10)")
    s.set_defaults(run=cmd_sync)
