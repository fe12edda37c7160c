"""Importer for CLINC150 (`data_full.json`): 150 intents plus out-of-scope queries.

Intent classification only (every tag is `O`); CLINC's `oos` label becomes
`out_of_scope`, so its queries train and test the rejection like a domain's
own negative sentences.
"""

from __future__ import annotations

import json
from pathlib import Path

from assistant.intents.errors import IntentFileError
from assistant.intents.example import Example
from assistant.intents.expand import OUT_OF_SCOPE
from assistant.intents.schema import Domain, Intent
from assistant.text import split_words

SPLITS = {"train": ("train", "oos_train"), "dev": ("val", "oos_val"), "test": ("test", "oos_test")}


def is_clinc(path: str | Path) -> bool:
    path = Path(path)
    if path.is_dir():
        path = path / "data_full.json"
    return path.is_file() and path.suffix == ".json"


def load_clinc(path: str | Path) -> tuple[Domain, dict[str, list[Example]]]:
    """The domain (150 intents, no slots) and the train/dev/test examples, out-of-scope ones included."""
    path = Path(path)
    if path.is_dir():
        path = path / "data_full.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        splits = {
            split: [_example(text, label) for key in keys for text, label in data[key]]
            for split, keys in SPLITS.items()
        }
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise IntentFileError(str(path), None, f"not a CLINC150 data_full.json ({type(e).__name__}: {e})") from None
    names = sorted({e.intent for e in splits["train"]} - {OUT_OF_SCOPE})
    domain = Domain(intents={n: Intent(name=n, source=str(path)) for n in names}, sources=[str(path)])
    return domain, splits


def _example(text: str, label: str) -> Example:
    tokens = [w.text for w in split_words(text)]
    return Example(tokens, ["O"] * len(tokens), OUT_OF_SCOPE if label == "oos" else label)
