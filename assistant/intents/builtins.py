"""Built-in slot types: numbers, percentages, durations and times of day.

Each built-in does two things. For training it *says* a random value the many
ways people do ("twenty five", "25", "an hour and a half", "half past seven"),
so the tagger learns the surface forms rather than a list. At runtime it *parses*
the tagged words back into a value (an int, seconds, "HH:MM").

Pure Python on purpose: the runtime imports this on every parse.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

# --- number words -----------------------------------------------------------

_SMALL = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS_WORDS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_UNITS = {w: n for n, w in enumerate(_SMALL)}
_TENS = {w: 20 + 10 * n for n, w in enumerate(_TENS_WORDS)}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000}
_DIGITS = re.compile(r"^[-+]?\d+(?:,\d{3})*(?:\.\d+)?$")
_PUNCT = re.compile(r"[!?;\"“”()]+")


def words_of(text: str) -> list[str]:
    """Lower-case words for parsing: hyphens and glued units ("10min", "7am") split apart."""
    text = _PUNCT.sub(" ", text.lower().replace("’", "'"))
    text = re.sub(r"(?<=\d)(?=[a-z%])|(?<=[a-z%])(?=\d)", " ", text)
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)
    text = re.sub(r"(?<!\d),|,(?!\d{3})", " ", text)
    text = text.replace("%", " % ")
    return text.split()


def take_number(words: list[str], i: int, decimals: bool = True) -> tuple[int | float, int] | None:
    """Read the number that starts at `words[i]`; return it and the index after it.

    Accepts digits ("25", "1,000", "2.5") and English words ("a hundred and one",
    "twenty five", "two point five", "minus three"); stops before words that cannot
    continue the number, so "seven thirty" reads as 7 and leaves "thirty".
    """
    n = len(words)
    sign, j = 1, i
    if j < n and words[j] in ("minus", "negative"):
        sign, j = -1, j + 1
    total, current, last, start = 0, 0, None, j
    while j < n:
        w = words[j]
        if last is None and _DIGITS.match(w):
            value = float(w.replace(",", "")) if "." in w else int(w.replace(",", ""))
            if isinstance(value, float) and not decimals:
                return None
            current, last, j = value, "digits", j + 1
            if isinstance(value, float):
                break
            continue
        if last is None and w in ("a", "an") and j + 1 < n and words[j + 1] in _SCALES:
            current, last, j = 1, "unit", j + 1
            continue
        if w in _UNITS and last in (None, "tens", "scale", "and"):
            if last == "tens" and not 0 < _UNITS[w] < 10:
                break  # "twenty five", never "twenty twelve"
            current, last, j = current + _UNITS[w], "unit", j + 1
            continue
        if w in _TENS and last in (None, "scale", "and"):
            current, last, j = current + _TENS[w], "tens", j + 1
            continue
        if w in _SCALES and last in ("unit", "tens", "digits"):
            scale = _SCALES[w]
            if scale == 100:
                if current % 100 == 0 and current >= 100:
                    break
                current *= 100
            else:
                total, current = total + current * scale, 0
            last, j = "scale", j + 1
            continue
        if w == "and" and last == "scale" and j + 1 < n and (words[j + 1] in _UNITS or words[j + 1] in _TENS):
            last, j = "and", j + 1
            continue
        break
    if last is None or last == "and":
        return None
    value: int | float = total + current
    if decimals and last != "digits" and j + 1 < n and words[j] == "point" and words[j + 1] in _UNITS:
        digits = ""
        j += 1
        while j < n and words[j] in _UNITS and _UNITS[words[j]] < 10:
            digits += str(_UNITS[words[j]])
            j += 1
        value = float(f"{value}.{digits}")
    if j == start:
        return None
    return sign * value, j


def _number(text: str, exact: bool) -> int | float | None:
    """The first number in the text; with `exact`, the number the whole text says or None ("twenty five minutes")."""
    words = words_of(text)
    for i in range(min(1, len(words)) if exact else len(words)):
        found = take_number(words, i)
        if found is not None:
            return None if exact and found[1] != len(words) else found[0]
    return None


def parse_integer(text: str, exact: bool = False) -> int | None:
    """The first whole number in the text ("twenty five" -> 25, "a hundred and one" -> 101)."""
    value = _number(text, exact)
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    return value


def parse_number(text: str, exact: bool = False) -> int | float | None:
    """Like `parse_integer`, but also "21.5" and "twenty one point five"."""
    return _number(text, exact)


def say_integer(n: int, and_after_hundred: bool = True, hyphen: bool = False, a_hundred: bool = False) -> str:
    """English words for a whole number ("a hundred and one", "one hundred one", "twenty-five")."""
    if n < 0:
        return "minus " + say_integer(-n, and_after_hundred, hyphen, a_hundred)
    if n < 20:
        return _SMALL[n]
    if n < 100:
        tens, unit = divmod(n, 10)
        return _TENS_WORDS[tens - 2] + (("-" if hyphen else " ") + _SMALL[unit] if unit else "")
    for scale_word, scale in (("million", 1_000_000), ("thousand", 1_000), ("hundred", 100)):
        if n >= scale:
            head, rest = divmod(n, scale)
            lead = "a" if head == 1 and a_hundred else say_integer(head, and_after_hundred, hyphen)
            words = f"{lead} {scale_word}"
            if rest:
                joiner = " and " if and_after_hundred and rest < 100 else " "
                words += joiner + say_integer(rest, and_after_hundred, hyphen)
            return words
    raise AssertionError(n)


def _spoken_or_digits(rng: random.Random, n: int) -> str:
    if rng.random() < 0.5:
        return str(n)
    return say_integer(n, and_after_hundred=rng.random() < 0.6, hyphen=rng.random() < 0.2, a_hundred=rng.random() < 0.4)


def _pick_integer(rng: random.Random, low: int, high: int) -> int:
    """Mostly small numbers, as people say them, but every size of the range now and then."""
    if high - low <= 100 or rng.random() < 0.5:
        return rng.randint(low, min(high, low + 100))
    return int(round(low + (high - low) ** rng.random()))


def sample_integer(rng: random.Random, low: int = 0, high: int = 1000) -> tuple[str, int]:
    n = _pick_integer(rng, low, high)
    return _spoken_or_digits(rng, n), n


def sample_number(rng: random.Random, low: int = 0, high: int = 1000) -> tuple[str, int | float]:
    if rng.random() < 0.8:
        return sample_integer(rng, low, high)
    whole, tenth = _pick_integer(rng, low, max(low, high - 1)), rng.randint(1, 9)
    value = float(f"{whole}.{tenth}")
    if rng.random() < 0.5:
        return f"{whole}.{tenth}", value
    return f"{say_integer(whole)} point {_SMALL[tenth]}", value


# --- percentages ------------------------------------------------------------

_FULL = {"full", "max", "maximum", "all the way"}


def parse_percentage(text: str, exact: bool = False) -> int | float | None:
    """"50 percent", "fifty per cent", "50%", "half" -> 50; "max" -> 100. With `exact`, the whole text must be one."""
    words = words_of(text)
    joined = " ".join(words)
    if joined in _FULL or joined in ("full brightness", "full volume"):
        return 100
    if joined in ("half", "half way", "halfway"):
        return 50
    if not exact:
        return parse_number(text)
    for suffix in (["percent"], ["per", "cent"], ["%"]):
        if words[-len(suffix):] == suffix:
            words = words[: -len(suffix)]
            break
    return _number(" ".join(words), exact=True) if words else None


def sample_percentage(rng: random.Random, low: int = 0, high: int = 100) -> tuple[str, int]:
    n = rng.choice([rng.randint(low, high), 10 * rng.randint(low // 10, high // 10), 5 * rng.randint(low // 5, high // 5)])
    n = min(max(n, low), high)
    number = _spoken_or_digits(rng, n)
    form = rng.random()
    if form < 0.45:
        return f"{number} percent", n
    if form < 0.6 and number.isdigit():
        return f"{number}%", n
    if form < 0.7:
        return f"{number} per cent", n
    return number, n


# --- durations --------------------------------------------------------------

_DURATION_UNITS = {
    **dict.fromkeys(["second", "seconds", "sec", "secs", "s"], 1),
    **dict.fromkeys(["minute", "minutes", "min", "mins", "m"], 60),
    **dict.fromkeys(["hour", "hours", "hr", "hrs", "h"], 3600),
    **dict.fromkeys(["day", "days"], 86400),
    **dict.fromkeys(["week", "weeks"], 604800),
}
_SMALLER_UNIT = {3600: 60, 60: 1, 86400: 3600}
_FRACTIONS = {("and", "a", "half"): 0.5, ("and", "a", "quarter"): 0.25, ("and", "three", "quarters"): 0.75}


def _fraction_at(words: list[str], j: int) -> tuple[float, int]:
    for phrase, value in _FRACTIONS.items():
        if tuple(words[j : j + 3]) == phrase:
            return value, j + 3
    return 0.0, j


def _skip_of_a(words: list[str], j: int) -> int:
    if j < len(words) and words[j] == "of":
        j += 1
    if j < len(words) and words[j] in ("a", "an"):
        j += 1
    return j


def _take_quantity(words: list[str], i: int) -> tuple[float, int] | None:
    """How many units: "2", "two and a half", "an", "half an", "a quarter of an", "a couple of"."""
    n = len(words)
    w = words[i]
    nxt = words[i + 1] if i + 1 < n else ""
    if w == "half":
        return 0.5, _skip_of_a(words, i + 1)
    if w in ("a", "an") and nxt == "half":
        return 0.5, i + 2
    if w in ("a", "an") and nxt == "quarter" or w == "quarter":
        return 0.25, _skip_of_a(words, i + (2 if w != "quarter" else 1))
    if w in ("a", "an") and nxt == "couple":
        return 2, _skip_of_a(words, i + 2)
    number = take_number(words, i)
    if number is not None:
        value, j = number
        if j < n and words[j] in ("quarter", "quarters"):
            return value * 0.25, _skip_of_a(words, j + 1)
        fraction, k = _fraction_at(words, j)
        if fraction and k < n and words[k] in _DURATION_UNITS:
            return value + fraction, k
        return value, j
    if w in ("a", "an"):
        return 1, i + 1
    return None


def _whole(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def parse_duration(text: str, exact: bool = False) -> int | float | None:
    """Seconds in "five minutes", "an hour and a half", "1 hour 30", "half an hour", "2 and a half hours".

    Words that are no part of a duration are passed over, unless `exact`: then every word must be.
    """
    words = words_of(text)
    total, found, last_unit, i = 0.0, False, None, 0
    while i < len(words):
        if exact and found and words[i] == "and":  # "one hour and thirty minutes"
            i += 1
            continue
        quantity = _take_quantity(words, i)
        if quantity is None:
            if exact:
                return None
            i += 1
            continue
        value, j = quantity
        if j < len(words) and words[j] in _DURATION_UNITS:
            unit = _DURATION_UNITS[words[j]]
            j += 1
        elif last_unit in _SMALLER_UNIT and j > i:
            unit = _SMALLER_UNIT[last_unit]  # "1 hour 30": the unit left unsaid is the next smaller one
        else:
            if exact:
                return None
            i += 1
            continue
        fraction, j = _fraction_at(words, j)
        total += (value + fraction) * unit
        found, last_unit, i = True, unit, j
    return _whole(total) if found else None


def _unit_word(rng: random.Random, unit: str, count: float) -> str:
    short = {"second": ["secs", "sec"], "minute": ["mins", "min"], "hour": ["hrs", "hr"]}
    if count != 1 and rng.random() < 0.1 and unit in short:
        return short[unit][0]
    return unit if count == 1 else unit + "s"


def sample_duration(rng: random.Random) -> tuple[str, int | float]:
    form = rng.random()
    if form < 0.5:
        unit, seconds = rng.choice([("second", 1), ("minute", 60), ("minute", 60), ("hour", 3600)])
        count = rng.choice([rng.randint(1, 12), rng.randint(1, 60), 5 * rng.randint(1, 12)])
        if unit == "hour":
            count = rng.randint(1, 12)
        if count == 1 and rng.random() < 0.5:
            return f"{'an' if unit == 'hour' else 'a'} {unit}", seconds
        return f"{_spoken_or_digits(rng, count)} {_unit_word(rng, unit, count)}", count * seconds
    if form < 0.62:
        return rng.choice(
            [
                ("half an hour", 1800), ("a half hour", 1800), ("a quarter of an hour", 900),
                ("quarter of an hour", 900), ("three quarters of an hour", 2700), ("half a minute", 30),
                ("an hour and a half", 5400), ("a minute and a half", 90), ("a couple of minutes", 120),
                ("a couple of hours", 7200), ("a day", 86400),
            ]
        )
    if form < 0.75:
        unit, seconds = rng.choice([("minute", 60), ("hour", 3600)])
        count = rng.randint(1, 9)
        return f"{_spoken_or_digits(rng, count)} and a half {unit}s", _whole((count + 0.5) * seconds)
    big, small, big_s, small_s = rng.choice([("hour", "minute", 3600, 60), ("minute", "second", 60, 1)])
    a, b = rng.randint(1, 5 if big == "hour" else 20), rng.choice([5, 10, 15, 20, 30, 45, rng.randint(1, 59)])
    joiner = rng.choice([" ", " and "])
    text = f"{_spoken_or_digits(rng, a)} {_unit_word(rng, big, a)}{joiner}{_spoken_or_digits(rng, b)} {_unit_word(rng, small, b)}"
    return text, a * big_s + b * small_s


# --- times of day -----------------------------------------------------------

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_PM = {"pm", "p.m", "p.m.", "evening", "afternoon", "night", "tonight"}
_AM = {"am", "a.m", "a.m.", "morning"}
_NAMED = {"noon": (12, 0), "midday": (12, 0), "midnight": (0, 0)}


def _time_words(text: str) -> list[str]:
    text = re.sub(r"\b([ap])\s*\.?\s*m\b\.?", r"\1m", text.lower())
    text = re.sub(r"(\d{1,2})\s*[:.h]\s*(\d\d)\b", r" \1:\2 ", text)  # also "19 : 30", as words joined back
    text = re.sub(r"o\s*'?\s*clock", "oclock", text)
    words: list[str] = []
    for token in text.split():
        words.extend([token] if _CLOCK.match(token) else words_of(token))
    return [w.strip(",.") for w in words if w.strip(",.")]


_FILLER = ("at", "the", "in", "for", "around", "about", "by", "exactly", "sharp")
_SUFFIXES = _PM | _AM | {"oclock"}


def parse_time(text: str, exact: bool = False) -> str | None:
    """A time of day as "HH:MM": "7 am" -> "07:00", "seven thirty" -> "07:30", "19:30", "quarter to eight",
    "fourteen hundred hours" -> "14:00".

    Words after the time other than am/pm and the like are passed over, unless `exact`.
    """
    words = [w for w in _time_words(text) if w not in _FILLER]
    hour = minute = None
    shift, i = 0, 0
    if words and words[0] in _NAMED:
        hour, minute = _NAMED[words[0]]
        i = 1
    elif words and _CLOCK.match(words[0]):
        match = _CLOCK.match(words[0])
        hour, minute, i = int(match.group(1)), int(match.group(2)), 1
    else:
        offset = None  # minutes past (+) or to (-) the hour named next
        first = take_number(words, 0, decimals=False) if words else None
        if words[:1] == ["half"] or words[:2] == ["a", "half"]:
            offset, i = 30, words.index("half") + 1
        elif words[:1] == ["quarter"] or words[:2] == ["a", "quarter"]:
            offset, i = 15, words.index("quarter") + 1
        elif first is not None and first[1] < len(words) and words[first[1]] in ("past", "after", "to", "before", "minutes", "minute", "till"):
            offset, i = first
        if offset is not None:
            if i < len(words) and words[i] in ("minutes", "minute"):
                i += 1
            if i >= len(words) or words[i] not in ("past", "after", "to", "before", "till"):
                return None
            direction = -1 if words[i] in ("to", "before", "till") else 1
            target = take_number(words, i + 1, decimals=False)
            if target is None:
                if i + 1 < len(words) and words[i + 1] in _NAMED:
                    target = (_NAMED[words[i + 1]][0], i + 2)
                else:
                    return None
            hour, minute, shift, i = target[0], 0, direction * offset, target[1]
        elif first is not None and first[0] >= 100:  # "fourteen hundred (hours)", "1430": a 24-hour clock
            (hour, minute), i = divmod(first[0], 100), first[1]
            if i < len(words) and words[i] == "hours":
                i += 1
        elif first is not None:
            hour, i = first
            minute = 0
            if i < len(words) and words[i] == "oclock":
                i += 1
            elif i < len(words) and words[i] in ("oh", "o") and i + 1 < len(words):
                after = take_number(words, i + 1, decimals=False)
                if after is not None and after[0] < 10:
                    minute, i = after[0], after[1]
            else:
                after = take_number(words, i, decimals=False)
                if after is not None and after[0] < 60:
                    minute, i = after
                    if minute < 10 and not (i > 0 and words[i - 1].isdigit() and len(words[i - 1]) == 2):
                        return None  # "seven five" is not a time
        else:
            return None
    if hour is None or minute is None or not (0 <= hour <= 24 and 0 <= minute < 60):
        return None
    rest = set(words[i:])
    if exact and not rest <= _SUFFIXES:
        return None
    if rest & _PM and hour < 12:
        hour += 12
    elif rest & _AM and hour == 12:
        hour = 0
    hour, minute = divmod((hour * 60 + minute + shift) % (24 * 60), 60)
    return f"{hour:02d}:{minute:02d}"


def _say_suffix(rng: random.Random, hour: int) -> str:
    if hour < 12:
        return rng.choice(["am", "a.m.", "in the morning"])
    return rng.choice(["pm", "p.m.", "in the evening" if hour >= 17 else "in the afternoon"])


def sample_time(rng: random.Random) -> tuple[str, str]:
    hour = rng.randint(0, 23)
    minute = rng.choice([0, 0, 0, 15, 30, 30, 45, 5 * rng.randint(0, 11), rng.randint(0, 59)])
    value = f"{hour:02d}:{minute:02d}"
    h12 = hour % 12 or 12
    say = say_integer if rng.random() < 0.5 else str
    form = rng.random()
    if (hour, minute) in ((12, 0), (0, 0)) and form < 0.2:
        return rng.choice(["noon", "midday"]) if hour else "midnight", value
    if form < 0.25:
        return (f"{hour:02d}:{minute:02d}" if rng.random() < 0.5 else f"{hour}:{minute:02d}"), value
    if form < 0.55 and minute == 0:
        return (f"{h12}{'am' if hour < 12 else 'pm'}" if rng.random() < 0.2 else f"{say(h12)} {_say_suffix(rng, hour)}"), value
    if form < 0.55:
        return f"{h12}:{minute:02d} {_say_suffix(rng, hour)}", value
    if form < 0.7 and minute in (15, 30, 45):
        named = hour if minute != 45 else (hour + 1) % 24
        phrase = {15: "quarter past", 30: "half past", 45: "quarter to"}[minute]
        return f"{phrase} {say_integer(named % 12 or 12)} {_say_suffix(rng, named)}", value
    if minute == 0:
        clock = f"{say_integer(h12)} o'clock"
    elif minute < 10:
        clock = f"{say_integer(h12)} oh {say_integer(minute)}"
    else:
        clock = f"{say_integer(h12)} {say_integer(minute)}"
    return f"{clock} {_say_suffix(rng, hour)}", value


# --- registry ---------------------------------------------------------------


_TEXT = ("milk eggs bread coffee pasta rice apples bananas tomatoes cheese butter yogurt olive oil paper towels "
         "batteries dish soap shampoo toothpaste flour sugar chocolate jazz the beatles morning news rain sounds "
         "podcast taylor swift coldplay mom dad grandma the dentist the plumber homework laundry the dishes "
         "the garbage the plants the dog the cat the car the bills the report pizza tea juice cereal water filters "
         "light bulbs birthday party dinner lunch workout meeting yoga class the movie vacation photos").split(" ")


def sample_text(rng: random.Random) -> tuple[str, str]:
    """Free text for a `text` slot in a template (a message, a search, an item): one to three words of everyday
    things, so the model learns where free text goes, not what it says."""
    words = " ".join(rng.sample(_TEXT, rng.choice([1, 1, 2, 2, 3])))
    return words, words


@dataclass(frozen=True)
class Builtin:
    """A slot type that needs no list: how to parse it at runtime and say it for training."""

    name: str
    parse: Callable[[str], Any]
    """Text -> value, or None when the text does not read as this type (words around the value are passed over)."""
    exact: Callable[[str], Any]
    """Text -> value when the whole text is one of this type, else None: what the grammar matcher asks of a span."""
    sample: Callable[..., tuple[str, Any]] | None
    """(rng, low, high) -> (surface text, value); None for `text`, which cannot be made up."""
    ranged: bool = False
    """Whether `min`/`max` of a slot declaration apply."""


BUILTINS: dict[str, Builtin] = {
    "integer": Builtin("integer", parse_integer, partial(parse_integer, exact=True), sample_integer, ranged=True),
    "number": Builtin("number", parse_number, partial(parse_number, exact=True), sample_number, ranged=True),
    "percentage": Builtin("percentage", parse_percentage, partial(parse_percentage, exact=True), sample_percentage, ranged=True),
    "duration": Builtin("duration", parse_duration, partial(parse_duration, exact=True), lambda rng, *_: sample_duration(rng)),
    "time": Builtin("time", parse_time, partial(parse_time, exact=True), lambda rng, *_: sample_time(rng)),
    "text": Builtin("text", lambda text: None, lambda text: text, lambda rng, *_: sample_text(rng)),
}
"""Built-in slot types by name; `text` is free text (the words themselves are the value)."""

DEFAULT_RANGES = {"integer": (0, 1000), "number": (0, 1000), "percentage": (0, 100)}

WORDS = frozenset(_UNITS) | frozenset(_TENS) | frozenset(_SCALES) | frozenset(_DURATION_UNITS) | frozenset(_NAMED) | _PM | _AM | frozenset(
    "a an and half quarter quarters couple of point minus negative percent per cent past after to till before oh o oclock".split())
"""Every word the built-in types read, for repairing a near miss ("five minuets")."""
