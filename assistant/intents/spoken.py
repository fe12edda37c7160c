"""What the user may say, for the recogniser: spoken sentences of the domain, sampled from the intents.

A recogniser that only has to choose among the domain's sentences hears them far
more reliably than one that may hear any English. The intent templates already
spell those sentences, so this module samples them, slots filled with their values
and synonyms and numbers, durations and times said in words ("twenty five
minutes", "half past seven"), as the NLU's training data does. Vosk takes the
sample as its runtime grammar (a phrase list); pocketsphinx takes a trigram
language model estimated on it.

Why not a JSGF grammar of the templates for pocketsphinx: written out, the
default domain's templates make a finite-state graph of 400,000 transitions,
which pocketsphinx searches slower than real time; the language model decodes
at a twentieth of real time and still keeps to the domain's words and word orders.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable

from assistant.intents.builtins import BUILTINS, DEFAULT_RANGES, say_integer
from assistant.intents.schema import Domain, Slot
from assistant.intents.template import SlotRef, parse_template, sample_path

log = logging.getLogger(__name__)

Known = Callable[[str], bool]
"""Whether the recogniser's dictionary has a word."""


# --- spoken form ---------------------------------------------------------------

_TIME = re.compile(r"\b(\d{1,2})(?:\s*:\s*|\.)(\d{2})\b")
_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?")
_AMPM = re.compile(r"\b([ap])\.?\s?m\b\.?")
_CLOCK_DIGITS = re.compile(r"\b([01]?\d|2[0-3])([0-5]\d)\b(?=\s*(?:[ap]\.m\.|in the (?:morning|afternoon|evening)))")
"""Digits Whisper writes for a time without its colon: "747 p.m." for "seven forty seven p.m."."""


def _say_time(match: re.Match) -> str:
    """A clock time as it is said: "7:30" -> "seven thirty", "19:05" -> "nineteen oh five", "14:00" -> "fourteen
    hundred". Whisper writes "14:30" for "fourteen thirty"; said on a twelve-hour clock, "two thirty", the alarm
    would ring at night."""
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 12:
        return _say_pairs(hour * 100 + minute)
    h12 = say_integer(hour % 12 or 12)
    if minute == 0:
        return f"{h12} o'clock" if hour in (0, 12) else h12
    if minute < 10:
        return f"{h12} oh {say_integer(minute)}"
    return f"{h12} {say_integer(minute)}"


def _say_pairs(n: int) -> str:
    """A four-digit number said in two pairs, as years and 24-hour times are: "nineteen eighty four", "fourteen
    thirty", "nineteen oh five", "fourteen hundred"."""
    high, low = divmod(n, 100)
    if low == 0:
        return f"{say_integer(high)} hundred"
    return f"{say_integer(high)} {'oh ' if low < 10 else ''}{say_integer(low)}"


def _say_number(match: re.Match) -> str:
    """Digits in words. A bare four-digit number is said in pairs ("1430" -> "fourteen thirty", "1984"), as a
    year or a 24-hour time is, unless it is a round thousand or has no hundreds ("2000", "2005": "two thousand
    and five"); Whisper writes "1,430" for a quantity, which reads "one thousand four hundred and thirty"."""
    text = match.group()
    if "." in text:
        whole, frac = text.split(".")
        return f"{say_integer(int(whole))} point {' '.join(say_integer(int(d)) for d in frac)}"
    if len(text) == 4 and text[0] != "0" and text[1] != "0":
        return _say_pairs(int(text))
    return say_integer(int(text.replace(",", "")))


def spoken(text: str) -> str:
    """Text as a recogniser would write what is said: lower case, numbers in words, no punctuation.

    "set it to 25%" -> "set it to twenty five percent"; "at 7:30 pm" -> "at seven thirty p.m.".
    """
    text = text.lower().replace("’", "'")
    text = _TIME.sub(lambda m: " " + _say_time(m) + " ", text)
    text = text.replace("%", " percent ")
    text = re.sub(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)", " ", text)
    text = _AMPM.sub(lambda m: f"{m.group(1)}.m.", text)
    text = _CLOCK_DIGITS.sub(lambda m: " " + _say_time(m) + " ", text)
    text = _NUMBER.sub(lambda m: " " + _say_number(m) + " ", text)
    words = []
    for token in text.split():
        if token in ("a.m.", "p.m."):
            words.append(token)
            continue
        for word in re.sub(r"[^\w']+", " ", token).replace("_", " ").split():
            word = word.lstrip("'")
            words.append(word if word.endswith("s'") else word.rstrip("'"))
    return " ".join(w for w in words if w)


# --- phrase lists ---------------------------------------------------------------------


def sample_phrases(domain: Domain, known: Known, max_phrases: int = 5000, seed: int = 0) -> list[str]:
    """Distinct spoken sentences of the domain, sampled in turn from every intent, for Vosk's runtime grammar.

    Vosk loops over its phrase list, so a sample of whole sentences keeps word
    order while leaving room for the same words in other orders. Sentences with a
    word the model does not know are skipped (Vosk would silently drop the word).
    """
    rng = random.Random(seed)
    trees = {name: [parse_template(t) for t in intent.sentences] for name, intent in domain.intents.items()}
    trees = {name: ts for name, ts in trees.items() if ts}
    phrases: dict[str, None] = {}
    misses = dict.fromkeys(trees, 0)
    missing: set[str] = set()
    while len(phrases) < max_phrases and any(m < 200 for m in misses.values()):
        for name, templates in trees.items():
            if misses[name] >= 200 or len(phrases) >= max_phrases:
                continue
            intent = domain.intents[name]
            pieces = sample_path(rng.choice(templates), rng)
            text = "".join(f" {_fill(p, intent.slots, domain, rng)} " if isinstance(p, SlotRef) else p for p in pieces)
            phrase = spoken(text)
            unknown = [w for w in phrase.split() if not known(w)]
            if unknown:
                missing.update(unknown)
            if not phrase or unknown or phrase in phrases:
                misses[name] += 1
                continue
            misses[name] = 0
            phrases[phrase] = None
    if missing:
        log.info("%d words of the intents are not in the model's vocabulary; phrases with them are left out: %s",
                 len(missing), ", ".join(sorted(missing)[:20]))
    return list(phrases)


def keep_known(phrases: list[str], known: Known, limit: int) -> list[str]:
    """The first `limit` phrases whose every word the recogniser knows (sentences sampled once, at training, with
    no recogniser at hand, then fitted to each recogniser's vocabulary when it loads)."""
    kept: list[str] = []
    missing: set[str] = set()
    verdict: dict[str, bool] = {}
    for phrase in phrases:
        unknown = [w for w in phrase.split() if not verdict.setdefault(w, known(w))]
        if unknown:
            missing.update(unknown)
        elif phrase:
            kept.append(phrase)
            if len(kept) >= limit:
                break
    if missing:
        log.info("%d words of the intents are not in the model's vocabulary; phrases with them are left out: %s",
                 len(missing), ", ".join(sorted(missing)[:20]))
    return kept


def _fill(ref: SlotRef, slots: dict[str, Slot], domain: Domain, rng: random.Random) -> str:
    slot = slots[ref.name]
    if slot.type in domain.slot_types:
        value = rng.choice(domain.slot_types[slot.type].values)
        return rng.choice([value.value, *value.synonyms])
    builtin = BUILTINS.get(slot.type)
    if builtin is None or builtin.sample is None:
        return ""
    low, high = DEFAULT_RANGES.get(slot.type, (0, 0))
    return builtin.sample(rng, slot.min if slot.min is not None else low, slot.max if slot.max is not None else high)[0]
