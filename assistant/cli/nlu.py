"""`assistant train | evaluate | parse`: the model from intent files, scored, and used on text.

torch and onnxruntime are imported by the command that needs them, so `assistant --help` and `parse` start fast.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import tempfile
from pathlib import Path

from assistant.cli.common import UsageError, add_json_option, add_model_option, brief, emit, settings_of
from assistant.config import TrainConfig

log = logging.getLogger(__name__)


def cmd_train(args: argparse.Namespace) -> int:
    emit(train_model(args), args, train_brief)
    return 0


def train_model(args: argparse.Namespace) -> dict:
    """Train as `assistant train` does (a new version of the store, made current when the gate lets it, unless
    `--out`); a summary of it, with the gate's decision."""
    from assistant.nlu import store
    from assistant.nlu.train import train
    from assistant.speech.engines import prepare

    settings = settings_of(args)
    encoder = Path(args.encoder) if args.encoder else settings.path(settings.nlu.encoder)
    config = settings.train.updated(epochs=args.epochs, min_steps=0 if args.epochs else None, seed=args.seed, max_minutes=args.max_minutes,
                                    crf=False if args.no_crf else None, keep_fp32=args.keep_fp32 or None)
    decision = None
    with training_source(args) as data:
        if args.out:
            trained = train(data, Path(args.out), encoder, config)
            version = None
        else:
            make_current = False if args.no_activate else "force" if getattr(args, "activate", False) else True
            version, trained, decision = store.train_version(settings.path(settings.nlu.models), data, encoder, config,
                                                             make_current=make_current)
    prepare(trained.folder, settings)  # pocketsphinx's language model built now, not at the first command
    metadata = trained.metadata
    current = version is not None and store.current_version(settings.path(settings.nlu.models)) == version
    return {"model": str(trained.folder), "version": version, "current": current,
            "gate": decision.model_dump(mode="json") if decision else None,
            "metrics": {k: _headline(v) for k, v in metadata.metrics.items() if v},
            "steps_planned": metadata.steps_planned, "steps_run": metadata.steps_run, "cut_short": metadata.cut_short,
            "train_seconds": metadata.train_seconds, "sizes_mb": metadata.sizes_mb}


def train_brief(report: dict) -> str:
    """A training's summary as a person reads it; its last line says whether it serves, and why (or why not)."""
    dev = report["metrics"].get("dev")
    scores = f"dev intent {dev['intent_acc']:.1f}, slot F1 {dev['slot_f1']:.1f}, sentence {dev['sentence_acc']:.1f}" if dev else "no dev set"
    lines = [f"trained {report['version'] or report['model']}: {scores} ({report['steps_run']} optimiser steps, "
             f"{report['train_seconds']:.0f} s)"]
    if report["cut_short"]:
        lines.append(f"cut short: {report['cut_short']}")
    gate = report.get("gate")
    if report["version"] is None:
        lines.append(f"written to {report['model']} (not in the store, not served)")
    elif report["current"]:
        lines.append(f"serving {report['version']}" + (" (forced past the gate: " + gate["reason"] + ")" if gate and gate["forced"]
                                                       else f": {gate['reason']}" if gate else ""))
    else:
        lines.append(f"not serving {report['version']}: {gate['reason'] if gate else 'inactive'}; serve it anyway with "
                     f"`assistant activate {report['version']}`")
    return "\n".join(lines)


def cmd_activate(args: argparse.Namespace) -> int:
    """Make a version of the store current, knowingly (the gate is not asked): it must load."""
    from assistant.nlu import store

    settings = settings_of(args)
    models = settings.path(settings.nlu.models)
    store.activate(models, args.version)
    emit({"version": args.version, "current": True}, args, lambda r: f"serving {r['version']} from {models}")
    return 0


@contextlib.contextmanager
def training_source(args: argparse.Namespace):
    """The data to train on: the `data` argument, or with `--ha` a folder of its intent files (if any) and one
    that includes Home Assistant's intents (`homeassistant:`), for as long as training takes."""
    if not args.ha:
        if args.data is None:
            raise UsageError("give an intents folder or file, a dataset folder, or --ha LANGUAGE")
        yield Path(args.data)
        return
    if args.home and not Path(args.home).is_file():
        raise UsageError(f"{args.home}: no such file (--home names a YAML file of areas, floors and entities)")
    from assistant.intents import intent_files

    with tempfile.TemporaryDirectory(prefix="assistant-ha-") as folder:
        for file in intent_files(args.data) if args.data else []:
            (Path(folder) / file.name).symlink_to(file.resolve())
        include = {"language": args.ha} | ({"home": str(Path(args.home).resolve())} if args.home else {})
        (Path(folder) / "_homeassistant.yaml").write_text(json.dumps({"homeassistant": include}) + "\n", encoding="utf-8")
        yield Path(folder)


def _headline(metrics: dict) -> dict:
    return {k: metrics[k] for k in ("n", "intent_acc", "slot_f1", "sentence_acc")}


def cmd_evaluate(args: argparse.Namespace) -> int:
    from assistant.intents import load_training_data
    from assistant.nlu.evaluate import evaluate

    splits = dict(zip(("train", "dev", "test"), load_training_data(Path(args.data))[1:]))
    split = args.split or ("test" if splits["test"] else "dev")  # intent files have no test split: their dev is held out
    examples = splits[split]
    if not examples:
        raise UsageError(f"{args.data}: has no {split} split" + (" (intent files have train and dev only: --split dev)" if split == "test" else ""))
    out = Path(args.out) if args.out else Path(args.model) / f"eval-{Path(args.data).name}-{split}"
    metrics = evaluate(Path(args.model), examples, out, title=f"{Path(args.model).name} on {args.data} ({split})")
    emit(metrics, args, lambda m: f"{Path(args.model).name} on {args.data} ({split}, {m.n} sentences): intent {m.intent_acc:.2f} %, "
                                  f"slot F1 {m.slot_f1:.2f}, sentence {m.sentence_acc:.2f} %; report in {out}")
    return 0


def cmd_parse(args: argparse.Namespace) -> int:
    from assistant.nlu.runtime import Parser
    from assistant.nlu.store import ensure_model

    settings = settings_of(args)
    if bool(args.input) == bool(args.text):
        raise UsageError("give the utterance (or - for one a line from stdin), or --input FILE, not both")
    if args.text and args.text != ["-"] and not " ".join(args.text).strip():
        raise UsageError("the utterance is empty: give the words to understand")
    folder = ensure_model(settings)
    threshold = args.threshold if args.threshold is not None else settings.nlu.oos_threshold
    repair = args.repair or settings.nlu.repair
    if args.ray:
        from assistant.nlu.cluster import parse_on_ray

        if not args.input or not args.output:
            raise UsageError("--ray parses --input into the folder --output: give both")
        parse_on_ray(folder, args.input, args.output, address=None if args.ray == "local" else args.ray, actors=args.jobs or None,
                     threshold=threshold, repair=repair)
        return 0
    if args.input:
        from assistant.nlu.corpus import parse_corpus

        counts = parse_corpus(folder, args.input, args.output or "-", batch_size=args.batch_size, jobs=args.jobs, threshold=threshold,
                              threads=settings.nlu.threads or None, repair=repair)
        log.info("%d utterances parsed (%d lines skipped) in %.1f s: %.0f a second", counts.parsed, counts.skipped,
                 counts.seconds, counts.parsed / max(counts.seconds, 1e-9))
        return 0
    parser = Parser(folder, threads=settings.nlu.threads or None, threshold=threshold, repair=repair)
    # A person at a terminal reads a line; a pipe, a script or --json gets the whole result as one JSON line.
    texts = (line.rstrip("\n") for line in sys.stdin) if args.text == ["-"] else [" ".join(args.text)]
    for text in texts:
        emit(parser.parse(text), args, lambda r: brief(r, args.top))
    return 0


def add_training_source(p: argparse.ArgumentParser, home_help: str | None = None) -> None:
    """The arguments `training_source` reads: `train`'s, and `ha sync`'s (where the home file is required: it writes it)."""
    p.add_argument("data", nargs="?", help="intents folder or file, or a dataset folder with train/dev/test (optional with --ha)")
    p.add_argument("--ha", metavar="LANGUAGE", help="add Home Assistant's built-in intents of this language (e.g. en): the model "
                                                   "emits its intent and slot names (see docs/homeassistant.md)")
    p.add_argument("--home", metavar="FILE", required=home_help is not None,
                   help=home_help or "with --ha: YAML file of the home's areas, floors and entities (their names and aliases), "
                                     "what {area}, {floor} and {name} take; without it they take any words")


def add_commands(sub) -> None:
    defaults = TrainConfig()
    p = sub.add_parser("train", help="fine-tune a model on an intents folder/file or a JointBERT dataset folder")
    add_training_source(p)
    p.add_argument("--out", help="model folder to write (default: a new version in the store, nlu.models, made current)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--no-activate", action="store_true", help="add the new version to the store without making it current")
    which.add_argument("--activate", action="store_true", help="make the new version current even when the gate refuses it (by "
                                                              "default it serves only when it is not worse than the served version "
                                                              "on the same dev sentences, see train.gate_margin)")
    p.add_argument("--encoder", help="local BERT folder to fine-tune (default: nlu.encoder, else MiniLM-L6)")
    p.add_argument("--epochs", type=int, help=f"passes over the training data, taken as given (default: train.epochs, {defaults.epochs} built in, "
                                                f"more for a small set: at least train.min_steps optimiser steps)")
    p.add_argument("--seed", type=int, help=f"seed of the data sampling and the initialisation (default: train.seed; {defaults.seed} built in)")
    p.add_argument("--max-minutes", type=float,
                   help=f"a time budget: the schedule shortened to the steps that fit, the run says so; 0: none, every planned step "
                        f"runs (default: train.max_minutes; {defaults.max_minutes:g} built in)")
    p.add_argument("--no-crf", action="store_true", help="softmax slot head with BIO-constrained decoding instead of a CRF")
    p.add_argument("--keep-fp32", action="store_true", help="keep the fp32 ONNX graph beside the int8 one")
    add_json_option(p)
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("activate", help="make a version of the model store current (it must load; the training gate is not asked)")
    p.add_argument("version", help="a version folder of nlu.models")
    add_json_option(p)
    p.set_defaults(run=cmd_activate)

    p = sub.add_parser("evaluate", help="score a model on labelled data (JSON + confusion plot)")
    p.add_argument("model", help="model folder")
    p.add_argument("data", help="intents folder or file, or a dataset folder")
    p.add_argument("--split", choices=["train", "dev", "test"], help="split to score (default: test, else dev: intent files have no test split)")
    p.add_argument("--out", help="report folder (default: MODEL/eval-DATA-SPLIT)")
    add_json_option(p)
    p.set_defaults(run=cmd_evaluate)

    p = sub.add_parser("parse", help="understand text: one line on a terminal (intent, confidence, slots), JSON when piped or with --json")
    p.add_argument("text", nargs="*", help="the utterance, or - to read one utterance a line from stdin")
    p.add_argument("--input", metavar="FILE", help="a corpus to parse in batches: one utterance a line, or JSON lines with a "
                                                   "\"text\" field (- for stdin); results as JSON lines, in order")
    p.add_argument("--output", metavar="FILE", help="where --input's results go (default: stdout)")
    p.add_argument("--batch-size", type=int, default=256, help="utterances per batch with --input (default: 256)")
    p.add_argument("--jobs", type=int, default=0, help="processes parsing --input's batches (default: 0, one per core); with --ray, "
                                                       "parsing actors (default: one per CPU of the cluster)")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="parse --input on a Ray cluster into the folder --output (JSON lines, or Parquet when it ends in .parquet): "
                        "ADDRESS of the cluster (auto, ray://head:10001), or none to start Ray here (the cluster extra)")
    add_model_option(p)
    p.add_argument("--threshold", type=float, help="out-of-scope threshold (default: nlu.oos_threshold, else the model's)")
    p.add_argument("--repair", action="store_true", help="repair near misses of the templates, typos included (\"turn of the "
                                                         "light\"), as speech does (default: nlu.repair, off)")
    add_json_option(p)
    p.add_argument("--top", type=int, default=0, metavar="N", help="on a terminal, also the N likeliest intents (default: 0)")
    p.set_defaults(run=cmd_parse, quiet=True)
