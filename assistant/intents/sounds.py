"""How alike two words sound, for repairing what a recogniser or a typist got nearly right.

A word is compared by its spelling (normalised Levenshtein similarity,
rapidfuzz) and by its sound (the same similarity over Metaphone codes,
jellyfish): "light rose" and "light roast", "expresso" and "espresso",
"wether" and "weather" are close in one or the other. Short codes say little
("on" and "of"), so sound counts only when the codes have two letters or more.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import jellyfish
import numpy as np
from rapidfuzz import process
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
    "bedroom") and sound, over the whole phrase (`similarities` of one)."""
    return 1.0 if a == b else float(similarities(a, Phrases([b]))[0])


class Phrases:
    """Phrases prepared to be compared with one phrase all at once (`similarities`): their spellings with and
    without spaces and their sound codes, worked out once (a list's values, compared with every span of every
    utterance a near miss is looked for in)."""

    def __init__(self, phrases: Iterable[str]):
        self.texts = list(phrases)
        self.joined = [p.replace(" ", "") for p in self.texts]
        self.codes = [" ".join(code(w) for w in p.split()) for p in self.texts]
        self.short = np.array([len(c) < 2 for c in self.codes], dtype=bool)


def similarities(phrase: str, phrases: Phrases) -> np.ndarray:
    """The similarity of `phrase` with each of `phrases` (0 to 1), computed in C over all of them at once: the
    better of spelling, with spaces or none ("bed room", "bedroom"), and sound over the whole phrase; sound counts
    only where both codes have two letters or more."""
    if not phrases.texts:
        return np.zeros(0)

    def scored(query: str, choices: list[str]) -> np.ndarray:
        return process.cdist([query], choices, scorer=Levenshtein.normalized_similarity, dtype=np.float64)[0]

    out = np.maximum(scored(phrase, phrases.texts), scored(phrase.replace(" ", ""), phrases.joined))
    sound = " ".join(code(w) for w in phrase.split())
    if len(sound) >= 2:
        out = np.maximum(out, np.where(phrases.short, 0.0, scored(sound, phrases.codes)))
    return out
