"""Read benchmark datasets in the JointBERT layout (SNIPS, ATIS) as examples and a domain.

Each split folder holds three line-aligned files: `seq.in` (words), `seq.out`
(one BIO tag per word) and `label` (the intent). The dataset's words are kept
exactly as given, never re-split, so scores compare with published ones.
"""

from __future__ import annotations

import logging
from pathlib import Path

from assistant.intents.errors import IntentFileError
from assistant.intents.example import Example
from assistant.intents.schema import Domain, Intent, Slot

_log = logging.getLogger(__name__)
_RESERVED = {"UNK", "PAD", "O"}


def is_jointbert(path: str | Path) -> bool:
    """Whether a folder looks like a JointBERT dataset (it has `train/seq.in`)."""
    return (Path(path) / "train" / "seq.in").is_file()


def load_jointbert(folder: str | Path, split: str) -> list[Example]:
    """The examples of one split (`train`, `dev`, `test`).

    Words are split on spaces; SNIPS has runs of two or more spaces where
    punctuation was removed, and its tags count them as one separator, so runs
    are one separator here too.
    """
    base = Path(folder) / split
    texts = _lines(base / "seq.in")
    tags = _lines(base / "seq.out")
    labels = _lines(base / "label")
    if not len(texts) == len(tags) == len(labels):
        raise IntentFileError(
            str(base), None,
            f"seq.in has {len(texts)} lines, seq.out {len(tags)}, label {len(labels)}; they must be line-aligned",
        )
    examples = []
    for number, (text, tag_line, label) in enumerate(zip(texts, tags, labels), start=1):
        words, word_tags, intent = text.split(), tag_line.split(), label.strip()
        if len(words) != len(word_tags):
            raise IntentFileError(
                str(base / "seq.out"), number, f"{len(word_tags)} tags for the {len(words)} words of seq.in line {number}"
            )
        if not intent:
            raise IntentFileError(str(base / "label"), number, "empty intent label")
        for tag in word_tags:
            if tag != "O" and not (tag[:2] in ("B-", "I-") and len(tag) > 2):
                raise IntentFileError(str(base / "seq.out"), number, f"tag '{tag}' is not O, B-<slot> or I-<slot>")
        examples.append(Example(words, word_tags, intent, {"source": f"{base / 'seq.in'}:{number}"}))
    return examples


def jointbert_domain(folder: str | Path) -> Domain:
    """A `Domain` describing a dataset, so a model trained on it can be saved with a `domain.json`.

    Intents come from `intent_label.txt` (without UNK/PAD) and the train split;
    each intent gets the slots seen with it in training, all of free-text type.
    """
    folder = Path(folder)
    train = load_jointbert(folder, "train")
    names = [n for n in _label_file(folder / "intent_label.txt") if n not in _RESERVED]
    for example in train:
        if example.intent not in names:
            names.append(example.intent)
    slots: dict[str, set[str]] = {name: set() for name in names}
    for example in train:
        slots[example.intent].update(tag[2:] for tag in example.tags if tag != "O")
    listed = {tag[2:] for tag in _label_file(folder / "slot_label.txt") if tag not in _RESERVED}
    unseen = listed - set().union(*slots.values())
    if unseen:
        _log.info("slots listed in slot_label.txt but never seen in train: %s", ", ".join(sorted(unseen)))
    intents = {
        name: Intent(name=name, slots={s: Slot(type="text") for s in sorted(slots[name])}, source=str(folder))
        for name in names
    }
    return Domain(intents=intents, sources=[str(folder)])


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        raise IntentFileError(str(path), None, "missing file (a JointBERT split needs seq.in, seq.out and label)")
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _label_file(path: Path) -> list[str]:
    return [line.strip() for line in _lines(path) if line.strip()] if path.is_file() else []
