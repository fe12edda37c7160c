"""Rasa NLU data comes over as an intent file: examples, entities as slots, synonyms, lookups, out of scope."""

from __future__ import annotations

import json

import pytest

from assistant.cli import main
from assistant.intents import load_domain
from assistant.intents.errors import IntentFileError
from assistant.intents.match import Grammar
from assistant.intents.rasa import convert

NLU = """\
version: "3.1"
nlu:
- intent: lights_on
  examples: |
    - turn on the [kitchen](room) lights
    - switch on the lights in the [cooking room](room)
    - [lounge](room:living room) lights on please
    - lights on (all of them)
- intent: book_flight
  examples: |
    - fly from [paris]{"entity": "city", "role": "departure"} to [rome]{"entity": "city", "role": "destination"}
    - a flight to [Berlin]{"entity": "city", "role": "destination", "value": "berlin"} at [7 am](time)
- intent: greet
  examples:
  - text: |
      hello there
    metadata:
      sentiment: neutral
  - text: good morning
- intent: out_of_scope
  examples: |
    - what is the meaning of [life](thing)
- synonym: kitchen
  examples: |
    - cooking room
    - cookhouse
- lookup: room
  examples: |
    - bedroom
    - hallway
- lookup: colour
  examples: |
    - red
- regex: zipcode
  examples: |
    - [0-9]{5}
"""


@pytest.fixture
def rasa(tmp_path):
    data = tmp_path / "rasa" / "data"
    data.mkdir(parents=True)
    (data / "nlu.yml").write_text(NLU)
    (data / "stories.yml").write_text("version: '3.1'\nstories: []\n")
    return tmp_path / "rasa"


def test_intents_entities_synonyms_and_lookups_come_over(rasa, tmp_path):
    converted = convert([rasa])
    out = tmp_path / "intents" / "rasa.yaml"
    out.parent.mkdir()
    out.write_text(converted.to_yaml([rasa]))
    domain = load_domain(out)

    assert sorted(domain.intents) == ["book_flight", "greet", "lights_on"]
    assert domain.intents["lights_on"].examples[2] == "[lounge](room) lights on please"
    assert domain.intents["lights_on"].examples[3] == "lights on all of them"  # stray brackets dropped, words kept
    assert domain.intents["greet"].examples == ["hello there", "good morning"]
    rooms = {v.value: v.synonyms for v in domain.slot_types["room"].values}
    assert rooms == {"kitchen": ["cooking room", "cookhouse"], "living room": ["lounge"], "bedroom": [], "hallway": []}
    flight = domain.intents["book_flight"]
    assert {name: slot.type for name, slot in flight.slots.items()} == {"departure": "city", "destination": "city", "time": "time"}
    assert [v.value for v in domain.slot_types["city"].values] == ["paris", "rome", "berlin"]
    assert "time" not in domain.slot_types  # a built-in type: its values are parsed, not listed
    assert domain.out_of_scope == ["what is the meaning of life"]
    assert any("regex zipcode" in note for note in converted.left_out)
    assert any("lookup colour" in note for note in converted.left_out)

    grammar = Grammar(domain)
    match, = grammar.match("turn on the cookhouse lights")
    assert match.intent == "lights_on" and [(b.slot, b.value) for b in match.bindings] == [("room", "kitchen")]
    match, = grammar.match("fly from rome to paris")
    assert sorted((b.slot, b.value) for b in match.bindings) == [("departure", "rome"), ("destination", "paris")]


def test_the_command_writes_a_checked_intent_file(rasa, tmp_path, capsys):
    out = tmp_path / "intents" / "rasa.yaml"
    assert main(["import-rasa", str(rasa / "data"), "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["intents"] == 3 and summary["examples"] == 8 and summary["slot_types"] == ["city", "room"]
    assert out.read_text().startswith("# Converted from Rasa NLU data")
    assert main(["import-rasa", str(rasa / "data"), "--out", str(out)]) == 2  # never overwritten unasked
    assert "--force" in capsys.readouterr().err
    assert [p.name for p in out.parent.iterdir()] == ["rasa.yaml"]


def test_what_is_not_rasa_nlu_data_is_named(tmp_path):
    (tmp_path / "domain.yml").write_text("intents:\n  - greet\n")
    with pytest.raises(IntentFileError, match="no Rasa NLU data"):
        convert([tmp_path])
    (tmp_path / "broken.yml").write_text("nlu:\n- intent: greet\n  examples: |\n    - hi\n  bad: [\n")
    with pytest.raises(IntentFileError, match=r"broken.yml:\d+: not valid YAML"):
        convert([tmp_path])


def test_an_intent_split_over_files_keeps_every_example(tmp_path):
    (tmp_path / "a.yml").write_text("nlu:\n- intent: greet\n  examples: |\n    - hi\n    - hello\n")
    (tmp_path / "b.yml").write_text("nlu:\n- intent: greet\n  examples: |\n    - hello\n    - good morning\n")
    assert convert([tmp_path]).data["intents"] == {"greet": {"examples": ["hi", "hello", "good morning"]}}
