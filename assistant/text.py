"""Word splitting shared by training data, the runtime and the grammar.

The slot tagger labels words, not sub-tokens, so the training examples built
from intent files and the utterances parsed at runtime must be cut into words
the same way; this module is that one way.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# A word keeps inner apostrophes and hyphens ("o'clock", "don't", "wi-fi");
# any other punctuation mark is a word of its own, so "kitchen," tags as "kitchen".
_WORD = re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]", re.UNICODE)


class Word(NamedTuple):
    text: str
    start: int  # character offset in the utterance
    end: int


def split_words(text: str) -> list[Word]:
    """Cut an utterance into words with their character offsets."""
    return [Word(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]


# The grammar reads words without punctuation, but keeps a number whole with its decimal point,
# clock colon, thousands comma or percent sign ("2.5", "7:30", "1,000", "50%"), so the built-in
# slot types see the number as said.
_TOKEN = re.compile(r"\d+(?:[.:,]\d+)*%?|\w+(?:['’\-]\w+)*", re.UNICODE)


def tokens(text: str) -> list[Word]:
    """The words the grammar matches: lower case, straight apostrophes, punctuation dropped; offsets into `text`."""
    return [Word(m.group().lower().replace("’", "'"), m.start(), m.end()) for m in _TOKEN.finditer(text)]
