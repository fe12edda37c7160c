"""The bundled domain, trained as on first use, understands commands with slot values it never saw."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from assistant.intents import load_domain

ROOT = Path(__file__).resolve().parents[1]
UNSEEN = yaml.safe_load((ROOT / "tests" / "data" / "default_domain_unseen.yaml").read_text())


@pytest.fixture(scope="module")
def parser(default_model):
    from assistant.nlu.runtime import Parser

    return Parser(default_model)


def test_the_unseen_set_covers_every_bundled_intent():
    assert {u["intent"] for u in UNSEEN} == set(load_domain(ROOT / "intents").intents)


def slots_right(result, case) -> bool:
    """Every expected slot found, by its words or its canonical value ("on saturday" resolves to "saturday")."""
    want = {k: str(v).lower() for k, v in (case.get("slots") or {}).items()}
    found = {e.slot: {e.text.lower(), str(e.value).lower()} for e in result.entities}
    return found.keys() == want.keys() and all(want[k] in found[k] for k in want)


@pytest.fixture(scope="module")
def unseen_results(parser):
    return parser.parse_batch([u["text"] for u in UNSEEN])


def test_unseen_values_get_the_right_intent_in_31_utterances_of_32(unseen_results):
    """A value the model never saw can still pull it off course ("we're out of hummus": "hum" sounds like music),
    and which one does moves with the seed and the machine: the bound is on the share, measured 62 to 64 of 64."""
    wrong = [(u["text"], u["intent"], [(s.name, s.confidence) for s in r.intent_ranking[:2]])
             for u, r in zip(UNSEEN, unseen_results) if r.intent is None or r.intent.name != u["intent"]]
    assert len(wrong) <= len(UNSEEN) // 32, wrong


def test_every_intent_parses_fully_with_values_it_never_saw(unseen_results):
    fully = {u["intent"] for u, r in zip(UNSEEN, unseen_results) if r.intent and r.intent.name == u["intent"] and slots_right(r, u)}
    assert fully == {u["intent"] for u in UNSEEN}


def test_unseen_values_are_tagged_in_nine_utterances_of_ten(unseen_results):
    wrong = [(u["text"], [(e.slot, e.text) for e in r.entities]) for u, r in zip(UNSEEN, unseen_results) if not slots_right(r, u)]
    assert len(wrong) <= len(UNSEEN) // 10, wrong


HELD_OUT_OOS = [line for line in (ROOT / "tests" / "data" / "out_of_scope_heldout.txt").read_text().splitlines() if line.strip()]


def test_rejects_held_out_out_of_scope_sentences(parser):
    assert len(HELD_OUT_OOS) == 100
    results = parser.parse_batch(HELD_OUT_OOS)
    accepted = [(r.text, r.intent.name) for r in results if r.in_scope]
    assert len(accepted) <= 10, accepted
    assert all(r.entities == [] for r in results if not r.in_scope)


def test_rejection_threshold_can_be_overridden_per_request(parser):
    text = "turn on the garage lights"
    assert parser.parse(text).in_scope
    strict = parser.parse(text, threshold=-1e9)
    assert not strict.in_scope and strict.intent is None and strict.entities == []
    assert strict.intent_ranking[0].name == "LightsOn"  # the ranking still says what it would have been
