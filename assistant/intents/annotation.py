"""Free examples with inline slot marks: "turn on the [kitchen](room) light".

Templates cannot say everything people say; a written-out example with its slot
values marked in place covers the rest, and reads the way Rasa users expect.
"""

from __future__ import annotations

import re

from assistant.intents.example import Span

_MARK = re.compile(r"\[([^\[\]()]+)\]\(\s*([A-Za-z_][\w.\-]*)\s*\)")


def parse_annotated(example: str) -> tuple[str, list[Span]]:
    """The plain text of an annotated example and the spans of its marked slots.

    Raise `ValueError` when a bracket or parenthesis is not part of a `[words](slot)` mark.
    """
    text_parts: list[str] = []
    spans: list[Span] = []
    length, last = 0, 0
    for match in _MARK.finditer(example):
        _check_plain(example[last : match.start()], last)
        before = example[last : match.start()]
        text_parts.append(before)
        length += len(before)
        value = match.group(1)
        if not value.strip():
            raise ValueError(f"empty slot value at column {match.start() + 1}")
        spans.append(Span(length, length + len(value), match.group(2)))
        text_parts.append(value)
        length += len(value)
        last = match.end()
    _check_plain(example[last:], last)
    text_parts.append(example[last:])
    return "".join(text_parts), spans


def _check_plain(text: str, offset: int) -> None:
    for i, char in enumerate(text):
        if char in "[]()":
            raise ValueError(f"stray '{char}' at column {offset + i + 1}; mark a slot as [words](slot)")


def as_template(example: str) -> str | None:
    """The example as a template sentence, its marked values standing for their slot (`[kitchen](room)` ->
    `{room}`); None when its words hold template syntax (`{`, `|`, `<`) that would read as something else."""
    text, spans = parse_annotated(example)
    if any(c in text for c in "{}|<>"):
        return None
    out, last = [], 0
    for span in spans:
        out += [text[last : span.start], "{" + span.slot + "}"]
        last = span.end
    return "".join(out + [text[last:]])
