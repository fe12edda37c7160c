"""Out-of-scope examples: the domain's own and a built-in general set.

A user with a ten-intent domain should get rejection without writing a single
negative sentence, so every intent-file domain is trained with a general set
of chit-chat, questions and other domains' commands (`data/general_out_of_scope.txt`),
besides the `out_of_scope:` sentences its files declare.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from assistant.intents.example import Example, from_spans
from assistant.intents.expand import OUT_OF_SCOPE

GENERAL = Path(__file__).with_name("data") / "general_out_of_scope.txt"


@cache
def general_out_of_scope() -> tuple[str, ...]:
    """The built-in general negative sentences."""
    if not GENERAL.is_file():
        return ()
    return tuple(line.strip() for line in GENERAL.read_text(encoding="utf-8").splitlines() if line.strip())


def negative_examples(sentences: list[str], in_scope: list[Example]) -> list[Example]:
    """Sentences as `out_of_scope` examples, leaving out any the domain itself can say."""
    taken = {" ".join(e.tokens).lower() for e in in_scope}
    out, seen = [], set()
    for text in sentences:
        example = from_spans(text, OUT_OF_SCOPE, [], {"source": "out_of_scope"})
        key = " ".join(example.tokens).lower()
        if example.tokens and key not in taken and key not in seen:
            seen.add(key)
            out.append(example)
    return out
