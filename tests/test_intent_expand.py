"""Turning a domain into training examples: sampled, balanced, deterministic, with exact slot tags."""

from __future__ import annotations

import logging
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from assistant.intents import (
    expand,
    holdout_values,
    load_domain,
    load_training_data,
    out_of_scope_examples,
    spans_of,
    split_train_dev,
)
from assistant.intents.template import count_sentences, parse_template, sample_path


def domain_of(tmp_path: Path, text: str):
    path = tmp_path / "domain.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return load_domain(path)


HOME = """
slots:
  room:
    values:
      kitchen: []
      living room: [lounge, front room]
      bedroom: [master bedroom]
      bathroom: []
      office: [study]
intents:
  LightsOn:
    sentences:
      - "[please] (turn|switch) on [the] {room} (light|lights)"
      - "{room} lights on"
    examples:
      - "could you turn on the [kitchen](room) light"
  SetTimer:
    sentences:
      - "(set|start) a timer for {duration}"
  SetVolume:
    slots:
      volume: {type: integer, min: 0, max: 10}
    sentences:
      - "(set|turn) the volume to {volume}"
  Pause:
    sentences:
      - "(pause|stop)"
out_of_scope:
  - what is the meaning of life
  - tell me a joke
"""


def slot_words(example) -> dict[str, str]:
    return {slot: " ".join(example.tokens[a:b]) for slot, a, b in spans_of(example.tags)}


def test_every_intent_gets_up_to_the_cap(tmp_path):
    examples = expand(domain_of(tmp_path, HOME), seed=0, max_per_intent=60)
    counts = Counter(e.intent for e in examples)
    # SetVolume spells 2 verbs x 11 numbers x (digits, words) = 44 sentences and Pause 2;
    # sampling finds them all and stops when nothing new comes
    assert counts == {"LightsOn": 60, "SetTimer": 60, "SetVolume": 44, "Pause": 2}
    assert len({e.text for e in examples}) == len(examples)


def test_expansion_is_deterministic_for_a_seed(tmp_path):
    domain = domain_of(tmp_path, HOME)
    first = [(e.tokens, e.tags, e.intent) for e in expand(domain, seed=3, max_per_intent=30)]
    again = [(e.tokens, e.tags, e.intent) for e in expand(domain, seed=3, max_per_intent=30)]
    other = [(e.tokens, e.tags, e.intent) for e in expand(domain, seed=4, max_per_intent=30)]
    assert first == again
    assert first != other


def test_tags_cover_whole_values_and_synonyms_appear(tmp_path):
    examples = [e for e in expand(domain_of(tmp_path, HOME), max_per_intent=200) if e.intent == "LightsOn"]
    rooms = Counter(slot_words(e)["room"] for e in examples)
    assert {"lounge", "front room", "master bedroom", "study", "living room"} <= set(rooms)
    front = next(e for e in examples if "front room" in e.text)
    at = front.tokens.index("front")
    assert front.tags[at : at + 2] == ["B-room", "I-room"]
    assert all(tag == "O" for i, tag in enumerate(front.tags) if i not in (at, at + 1))
    assert front.meta["values"] == {"room": "living room"}


def test_skipped_optionals_leave_single_spaces(tmp_path):
    for example in expand(domain_of(tmp_path, HOME), max_per_intent=50):
        assert "" not in example.tokens and len(example.tokens) == len(example.tags)


def test_free_examples_are_always_included(tmp_path):
    examples = expand(domain_of(tmp_path, HOME), max_per_intent=5)
    free = [e for e in examples if e.meta.get("example")]
    assert [(e.text, e.tags) for e in free] == [
        ("could you turn on the kitchen light", ["O", "O", "O", "O", "O", "B-room", "O"])
    ]


def test_builtins_are_said_in_words_and_in_digits(tmp_path):
    examples = expand(domain_of(tmp_path, HOME), max_per_intent=100)
    durations = [slot_words(e)["duration"] for e in examples if e.intent == "SetTimer"]
    assert any(d[0].isdigit() for d in durations) and any(d[0].isalpha() for d in durations)
    volumes = {e.meta["values"]["volume"] for e in examples if e.intent == "SetVolume"}
    assert volumes <= set(range(11))  # the declared range


def test_held_out_values_and_their_synonyms_never_appear(tmp_path):
    domain = domain_of(tmp_path, HOME)
    examples = expand(domain, max_per_intent=200, exclude_values={"room": ["living room", "kitchen"]})
    texts = " | ".join(e.text for e in examples)
    assert "lounge" not in texts and "front room" not in texts and "kitchen" not in texts
    assert "bedroom" in texts
    # the free example marks a held-out value, so it is left out too
    assert not any(e.meta.get("example") for e in examples)


def test_holdout_values_picks_some_but_never_all(tmp_path):
    domain = domain_of(tmp_path, HOME)
    held = holdout_values(domain, fraction=0.4, seed=1)
    assert list(held) == ["room"] and len(held["room"]) == 2
    assert held == holdout_values(domain, fraction=0.4, seed=1)
    assert len(holdout_values(domain, fraction=1.0)["room"]) == 4


def test_sentences_two_intents_share_are_dropped(tmp_path, caplog):
    domain = domain_of(tmp_path, """
        intents:
          Stop:
            sentences: ["(stop|halt)"]
          Pause:
            sentences: ["(stop|pause)"]
        """)
    with caplog.at_level(logging.WARNING):
        examples = expand(domain)
    assert sorted(e.text for e in examples) == ["halt", "pause"]
    assert "1 sentences belong to more than one intent" in caplog.text


def test_split_is_per_intent_deterministic_and_disjoint(tmp_path):
    examples = expand(domain_of(tmp_path, HOME), max_per_intent=60)
    train, dev = split_train_dev(examples, dev_fraction=0.25, seed=0)
    assert not {e.text for e in train} & {e.text for e in dev}
    assert Counter(e.intent for e in dev) == {"LightsOn": 15, "SetTimer": 15, "SetVolume": 11, "Pause": 1}
    again = split_train_dev(examples, dev_fraction=0.25, seed=0)
    assert [e.text for e in again[1]] == [e.text for e in dev]


def test_load_training_data_from_intent_files(tmp_path):
    (tmp_path / "home.yaml").write_text(textwrap.dedent(HOME), encoding="utf-8")
    data = load_training_data(tmp_path, seed=0, max_per_intent=60, dev_fraction=0.1, general_negatives=False)
    assert data.test is None
    assert set(data.domain.intents) == {"LightsOn", "SetTimer", "SetVolume", "Pause"}
    # 60 + 60 + 44 + 2 in-scope sentences, and the file's 2 out-of-scope ones
    assert len(data.train) + len(data.dev) == 60 + 60 + 44 + 2 + 2
    assert not {e.text.lower() for e in data.train} & {e.text.lower() for e in data.dev}


def test_intent_files_train_with_the_built_in_general_negatives_never_more_than_in_scope(tmp_path):
    from assistant.intents.negatives import general_out_of_scope

    (tmp_path / "home.yaml").write_text(textwrap.dedent(HOME), encoding="utf-8")
    data = load_training_data(tmp_path, seed=0, max_per_intent=60)
    negatives = [e for e in data.train + data.dev if e.intent == "out_of_scope"]
    in_scope = [e for e in data.train + data.dev if e.intent != "out_of_scope"]
    assert len(general_out_of_scope()) >= 500
    assert len(negatives) == len(in_scope) < len(general_out_of_scope())  # as many as there are in-scope sentences
    assert {"what is the meaning of life", "tell me a joke"} <= {e.text for e in negatives}  # the file's own always
    assert any(e.intent == "out_of_scope" for e in data.dev)  # dev holds some back to choose the threshold on
    assert all(set(e.tags) == {"O"} for e in negatives)


def test_every_value_and_synonym_of_a_list_is_said(tmp_path):
    (tmp_path / "home.yaml").write_text(textwrap.dedent(HOME), encoding="utf-8")
    domain = load_domain(tmp_path)
    examples = expand(domain, seed=0, max_per_intent=5)
    said = {" ".join(e.tokens[i] for i, t in enumerate(e.tags) if t.endswith("-room")) for e in examples if e.intent == "LightsOn"}
    surfaces = {s for v in domain.slot_types["room"].values for s in [v.value, *v.synonyms]}
    assert surfaces <= said


def test_slips_copy_sentences_with_typos_keeping_every_tag(tmp_path):
    (tmp_path / "home.yaml").write_text(textwrap.dedent(HOME), encoding="utf-8")
    plain = load_training_data(tmp_path, seed=0, max_per_intent=60, general_negatives=False)
    slipped = load_training_data(tmp_path, seed=0, max_per_intent=60, general_negatives=False, slips=0.5)
    copies = [e for e in slipped.train if e.meta.get("slipped")]
    assert 0.3 * len(plain.train) < len(copies) < 0.7 * len(plain.train)
    assert all(len(e.tokens) == len(e.tags) for e in copies)
    assert {e.text for e in copies}.isdisjoint({e.text for e in plain.train})
    assert any(e.meta.get("slipped") for e in slipped.dev)


CLINC150 = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "clinc150"


@pytest.mark.skipif(not (CLINC150 / "data_full.json").is_file(), reason="benchmark data not present")
def test_clinc150_brings_its_own_out_of_scope_splits():
    data = load_training_data(CLINC150)
    assert len(data.domain.intents) == 150
    assert (len(data.train), len(data.dev), len(data.test)) == (15_100, 3_100, 5_500)
    assert sum(e.intent == "out_of_scope" for e in data.test) == 1_000


def test_out_of_scope_examples_have_no_slots(tmp_path):
    examples = out_of_scope_examples(domain_of(tmp_path, HOME))
    assert [(e.text, e.intent, set(e.tags)) for e in examples] == [
        ("what is the meaning of life", "out_of_scope", {"O"}),
        ("tell me a joke", "out_of_scope", {"O"}),
    ]


def test_templates_nest_and_sampling_reaches_every_sentence():
    import random

    tree = parse_template("(turn|switch) on [the|my] {room} (light|lights)")
    assert count_sentences(tree) == 12
    rng = random.Random(0)
    seen = {"".join(p if isinstance(p, str) else "{room}" for p in sample_path(tree, rng)) for _ in range(500)}
    assert len({" ".join(s.split()) for s in seen}) == 12
