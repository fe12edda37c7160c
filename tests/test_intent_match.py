"""The grammar: every sentence the templates say is understood exactly, and near misses are repaired on request."""

from __future__ import annotations

import textwrap

import pytest

from assistant.intents import load_domain
from assistant.intents.match import Grammar
from assistant.intents.sounds import Phrases, phrase_similarity, similarities
from assistant.intents.template import TemplateError, parse_template

HOME = """
slots:
  room:
    values:
      kitchen: []
      living room: [lounge]
      bedroom: []
      house: [whole house]
  day:
    values:
      today: []
      tomorrow: []
      this morning: []
  drink:
    values:
      iced mocha: []
      latte: []
      light roast: []
intents:
  LightsOn:
    sentences:
      - "[please] (turn|switch) on [the] {room} light[s]"
      - "(turn|switch) the {room} light[s] on"
  LightsOff:
    sentences:
      - "(turn|switch) off [the] {room} light[s]"
  SetTimer:
    sentences:
      - "set a timer for {duration}"
      - "(start|set) a {duration} timer"
  SetAlarm:
    sentences:
      - "wake me (up at|at) {time}"
  GetWeather:
    sentences:
      - "what(s| is|'s) the weather [{day}]"
      - "{day}(s|'s) weather"
  Heat:
    sentences:
      - "warm (up the house|the {room}) [please]"
  Order:
    sentences:
      - "(i'd like|may i have) a {drink} (with milk; no sugar)"
    examples:
      - "brew a [latte](drink) for me"
  Brighter:
    sentences:
      - "make it brighter"
  Louder:
    sentences:
      - "make it louder"
  Up:
    sentences:
      - "(make it|turn it) up"
  Volume:
    sentences:
      - "turn it up"
"""


@pytest.fixture(scope="module")
def grammar(tmp_path_factory) -> Grammar:
    path = tmp_path_factory.mktemp("grammar") / "home.yaml"
    path.write_text(textwrap.dedent(HOME))
    return Grammar(load_domain(path))


def meaning(grammar: Grammar, text: str, repair: bool = False):
    found = grammar.repair(text) if repair else grammar.match(text)
    return [(m.intent, {b.slot: b.value for b in m.bindings}) for m in found]


@pytest.mark.parametrize("text, intent, slots", [
    ("turn on the kitchen lights", "LightsOn", {"room": "kitchen"}),
    ("Please switch on the LOUNGE light.", "LightsOn", {"room": "living room"}),  # case, synonym, punctuation
    ("switch the living room light on", "LightsOn", {"room": "living room"}),
    ("turn off bedroom light", "LightsOff", {"room": "bedroom"}),
    ("set a timer for twenty five minutes", "SetTimer", {"duration": 1500}),
    ("set a timer for 1 hour and 30 minutes", "SetTimer", {"duration": 5400}),
    ("start a 10 min timer", "SetTimer", {"duration": 600}),
    ("wake me up at half past seven", "SetAlarm", {"time": "07:30"}),
    ("wake me at 7:30 pm", "SetAlarm", {"time": "19:30"}),
    ("whats the weather tomorrow", "GetWeather", {"day": "tomorrow"}),  # glued: what(s| is|'s)
    ("what is the weather", "GetWeather", {}),
    ("this morning's weather", "GetWeather", {"day": "this morning"}),  # a slot with a glued suffix
    ("this mornings weather", "GetWeather", {"day": "this morning"}),
    ("may i have a latte no sugar with milk", "Order", {"drink": "latte"}),  # a permutation, either order
    ("i'd like a iced mocha with milk no sugar", "Order", {"drink": "iced mocha"}),
    ("brew a light roast for me", "Order", {"drink": "light roast"}),  # an example is a template too
])
def test_template_sentences_are_understood_exactly(grammar, text, intent, slots):
    assert meaning(grammar, text) == [(intent, slots)]


@pytest.mark.parametrize("text", ["turn on the garage lights", "set a timer for ages", "wake me at seven five", "turn on the kitchen",
                                  "lights on in the kitchen please", "", "?!"])
def test_other_sentences_are_not_matched(grammar, text):
    assert grammar.match(text) == []


def test_a_reading_that_says_less_gives_way_to_the_one_that_says_more(grammar):
    """"warm the house" reads as {room} = house; "warm up the house" has no room: each keeps its own reading."""
    assert meaning(grammar, "warm up the house") == [("Heat", {})]
    assert meaning(grammar, "warm the house please") == [("Heat", {"room": "house"})]


def test_a_sentence_of_several_intents_is_ambiguous(grammar):
    assert sorted(intent for intent, _ in meaning(grammar, "turn it up")) == ["Up", "Volume"]


def test_permutations_parse_and_cannot_mix_with_alternatives():
    with pytest.raises(TemplateError, match="not both"):
        parse_template("(a; b | c)")
    with pytest.raises(TemplateError, match="outside parentheses"):
        parse_template("[a; b]")


@pytest.mark.parametrize("text, intent, slots, edit", [
    ("turn on the kitchen lights uh", "LightsOn", {"room": "kitchen"}, "-uh"),
    ("switch of the bedroom light", "LightsOff", {"room": "bedroom"}, "of->off"),
    ("turn on the kitchen lites", "LightsOn", {"room": "kitchen"}, "lites->lights"),
    ("whats the wether tomorow", "GetWeather", {"day": "tomorrow"}, "wether->weather"),
    ("may i have a light rose with milk no sugar", "Order", {"drink": "light roast"}, "light rose~light roast"),
    ("may i have a ice mocha with milk no sugar", "Order", {"drink": "iced mocha"}, "ice mocha~iced mocha"),
    ("set a timer for five minuets", "SetTimer", {"duration": 300}, "five minuets~300"),
    ("turn on the bed room lights", "LightsOn", {"room": "bedroom"}, "bed room~bedroom"),
    ("may i have a latte with milk no sugar please", "Order", {"drink": "latte"}, "-please"),
    ("set timer for ten minutes", "SetTimer", {"duration": 600}, "+a"),
])
def test_near_misses_are_repaired_with_their_cost(grammar, text, intent, slots, edit):
    assert grammar.match(text) == []
    best = grammar.repair(text)[0]
    assert (best.intent, {b.slot: b.value for b in best.bindings}) == (intent, slots)
    assert edit in best.edits and 0 < best.cost <= 1.0 and 0 < best.confidence < 1
    assert grammar.match(" ".join(best.meant))[0].key == best.key  # what it was taken for is a sentence of the templates


def test_a_repair_says_the_sentence_it_was_taken_for(grammar):
    def meant(text: str) -> str:
        return " ".join(grammar.repair(text)[0].meant)

    assert meant("switch of the bedroom light") == "switch off the bedroom light"
    assert meant("may i have a light rose with milk no sugar") == "may i have a light roast with milk no sugar"
    assert meant("set timer for ten minutes") == "set a timer for ten minutes"
    assert meant("turn on the kitchen lights uh") == "turn on the kitchen lights"


def test_phrases_are_alike_in_spelling_or_sound():
    """A list's values are compared with a phrase all at once (`similarities`, as near misses of list values are
    looked for); one pair is the same comparison (`phrase_similarity`)."""
    values = ["light roast", "bed room", "weather", "of", "tv"]
    assert similarities("light rose", Phrases(values))[0] == pytest.approx(5 / 6)  # sound: "LT RS" against "LT RST"
    assert similarities("bedroom", Phrases(values))[1] == 1.0  # the same letters but for a space
    assert similarities("wether", Phrases(values))[2] == 1.0  # the same sound
    assert similarities("on", Phrases(values))[3] == 0.5  # short codes ("ON", "OF") do not count: spelling only
    assert similarities("x", Phrases(values))[4] == 0.0
    assert similarities("light rose", Phrases(values)).tolist() == [phrase_similarity("light rose", v) for v in values]
    assert similarities("anything", Phrases([])).tolist() == []


@pytest.mark.parametrize("text", ["tumble flick you to lights", "what is the capital of france", "turn on the garage door please now"])
def test_far_misses_are_not_repaired(grammar, text):
    readings = grammar.repair(text)
    assert not readings or readings[0].cost > 1.0


def test_action_words_are_never_put_in(grammar):
    """A missing "on" or "off" is not guessed: only small words ("a", "of", "the") may be put in."""
    assert all("+on" not in m.edits and "+off" not in m.edits for m in grammar.repair("turn the kitchen light"))


def test_the_coffee_example_domain_understands_its_orders():
    """examples/coffee: one intent, seven lists, in several orders; synonyms resolve to their values."""
    from pathlib import Path

    grammar = Grammar(load_domain(Path(__file__).resolve().parents[1] / "examples" / "coffee"))
    for text, values in [
        ("can i get a large iced latte with oat milk and a little sugar please",
         {"size": "large", "temperature": "iced", "drink": "latte", "milk": "oat milk", "sugar": "a bit of sugar"}),
        ("an expresso please", {"drink": "espresso"}),
        ("i'll take a big double shot flat white with skimmed milk", {"size": "large", "shots": "double shot", "drink": "flat white", "milk": "skim milk"}),
        ("a mocha two sugars regular no milk", {"drink": "mocha", "sugar": "two sugars", "size": "medium", "milk": "no milk"}),
    ]:
        [match] = grammar.match(text)
        assert match.intent == "OrderDrink" and {b.slot: b.value for b in match.bindings} == values, text
