"""The bundled home-assistant domain in intents/: it loads, covers a real assistant and expands evenly."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from assistant.intents import expand, holdout_values, load_domain, resolve, split_train_dev
from assistant.intents.resolve import normalise

ROOT = Path(__file__).resolve().parents[1]
CAP = 150


@pytest.fixture(scope="module")
def domain():
    return load_domain(ROOT / "intents")


@pytest.fixture(scope="module")
def examples(domain):
    return expand(domain, seed=0, max_per_intent=CAP)


def test_it_covers_a_home_and_desktop_assistant(domain):
    assert len(domain.intents) >= 12
    assert len(domain.slot_types) >= 10
    assert all(len(t.values) >= 2 for t in domain.slot_types.values())
    assert sum(len(t.values) >= 15 for t in domain.slot_types.values()) >= 8
    assert {"integer", "duration", "time", "percentage"} <= {
        s.type for i in domain.intents.values() for s in i.slots.values()
    }
    assert len(domain.out_of_scope) >= 150


def test_every_intent_expands_to_the_cap(examples, domain):
    counts = Counter(e.intent for e in examples)
    assert set(counts) == set(domain.intents)
    assert min(counts.values()) >= CAP - 2  # a sentence two intents share is dropped
    assert all(len(e.tokens) == len(e.tags) for e in examples)


def test_expansion_is_deterministic(domain, examples):
    again = expand(domain, seed=0, max_per_intent=CAP)
    assert [(e.text, e.tags) for e in again] == [(e.text, e.tags) for e in examples]


def test_every_intent_still_expands_with_values_held_out(domain):
    held = holdout_values(domain, fraction=0.2, seed=0)
    examples = expand(domain, seed=0, max_per_intent=50, exclude_values=held)
    assert set(Counter(e.intent for e in examples)) == set(domain.intents)
    used = {(domain.slot_type_of(e.intent, slot), value) for e in examples for slot, value in e.meta.get("values", {}).items()}
    assert not {(t, v) for t, values in held.items() for v in values} & used


def test_dev_sentences_are_not_in_train(examples):
    train, dev = split_train_dev(examples, dev_fraction=0.1, seed=0)
    assert not {e.text.lower() for e in train} & {e.text.lower() for e in dev}
    assert len(dev) >= 0.09 * len(examples)


def test_held_out_out_of_scope_sentences_are_never_trained_on(domain, examples):
    heldout = [line.strip() for line in (ROOT / "tests/data/out_of_scope_heldout.txt").read_text().splitlines() if line.strip()]
    assert len(heldout) == len(set(heldout)) == 100
    from assistant.intents.negatives import general_out_of_scope

    seen = {normalise(s) for s in domain.out_of_scope} | {normalise(e.text) for e in examples}
    seen |= {normalise(s) for s in general_out_of_scope()}
    assert [s for s in heldout if normalise(s) in seen] == []


def test_unseen_value_utterances_are_well_formed(domain):
    cases = yaml.safe_load((ROOT / "tests/data/default_domain_unseen.yaml").read_text())
    assert Counter(c["intent"] for c in cases).keys() == domain.intents.keys()
    trained = {normalise(e.text) for e in expand(domain, seed=0, max_per_intent=300)}
    for case in cases:
        intent = domain.intents[case["intent"]]
        slots = {name: str(text) for name, text in case["slots"].items()}
        assert set(slots) <= set(intent.slots), case
        assert all(text in case["text"] for text in slots.values()), case
        unseen = [
            name for name, text in slots.items()
            if intent.slots[name].type in domain.slot_types and resolve(domain, intent.name, name, text)[1] == text
        ]
        # each case brings a list value no list holds, or at least a sentence never trained on
        assert unseen or normalise(case["text"]) not in trained, case


def test_synonyms_resolve_to_their_values(domain):
    assert resolve(domain, "LightsOn", "room", "the lounge") == ("room", "living room")
    assert resolve(domain, "GetWeather", "city", "NYC") == ("city", "new york")
    assert resolve(domain, "SetTimer", "duration", "half an hour") == ("duration", 1800)
    assert resolve(domain, "ChangeVolume", "direction", "louder") == ("volume_change", "up")
