"""Typing slips put into copies of training sentences, so the model understands "turn of the kitchen light".

People type "whats the wether tomorow"; templates never say it. A share of
the generated sentences is copied with one or two slips of the kinds people
make: a letter dropped, doubled, swapped with the next or hit on the key beside
it, an apostrophe left out, a word written as one it sounds like. A slip stays
inside its word, so every word keeps its tag and the slots stay where they were.
"""

from __future__ import annotations

import random

from assistant.intents.example import Example

NEIGHBOURS = {
    "q": "wa", "w": "qes", "e": "wrd", "r": "etf", "t": "ryg", "y": "tuh", "u": "yij", "i": "uok", "o": "ipl", "p": "ol",
    "a": "qsz", "s": "awdz", "d": "sefx", "f": "drgc", "g": "fthv", "h": "gyjb", "j": "hukn", "k": "jilm", "l": "kop",
    "z": "asx", "x": "zsdc", "c": "xdfv", "v": "cfgb", "b": "vghn", "n": "bhjm", "m": "njk",
}
"""Keys next to each other on a QWERTY keyboard."""
SOUND_ALIKE = {
    "weather": ["wether", "whether"], "there": ["their"], "their": ["there"], "to": ["too"], "too": ["to"], "off": ["of"],
    "your": ["you're"], "its": ["it's"], "it's": ["its"], "then": ["than"], "right": ["rite"], "light": ["lite"],
    "lights": ["lites"], "night": ["nite"], "tonight": ["tonite"], "through": ["thru"], "please": ["pls", "plz"],
    "you": ["u"], "are": ["r"], "for": ["4"], "tomorrow": ["tomorow", "tommorow"], "minutes": ["minuets", "mins"],
}
"""Words written as another they sound like, or in the short form people type."""


def slip(word: str, rng: random.Random) -> str:
    """`word` with one slip of the hand (or itself when it is too short to slip)."""
    if word in SOUND_ALIKE and rng.random() < 0.5:
        return rng.choice(SOUND_ALIKE[word])
    if "'" in word and rng.random() < 0.7:
        return word.replace("'", "")
    if len(word) < 3 or not word.isalpha():
        return word
    i = rng.randrange(len(word))
    kind = rng.random()
    if kind < 0.3:
        return word[:i] + word[i + 1 :]  # dropped
    if kind < 0.5:
        return word[:i] + word[i] + word[i:]  # doubled
    if kind < 0.7 and i < len(word) - 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # swapped with the next
    neighbours = NEIGHBOURS.get(word[i])
    return word[:i] + rng.choice(neighbours) + word[i + 1 :] if neighbours else word  # the key beside


def with_slips(examples: list[Example], share: float, seed: int = 0) -> list[Example]:
    """Copies of a seeded `share` of the examples, each with one or two words slipped (the originals not included)."""
    rng = random.Random(f"{seed}:slips")
    out = []
    for example in examples:
        if rng.random() >= share or not example.tokens:
            continue
        tokens = list(example.tokens)
        for i in rng.sample(range(len(tokens)), min(len(tokens), rng.choice((1, 1, 2)))):
            tokens[i] = slip(tokens[i].lower(), rng)
        if tokens != example.tokens and all(tokens):
            out.append(Example(tokens, list(example.tags), example.intent, {**example.meta, "slipped": True}))
    return out
