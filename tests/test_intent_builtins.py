"""Built-in slot types: the ways people say numbers, durations, percentages and times, both ways round."""

from __future__ import annotations

import random

import pytest

from assistant.intents import BUILTINS, parse_duration, parse_integer, parse_number, parse_percentage, parse_time
from assistant.intents.builtins import DEFAULT_RANGES, say_integer


@pytest.mark.parametrize(
    "text, value",
    [
        ("zero", 0), ("7", 7), ("twenty five", 25), ("twenty-five", 25), ("25", 25),
        ("a hundred and one", 101), ("one hundred one", 101), ("a thousand", 1000),
        ("two thousand and five", 2005), ("1,000", 1000), ("minus five", -5), ("-3", -3),
        ("nineteen", 19), ("about 40", 40), ("hello", None), ("21.5", None),
    ],
)
def test_integer(text, value):
    assert parse_integer(text) == value


@pytest.mark.parametrize("text, value", [("21.5", 21.5), ("twenty one point five", 21.5), ("three", 3)])
def test_number(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("five minutes", 300), ("an hour and a half", 5400), ("90 seconds", 90),
        ("1 hour 30 minutes", 5400), ("1 hour and 30 minutes", 5400), ("half an hour", 1800),
        ("2 and a half hours", 9000), ("a quarter of an hour", 900), ("three quarters of an hour", 2700),
        ("a minute and a half", 90), ("1.5 hours", 5400), ("10 mins", 600), ("10min", 600),
        ("1 hour 30", 5400), ("a couple of minutes", 120), ("twenty five seconds", 25), ("a day", 86400),
        ("later", None),
    ],
)
def test_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text, value",
    [
        ("7 am", "07:00"), ("7am", "07:00"), ("seven thirty", "07:30"), ("19:30", "19:30"),
        ("19 : 30", "19:30"), ("7:30 pm", "19:30"), ("ten thirty p.m.", "22:30"), ("half past seven", "07:30"),
        ("quarter to eight", "07:45"), ("quarter past ten in the evening", "22:15"), ("noon", "12:00"),
        ("midnight", "00:00"), ("seven o'clock", "07:00"), ("six oh five", "06:05"), ("twelve am", "00:00"),
        ("10 past 6 pm", "18:10"), ("seven in the morning", "07:00"), ("soon", None),
        ("fourteen thirty", "14:30"), ("fourteen hundred hours", "14:00"), ("1430", "14:30"), ("nineteen oh five", "19:05"),
        ("twenty five hundred", None),
    ],
)
def test_time(text, value):
    assert parse_time(text) == value


@pytest.mark.parametrize(
    "text, value",
    [("50 percent", 50), ("fifty per cent", 50), ("50%", 50), ("half", 50), ("max", 100), ("seventy", 70)],
)
def test_percentage(text, value):
    assert parse_percentage(text) == value


@pytest.mark.parametrize("n", [0, 7, 13, 20, 42, 100, 101, 999, 1000, 1234, 20005, 1_000_000])
def test_saying_a_number_reads_back(n):
    for style in ({}, {"and_after_hundred": False}, {"hyphen": True}, {"a_hundred": True}):
        assert parse_integer(say_integer(n, **style)) == n


@pytest.mark.parametrize("name", [name for name, b in BUILTINS.items() if b.sample is not None and name != "text"])
def test_every_sampled_surface_form_parses_to_its_value(name):
    builtin = BUILTINS[name]
    rng = random.Random(name)
    forms = set()
    for _ in range(2000):
        text, value = builtin.sample(rng, *DEFAULT_RANGES.get(name, ()))
        assert builtin.parse(text) == value, text
        forms.add(text)
    assert len(forms) > 300
    assert any(any(c.isdigit() for c in f) for f in forms) and any(f.split()[0].isalpha() for f in forms)


def test_a_declared_range_bounds_the_samples():
    rng = random.Random(0)
    values = {BUILTINS["integer"].sample(rng, 16, 30)[1] for _ in range(500)}
    assert values == set(range(16, 31))
