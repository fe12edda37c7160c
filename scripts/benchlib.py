"""What the benchmark scripts share: the repository on `sys.path`, their common flags, logging, the training
recipe, and the machine they ran on."""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from assistant.config import TrainConfig  # noqa: E402


def arguments(doc: str, json_name: str) -> argparse.ArgumentParser:
    """A parser with the flags every training benchmark has: `--threads` and `--json`."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, help="torch threads for training (default: torch decides; 1 avoids thrashing on a busy machine)")
    parser.add_argument("--json", default=str(ROOT / "docs" / "benchmarks" / json_name), help="where the figures go")
    parser.add_argument("--recipe", nargs="+", default=[], metavar="KEY=VALUE",
                        help="training recipe values on top of the defaults, e.g. layer_decay=0.8 (an ablation)")
    return parser


def recipe_values(pairs: list[str]) -> dict:
    """`--recipe` pairs as `TrainConfig` values (checked when the recipe is built)."""
    values = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in TrainConfig.model_fields or not value:
            raise SystemExit(f"--recipe {pair}: give KEY=VALUE with KEY one of {', '.join(TrainConfig.model_fields)}")
        values[key] = value
    return values


def log_progress() -> None:
    """The assistant's own progress on stderr, other libraries' only when they warn."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("assistant").setLevel(logging.INFO)


def recipe(**values) -> TrainConfig:
    """The one training recipe (`assistant.config.TrainConfig`) with `values` on top and no time budget:
    the budget is for the bundled domain on first use; a dataset trains its epochs to the end."""
    return TrainConfig(max_minutes=0).updated(**values)


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or platform.platform()}"
