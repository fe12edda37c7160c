"""The intent-file format: what loads, what it loads into, and the one-line errors for what does not."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from assistant.intents import Domain, IntentFileError, load_domain


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(IntentFileError) as caught:
        load_domain(path)
    message = str(caught.value)
    assert "\n" not in message
    return message


LIGHTS = """
slots:
  room:
    values:
      kitchen: []
      living room: [lounge, front room]
      bedroom: master bedroom
intents:
  LightsOn:
    slots: {brightness: percentage}
    sentences:
      - "(turn|switch) on [the] {room} (light|lights)"
      - "set [the] {room} lights to {brightness}"
    examples:
      - "could you turn on the [kitchen](room) light"
out_of_scope:
  - what is the meaning of life
"""


def test_a_file_loads_into_a_domain(tmp_path):
    domain = load_domain(write(tmp_path, "lights.yaml", LIGHTS))

    room = domain.slot_types["room"]
    assert [(v.value, v.synonyms) for v in room.values] == [
        ("kitchen", []),
        ("living room", ["lounge", "front room"]),
        ("bedroom", ["master bedroom"]),
    ]
    intent = domain.intents["LightsOn"]
    # {room} needs no declaration: a slot named like a slot type has that type
    assert {name: slot.type for name, slot in intent.slots.items()} == {"brightness": "percentage", "room": "room"}
    assert intent.examples == ["could you turn on the [kitchen](room) light"]
    assert intent.source == f"{tmp_path / 'lights.yaml'}:8"
    assert domain.out_of_scope == ["what is the meaning of life"]
    assert domain.slot_names() == ["brightness", "room"]


def test_values_may_be_a_list_of_bare_values_and_single_entry_mappings(tmp_path):
    domain = load_domain(write(tmp_path, "rooms.yaml", """
        slots:
          room:
            values:
              - kitchen
              - living room: [lounge]
              - bedroom:
        intents:
          Go:
            sentences: ["go to the {room}"]
        """))
    assert [(v.value, v.synonyms) for v in domain.slot_types["room"].values] == [
        ("kitchen", []), ("living room", ["lounge"]), ("bedroom", []),
    ]


def test_every_scalar_is_text(tmp_path):
    # YAML 1.1 would read these as booleans and the number 7
    domain = load_domain(write(tmp_path, "switch.yaml", """
        slots:
          state:
            values: [on, off, yes, no, 007]
        intents:
          Switch:
            sentences: ["turn it {state}"]
        """))
    assert [v.value for v in domain.slot_types["state"].values] == ["on", "off", "yes", "no", "007"]


def test_slot_declared_in_full_with_a_range(tmp_path):
    domain = load_domain(write(tmp_path, "climate.yaml", """
        intents:
          SetTemperature:
            slots:
              temperature: {type: integer, min: 10, max: 30}
            sentences: ["set the heating to {temperature} degrees"]
        """))
    slot = domain.intents["SetTemperature"].slots["temperature"]
    assert (slot.type, slot.min, slot.max) == ("integer", 10, 30)


def test_rules_are_shared_phrasings_applied_at_load(tmp_path):
    write(tmp_path, "common.yaml", """
        rules:
          please: "please|could you"
        """)
    write(tmp_path, "lights.yaml", """
        intents:
          LightsOn:
            sentences: ["[<please>] turn on the light"]
        """)
    domain = load_domain(tmp_path)
    assert domain.intents["LightsOn"].sentences == ["[(please|could you)] turn on the light"]


def test_a_folder_merges_its_files_and_slot_types_cross_files(tmp_path):
    write(tmp_path, "b_intents.yaml", """
        intents:
          LightsOff:
            sentences: ["turn off the {room} light"]
        """)
    write(tmp_path, "a_slots.yml", """
        slots:
          room:
            values: [kitchen]
        """)
    write(tmp_path, "notes.txt", "not an intent file")
    domain = load_domain(tmp_path)
    assert list(domain.intents) == ["LightsOff"]
    assert domain.sources == [str(tmp_path / "a_slots.yml"), str(tmp_path / "b_intents.yaml")]


def test_the_domain_round_trips_through_json(tmp_path):
    domain = load_domain(write(tmp_path, "lights.yaml", LIGHTS))
    assert Domain.model_validate_json(domain.model_dump_json()) == domain


# --- errors: one line, path:line: message ---------------------------------------------


def test_yaml_syntax_error_points_at_its_line(tmp_path):
    path = write(tmp_path, "bad.yaml", """
        intents:
          LightsOn:
            sentences:
              - "turn on the light"
             - "switch on the light"
        """)
    assert error_of(path) == f"{path}:5: invalid YAML: expected <block end>, but found '<block sequence start>'"


def test_unknown_slot_type(tmp_path):
    path = write(tmp_path, "lights.yaml", """
        intents:
          LightsOn:
            slots:
              shade: colour
            sentences: ["make the light {shade}"]
        """)
    assert error_of(path) == f"{path}:4: intent LightsOn uses unknown slot type 'colour'"


def test_template_slot_that_is_no_slot_type(tmp_path):
    path = write(tmp_path, "lights.yaml", """
        intents:
          LightsOn:
            sentences:
              - "turn on the light"
              - "make the light {colour}"
        """)
    assert error_of(path) == (
        f"{path}:5: intent LightsOn uses unknown slot type 'colour' in template \"make the light {{colour}}\" "
        "(declare it under slots: or add a list type)"
    )


@pytest.mark.parametrize(
    "template, problem",
    [
        ("(turn|switch on the light", "unbalanced '(' at column 1"),
        ("turn on [the light", "unbalanced '[' at column 9"),
        ("turn on the) light", "unbalanced ')' at column 12"),
        ("turn on the {room light", "unbalanced '{' at column 13"),
        ("turn on the room} light", "unbalanced '}' at column 17"),
        ("turn on (the] light", "'(' at column 9 is closed by ']' at column 13"),
    ],
)
def test_unbalanced_template_names_the_template(tmp_path, template, problem):
    path = write(tmp_path, "lights.yaml", f"""
        intents:
          LightsOn:
            sentences:
              - "{template}"
        """)
    assert error_of(path) == f'{path}:4: intent LightsOn: {problem} in template "{template}"'


def test_intent_with_no_sentences_and_no_examples(tmp_path):
    path = write(tmp_path, "lights.yaml", """
        intents:
          LightsOn:
            sentences: ["turn on the light"]
          LightsOff:
            slots: {}
        """)
    assert error_of(path) == f"{path}:4: intent LightsOff has no sentences and no examples"


def test_same_intent_in_two_files_names_both(tmp_path):
    first = write(tmp_path, "a.yaml", """
        intents:
          LightsOn:
            sentences: ["turn on the light"]
        """)
    second = write(tmp_path, "b.yaml", """
        intents:
          LightsOff:
            sentences: ["turn off the light"]
          LightsOn:
            sentences: ["lights on"]
        """)
    assert error_of(tmp_path) == f"{second}:4: intent LightsOn is already defined at {first}:2"


def test_same_key_twice_in_one_file(tmp_path):
    path = write(tmp_path, "lights.yaml", """
        intents:
          LightsOn:
            sentences: ["turn on the light"]
          LightsOn:
            sentences: ["lights on"]
        """)
    assert error_of(path) == f"{path}:4: duplicate key 'LightsOn' (first at line 2)"


@pytest.mark.parametrize(
    "example, problem",
    [
        ("turn on the [kitchen(room) light", "stray '[' at column 13; mark a slot as [words](slot)"),
        ("turn on the [kitchen] light", "stray '[' at column 13; mark a slot as [words](slot)"),
        ("turn on the kitchen](room) light", "stray ']' at column 20; mark a slot as [words](slot)"),
    ],
)
def test_malformed_inline_example(tmp_path, example, problem):
    path = write(tmp_path, "lights.yaml", f"""
        slots:
          room:
            values: [kitchen]
        intents:
          LightsOn:
            examples:
              - "{example}"
        """)
    assert error_of(path) == f'{path}:7: intent LightsOn: malformed example "{example}": {problem}'


def test_example_marking_an_unknown_slot(tmp_path):
    path = write(tmp_path, "lights.yaml", """
        intents:
          LightsOn:
            examples:
              - "turn on the [kitchen](place) light"
        """)
    assert error_of(path).startswith(f"{path}:4: intent LightsOn uses unknown slot type 'place' in example")


def test_unknown_top_level_key(tmp_path):
    path = write(tmp_path, "lights.yaml", """
        intents:
          LightsOn:
            sentences: ["turn on the light"]
        colours:
          - red
        """)
    assert error_of(path) == f"{path}:4: unknown top-level key 'colours' (expected rules, slots, intents, examples, out_of_scope, homeassistant)"


def test_unknown_key_in_an_intent(tmp_path):
    path = write(tmp_path, "lights.yaml", """
        intents:
          LightsOn:
            sentence: ["turn on the light"]
        """)
    assert error_of(path) == f"{path}:3: intent LightsOn: unknown key 'sentence' (expected slots, sentences, examples)"


def test_wrong_shape_of_a_value(tmp_path):
    path = write(tmp_path, "lights.yaml", """
        intents:
          LightsOn:
            sentences:
              - "turn on the light"
              - {turn: on}
        """)
    assert error_of(path) == f"{path}:5: intents.LightsOn.sentences.1: Input should be a valid string"


def test_a_synonym_may_name_only_one_value(tmp_path):
    path = write(tmp_path, "rooms.yaml", """
        slots:
          room:
            values:
              living room: [lounge]
              den: [Lounge]
        intents:
          Go:
            sentences: ["go to the {room}"]
        """)
    assert error_of(path) == f"{path}:2: slot type 'room': 'Lounge' names both 'living room' and 'den'"


def test_a_list_type_may_not_reuse_a_builtin_name(tmp_path):
    path = write(tmp_path, "numbers.yaml", """
        slots:
          integer:
            values: [one, two]
        """)
    assert error_of(path) == f"{path}:2: slot type 'integer' is built in; give the list another name"


def test_free_text_fills_a_template(tmp_path):
    """A `text` slot takes any words; training fills it with everyday words, so the model learns where it goes."""
    from assistant.intents import expand

    path = write(tmp_path, "notes.yaml", """
        intents:
          TakeNote:
            slots: {note: text}
            sentences: ["note that {note}"]
        """)
    examples = expand(load_domain(path), max_per_intent=20)
    assert examples and all(e.tokens[:2] == ["note", "that"] and set(e.tags[2:]) <= {"B-note", "I-note"} for e in examples)
    assert len({" ".join(e.tokens) for e in examples}) > 10


def test_unknown_rule(tmp_path):
    path = write(tmp_path, "lights.yaml", """
        intents:
          LightsOn:
            sentences: ["<please> turn on the light"]
        """)
    assert error_of(path) == f'{path}:3: intent LightsOn: unknown rule <please> in template "<please> turn on the light"'


def test_a_folder_without_intent_files(tmp_path):
    assert error_of(tmp_path) == f"{tmp_path}: no intent files (*.yaml) in this folder"


def test_a_domain_without_intents(tmp_path):
    write(tmp_path, "slots.yaml", "slots:\n  room:\n    values: [kitchen]\n")
    assert error_of(tmp_path) == f"{tmp_path}: no intents defined"


def test_a_file_of_examples_adds_to_intents_defined_in_other_files(tmp_path):
    """What the console's corrections download as: `examples:` by intent name, beside the files that define them."""
    write(tmp_path, "lights.yaml", """
        rules:
          polite: "[please]"
        slots:
          room: {values: {kitchen: [], bedroom: []}}
        intents:
          LightsOn:
            slots: {room: room}
            sentences: ["<polite> turn on the {room} lights"]
        """)
    write(tmp_path, "fixes.yaml", """
        examples:
          LightsOn:
            - "brighten up the [bedroom](room)"
        """)
    intent = load_domain(tmp_path).intents["LightsOn"]
    assert intent.examples == ["brighten up the [bedroom](room)"]
    assert intent.written == ["<polite> turn on the {room} lights"] and intent.sentences == ["([please]) turn on the {room} lights"]
    write(tmp_path, "more.yaml", """
        examples:
          LightsOff:
            - "darken the [kitchen](room)"
        """)
    assert error_of(tmp_path) == f"{tmp_path / 'more.yaml'}:2: examples for intent LightsOff, which no file defines"
