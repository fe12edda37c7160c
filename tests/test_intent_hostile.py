"""Hostile intent files (uploaded to /v1/train by anyone with a token): each one gives a domain or one
`file:line` error, quickly and in little memory, never a crash, a hang or gigabytes."""

from __future__ import annotations

import re
import time
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.intents import IntentFileError, load_domain

SECONDS = 3.0
PEAK_MB = 150


def loads_or_points_at_a_line(path) -> IntentFileError | None:
    """Load `path` within the time and memory bounds; the error, which must name the file and line, or None."""
    tracemalloc.start()
    started = time.monotonic()
    error = None
    try:
        load_domain(path)
    except IntentFileError as e:
        error = e
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.monotonic() - started < SECONDS
    assert peak < PEAK_MB * 2**20
    if error is not None:
        assert re.match(rf"{re.escape(str(path))}:\d+: \S", str(error)), str(error)
        assert len(str(error)) < 600, "the message quotes the whole hostile input"
    return error


def laughs(levels: int, fan: int) -> str:
    text = "a0: &a0 [" + ", ".join(["lol"] * fan) + "]\n"
    for i in range(1, levels + 1):
        text += f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * fan) + "]\n"
    return text + f"intents:\n  A:\n    sentences: [hi]\n    examples: *a{levels}\n"


FOUND = {  # the attacks of issue 13, each of which took the server down
    "recursive alias": "out_of_scope: &a [*a]\nintents: {A: {sentences: [hi]}}\n",
    "3,000 nested lists": "x: " + "[" * 3000 + "]" * 3000 + "\n",
    "billion laughs": laughs(9, 9),
    "a chain of 600 rules": "rules:\n" + "".join(f"  r{i}: <r{i + 1}>\n" for i in range(600)) + "  r600: hi\n"
                            "intents:\n  A:\n    sentences: ['<r0>']\n",
    "rule doubling": "rules:\n  r0: (a|b)\n" + "".join(f"  r{i}: <r{i - 1}> <r{i - 1}>\n" for i in range(1, 23))
                     + "intents:\n  A:\n    sentences: ['<r22>']\n",
    "3,000 nested parentheses": "intents:\n  A:\n    sentences: ['" + "(" * 3000 + "a" + ")" * 3000 + "']\n",
}


@pytest.mark.parametrize("text", FOUND.values(), ids=FOUND.keys())
def test_the_attacks_found_get_a_line_not_a_crash(tmp_path, text):
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    assert loads_or_points_at_a_line(path) is not None


words = st.sampled_from(["turn", "on", "the", "light", "{room}", "<r0>", "<r1>", "<r2>", "(", ")", "[", "]", "|", ";", "{", "}", "<"])


@st.composite
def templates(draw) -> str:
    """Templates of balanced and unbalanced groups, deep nesting, long alternations and rule references."""
    parts = draw(st.lists(words, max_size=30))
    depth = draw(st.integers(0, 60))
    alternation = "|".join(draw(st.lists(st.sampled_from(["a", "b", "c d"]), max_size=200)))
    return "(" * depth + " ".join(parts) + (f" ({alternation})" if alternation else "") + ")" * draw(st.integers(0, depth))


@st.composite
def intent_files(draw) -> str:
    rules = {f"r{i}": draw(templates()) for i in range(draw(st.integers(0, 3)))}
    if draw(st.booleans()):  # rule graphs: chains, cycles, doubling
        n = draw(st.integers(1, 40))
        rules |= {f"r{i}": " ".join(f"<r{i + 1}>" for _ in range(draw(st.integers(1, 3)))) for i in range(n)} | {f"r{n}": "x"}
    lines = ["rules:"] + [f"  {name}: '{body.replace(chr(39), chr(39) * 2)}'" for name, body in rules.items()] if rules else []
    lines += ["slots:", "  room:", "    values: [kitchen, bedroom]"]
    lines += ["intents:", "  A:", "    sentences:"] + [f"      - '{t.replace(chr(39), chr(39) * 2)}'" for t in draw(st.lists(templates(), min_size=1, max_size=4))]
    text = "\n".join(lines) + "\n"
    if draw(st.booleans()):  # YAML structure: aliases and nesting
        text += laughs(draw(st.integers(1, 8)), draw(st.integers(1, 12)))
    if draw(st.booleans()):
        depth = draw(st.integers(1, 400))
        text += "extra: " + "[" * depth + "]" * draw(st.sampled_from([depth, max(0, depth - 1)])) + "\n"
    return text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=intent_files())
def test_generated_hostile_files_give_a_domain_or_one_error_with_its_line(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("hostile") / "intents.yaml"
    path.write_text(text)
    loads_or_points_at_a_line(path)
