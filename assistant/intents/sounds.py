"""How alike two words sound, for repairing what a recogniser or a typist got nearly right.

A word is compared by its spelling (normalised Levenshtein similarity,
rapidfuzz) and by its sound (the same similarity over Metaphone codes,
jellyfish): "light rose" and "light roast", "expresso" and "espresso",
"wether" and "weather" are close in one or the other. Short codes say little
("on" and "of"), so sound counts only when the codes have two letters or more.
"""

from __future__ import annotations

from functools import lru_cache

import jellyfish
from rapidfuzz.distance import Levenshtein

CLOSE = 0.6
"""Similarity from which one word may stand for another."""


@lru_cache(maxsize=65536)
def code(word: str) -> str:
    """The word's Metaphone code ("roast" -> "RST")."""
    return jellyfish.metaphone(word) if word.isalpha() else word


def similarity(a: str, b: str) -> float:
    """1 for the same word, 0 for nothing alike: the better of spelling and sound."""
    if a == b:
        return 1.0
    spelling = max(Levenshtein.normalized_similarity(a, b), Levenshtein.normalized_similarity(a.replace(" ", ""), b.replace(" ", "")))
    ca, cb = code(a), code(b)
    sound = Levenshtein.normalized_similarity(ca, cb) if min(len(ca), len(cb)) >= 2 else 0.0
    return max(spelling, sound)


def phrase_similarity(a: str, b: str) -> float:
    """Similarity of two phrases ("light rose", "light roast"): the better of spelling (spaces or none: "bed room",
    "bedroom") and sound, over the whole phrase."""
    if a == b:
        return 1.0
    spelling = max(Levenshtein.normalized_similarity(a, b), Levenshtein.normalized_similarity(a.replace(" ", ""), b.replace(" ", "")))
    ca, cb = " ".join(code(w) for w in a.split()), " ".join(code(w) for w in b.split())
    return max(spelling, Levenshtein.normalized_similarity(ca, cb) if min(len(ca), len(cb)) >= 2 else 0.0)
