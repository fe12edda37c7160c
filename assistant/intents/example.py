"""The unit of training data: one utterance with its intent and BIO slot tags.

Intent files, JointBERT folders and any future source all become lists of
`Example`, so the trainer and the evaluator see one shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from assistant.text import split_words


@dataclass(frozen=True)
class Span:
    """A slot value inside an utterance, by character offsets."""

    start: int
    end: int
    slot: str


@dataclass
class Example:
    tokens: list[str]
    """Words of the utterance, as `assistant.text.split_words` cuts them (or as a dataset gives them)."""
    tags: list[str]
    """One BIO tag per word: `O`, `B-<slot>` or `I-<slot>`."""
    intent: str
    """Intent name."""
    meta: dict = field(default_factory=dict)
    """Free provenance (source file, template) for error messages; never used for training."""

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


def from_spans(text: str, intent: str, spans: list[Span], meta: dict | None = None) -> Example:
    """Build an `Example` from raw text and character spans of slot values.

    A span must cover whole words; a word partly inside a span is tagged as part of it.
    """
    words = split_words(text)
    tags = ["O"] * len(words)
    for span in spans:
        inside = [i for i, w in enumerate(words) if w.start < span.end and w.end > span.start]
        for n, i in enumerate(inside):
            tags[i] = ("B-" if n == 0 else "I-") + span.slot
    return Example([w.text for w in words], tags, intent, meta or {})


def spans_of(tags: list[str]) -> list[tuple[str, int, int]]:
    """Slot spans of a BIO sequence as (slot, first word, last word + 1), conlleval-style.

    An `I-x` that does not continue an `x` span starts a new one, as conlleval counts it.
    """
    spans: list[tuple[str, int, int]] = []
    slot, start = None, 0
    for i, tag in enumerate(list(tags) + ["O"]):
        kind, _, name = tag.partition("-")
        continues = kind == "I" and name == slot
        if slot is not None and not continues:
            spans.append((slot, start, i))
            slot = None
        if kind in ("B", "I") and not continues:
            slot, start = name, i
    return spans
