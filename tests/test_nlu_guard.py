"""Sentences that name an action but do not ask for it are never acted on: the model's answers and repairs are
checked against the sentence's action words and its mood (`nlu.guard`)."""

from __future__ import annotations

import pytest

from assistant.intents import load_domain
from assistant.nlu import guard

GARDEN = """
slots:
  zone: {values: {front lawn: [], back lawn: [], vegetable bed: [veggies]}}
intents:
  StartWatering:
    slots: {zone: zone}
    sentences: ["(turn|switch) on the sprinklers [on the {zone}]", "water the {zone}"]
  StopWatering:
    slots: {zone: zone}
    sentences: ["stop the sprinklers [on the {zone}]", "(turn|switch) off the sprinklers [on the {zone}]", "stop watering [the {zone}]"]
  GetMoisture:
    slots: {zone: zone}
    sentences: ["how (wet|dry) is the {zone}"]
"""


@pytest.fixture(scope="module")
def garden(tmp_path_factory):
    folder = tmp_path_factory.mktemp("garden")
    (folder / "garden.yaml").write_text(GARDEN)
    return guard.vocabularies(load_domain(folder))


@pytest.mark.parametrize("text, intent", [
    ("start the sprinklers on the front lawn", "StopWatering"),   # the opposite of the intent's only verb
    ("start watering the back lawn", "StopWatering"),
    ("switch the sprinklers off", "StartWatering"),
])
def test_an_action_word_against_the_intent_is_a_conflict(garden, text, intent):
    assert guard.action_conflict(garden, intent, text) is not None


@pytest.mark.parametrize("text, intent", [
    ("stop the sprinklers on the front lawn", "StopWatering"),    # "on" there is a place, "stop" the action
    ("turn the sprinklers on for the veggies", "StartWatering"),
    ("how wet is the back lawn", "GetMoisture"),                  # an intent that names no action
    ("could you water the back lawn", "StartWatering"),
])
def test_the_intents_own_action_words_agree(garden, text, intent):
    assert guard.action_conflict(garden, intent, text) is None


@pytest.mark.parametrize("text", [
    "don't turn off the kitchen lights", "please do not start the timer", "no, leave the lights alone",
    "i turned off the kitchen lights", "my wife switched the fan on an hour ago", "the bedroom lamp turned itself off",
    "i already set a timer for ten minutes", "yesterday the heating was on all day", "last night the lights went off",
    "if i turn the lights off will it save power", "what would happen if i unlocked the door", "should i close the blinds",
    "what does dim mean", "how do you spell thermostat", "why did you turn on the kitchen lights",
    "the lights keep turning off by themselves", "the fan is loud but i like it", "i love the colour blue in the bedroom",
])
def test_sentences_that_ask_for_nothing(text):
    assert guard.not_a_request(text) is not None


@pytest.mark.parametrize("text", [
    "turn off the kitchen lights", "could you turn on the lamp please", "i want the lights turned off", "lights off in the kitchen",
    "kitchen lights on please", "i can't see a thing in the hallway, lights please", "set a timer for ten minutes",
    "what's the weather in paris", "is the kitchen light on", "i need the heating on", "remind me to call mom before dinner",
    "don't forget to turn off the oven", "it's too dark in here", "make it warmer", "play some jazz", "never mind, pause the music",
])
def test_requests_pass(text):
    assert guard.not_a_request(text) is None


def test_a_name_is_not_grammar():
    assert guard.not_a_request("turn on do not disturb") is None
    assert guard.not_a_request("turn on never off mode", protected=[(8, 22)]) is None


def test_typed_and_repaired_text_is_not_acted_on_against_its_words(default_model):
    from assistant.nlu.runtime import Parser

    parser = Parser(default_model)
    for repair in (False, True):
        result = parser.parse("don't turn off the kitchen lights", repair=repair)
        assert result.intent is None and result.rejected_by == "not_a_request" and "negated" in result.warnings[-1]
        assert result.intent_ranking  # what it was nearly taken for is still there
    assert parser.parse("i switched the bedroom lights on", repair=True).intent is None
    assert parser.parse("turn of the kichen lights", repair=True).intent.name == "LightsOff"  # a typo is still mended
    assert parser.parse("switch the living room lights off would you").intent.name == "LightsOff"


def test_a_repair_never_passes_over_a_negation_or_takes_an_action_word_into_a_value(ha_model):
    from assistant.nlu.runtime import Parser

    parser = Parser(ha_model)
    result = parser.parse("i want the living room warmer", repair=True)
    assert result.intent is None or result.intent.name not in ("HassTurnOn", "HassTurnOff"), result
