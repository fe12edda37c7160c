"""`assistant import-rasa`: Rasa NLU training data as an intent file, checked by the loader before it is written."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from assistant.cli.common import UsageError


def cmd_import_rasa(args: argparse.Namespace) -> int:
    from assistant.intents import load_domain
    from assistant.intents.errors import IntentFileError
    from assistant.intents.rasa import convert

    out = Path(args.out)
    if out.suffix not in (".yaml", ".yml"):
        raise UsageError(f"--out {out}: an intent file ends in .yaml or .yml")
    if out.exists() and not args.force:
        raise UsageError(f"{out} exists; --force replaces it")
    converted = convert([Path(p) for p in args.data])
    out.parent.mkdir(parents=True, exist_ok=True)
    draft = out.with_name(f".{out.stem}.{os.getpid()}{out.suffix}")
    try:
        draft.write_text(converted.to_yaml([Path(p) for p in args.data]), encoding="utf-8")
        try:
            domain = load_domain(draft)  # what could not load is this converter's fault: say so before writing
        except IntentFileError as err:
            raise IntentFileError(str(out), err.line, f"the converted data does not load: {err.message}") from None
        draft.replace(out)
    finally:
        draft.unlink(missing_ok=True)
    print(json.dumps({"written": str(out), "intents": len(domain.intents), "examples": converted.examples,
                      "slot_types": sorted(domain.slot_types), "out_of_scope": len(domain.out_of_scope),
                      "left_out": converted.left_out, "next": f"assistant train {out.parent}"}, indent=2))
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("import-rasa", help="convert Rasa NLU training data (nlu.yml files or a data folder) into an intent file")
    p.add_argument("data", nargs="+", help="Rasa YAML files, or folders searched for files with an `nlu:` list")
    p.add_argument("--out", required=True, help="the intent file to write, e.g. intents/rasa.yaml")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.set_defaults(run=cmd_import_rasa)
