"""`assistant`: train, evaluate and parse from the command line.

Results go to stdout as JSON (one object a line for `parse -`), logs and
progress bars to stderr, so the output pipes cleanly into other tools.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from assistant.config import ConfigError, Settings, load_settings

log = logging.getLogger("assistant")


class UsageError(Exception):
    """A problem with what the user asked for: printed as one line, exit status 2."""


def _settings(args) -> Settings:
    settings = load_settings(args.config)
    if getattr(args, "model", None):
        settings.nlu.model = Path(args.model)
    return settings


def train_config(settings: Settings, **overrides):
    """The training settings of config.toml (and env), with flags' values on top (None: not given)."""
    from dataclasses import fields

    from assistant.nlu.train import TrainConfig

    known = {f.name for f in fields(TrainConfig)}
    values = {k: v for k, v in settings.train.model_dump().items() if k in known}
    values["max_minutes"] = values.get("max_minutes") or None
    values.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig(**values)


def ensure_model(settings: Settings, explicit: bool = False) -> Path:
    """The model folder to use: `nlu.model` when pinned, else the store's current version.

    On first use (an empty store) the model is trained from the configured
    intents and made current; a store with versions but no valid pointer gets
    its newest valid version activated.
    """
    from assistant.nlu import store

    folder = settings.model_folder()
    if folder.is_dir():
        return folder
    if explicit or settings.nlu.model:
        raise UsageError(f"no model at {folder}; train one with: assistant train INTENTS --out {folder}")
    models = settings.path(settings.nlu.models)
    valid = [v for v in store.versions(models) if v.valid]
    if valid:
        log.warning("%s does not point at a model: activating the newest valid version, %s", folder, valid[0].version)
        return store.activate(models, valid[0].version)
    intents = settings.path(settings.nlu.intents)
    if not intents or not intents.exists():
        raise UsageError(f"no model in {models} and no intents at {intents} to train one from")
    log.info("no model in %s yet: training one from %s (once; a few minutes)", models, intents)
    store.train_version(models, intents, settings.path(settings.nlu.encoder), train_config(settings))
    return folder


def cmd_train(args) -> int:
    from assistant.nlu import store
    from assistant.nlu.train import train

    settings = _settings(args)
    encoder = Path(args.encoder) if args.encoder else settings.path(settings.nlu.encoder)
    config = train_config(settings, epochs=args.epochs, seed=args.seed, max_minutes=args.max_minutes,
                          crf=False if args.no_crf else None, keep_fp32=args.keep_fp32 or None)
    if args.out:
        trained = train(Path(args.data), Path(args.out), encoder, config)
        version = None
    else:
        version, trained = store.train_version(settings.path(settings.nlu.models), Path(args.data), encoder, config,
                                               make_current=not args.no_activate)
    print(json.dumps({"model": str(trained.folder), "version": version, "current": bool(version) and not args.no_activate,
                      "metrics": {k: _headline(v) for k, v in trained.metadata.metrics.items() if v},
                      "train_seconds": trained.metadata.train_seconds, "sizes_mb": trained.metadata.sizes_mb}, indent=2))
    return 0


def _headline(metrics: dict) -> dict:
    return {k: metrics[k] for k in ("n", "intent_acc", "slot_f1", "sentence_acc")}


def cmd_evaluate(args) -> int:
    from assistant.intents import load_training_data
    from assistant.nlu.evaluate import evaluate

    _, train_set, dev_set, test_set = load_training_data(Path(args.data))
    examples = {"train": train_set, "dev": dev_set, "test": test_set}[args.split]
    if not examples:
        raise UsageError(f"{args.data}: has no {args.split} split")
    out = Path(args.out) if args.out else Path(args.model) / f"eval-{Path(args.data).name}-{args.split}"
    metrics = evaluate(Path(args.model), examples, out, title=f"{Path(args.model).name} on {args.data} ({args.split})")
    print(metrics.model_dump_json(indent=2))
    log.info("report written to %s (metrics.json, confusion.png, reliability.png)", out)
    return 0


def cmd_parse(args) -> int:
    from assistant.nlu.runtime import Parser

    settings = _settings(args)
    parser = Parser(ensure_model(settings, explicit=bool(args.model)), threads=settings.nlu.threads or None,
                    threshold=args.threshold if args.threshold is not None else settings.nlu.oos_threshold)
    if args.text == ["-"]:
        for line in sys.stdin:
            print(parser.parse(line.rstrip("\n")).model_dump_json(), flush=True)
        return 0
    print(parser.parse(" ".join(args.text)).model_dump_json(indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description="On-device voice-assistant intent service.")
    parser.add_argument("--config", help="config file (default: $ASSISTANT_CONFIG or ./config.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logs")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="fine-tune a model on an intents folder/file or a JointBERT dataset folder")
    p.add_argument("data", help="intents folder or file, or a dataset folder with train/dev/test")
    p.add_argument("--out", help="model folder to write (default: a new version in the store, nlu.models, made current)")
    p.add_argument("--no-activate", action="store_true", help="add the new version to the store without making it current")
    p.add_argument("--encoder", help="local BERT folder to fine-tune (default: nlu.encoder, else MiniLM-L6)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--max-minutes", type=float, help="stop after this many minutes, keeping the best epoch")
    p.add_argument("--no-crf", action="store_true", help="softmax slot head with BIO-constrained decoding instead of a CRF")
    p.add_argument("--keep-fp32", action="store_true", help="keep the fp32 ONNX graph beside the int8 one")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("evaluate", help="score a model on labelled data (JSON + confusion plot)")
    p.add_argument("model", help="model folder")
    p.add_argument("data", help="intents folder or file, or a dataset folder")
    p.add_argument("--split", choices=["train", "dev", "test"], default="test", help="split to score (intent files: dev)")
    p.add_argument("--out", help="report folder (default: MODEL/eval-DATA-SPLIT)")
    p.set_defaults(run=cmd_evaluate)

    p = sub.add_parser("parse", help="understand text: prints the intent and slots as JSON")
    p.add_argument("text", nargs="+", help="the utterance, or - to read one utterance a line from stdin")
    p.add_argument("--model", help="model folder (default: nlu.model, else the current version of nlu.models)")
    p.add_argument("--threshold", type=float, help="out-of-scope threshold (default: nlu.oos_threshold, else the model's)")
    p.set_defaults(run=cmd_parse)

    from assistant.speech.commands import add_commands as add_speech_commands

    add_speech_commands(sub)
    from assistant.server.commands import add_commands as add_server_commands

    add_server_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    from assistant.intents.errors import IntentFileError
    from assistant.nlu.errors import ModelLoadError, TrainError
    from assistant.server.serve import ServeError

    try:
        return args.run(args)
    except (UsageError, ConfigError, IntentFileError, ModelLoadError, TrainError, ServeError) as e:
        print(f"assistant: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
