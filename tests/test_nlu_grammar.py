"""What the parser answers: template sentences exactly, typos through the model, slots that fit the intent,
the reason for every rejection."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from assistant.intents import expand
from assistant.intents.match import Grammar

ROOT = Path(__file__).resolve().parents[1]
UNSEEN_SEED = 4242
"""A sampling seed training never uses (it samples with the training seed, 0 by default)."""


def sampled(domain, n: int, seed: int = UNSEEN_SEED):
    """`n` template sentences of the domain, intents in turn, with the values they mean."""
    per_intent = max(1, n // max(1, len(domain.intents)) + 1)
    examples = [e for e in expand(domain, seed=seed, max_per_intent=per_intent) if "template" in e.meta]
    return examples[:n]


def wrong(parser, examples, grammar: Grammar) -> tuple[list, int]:
    """The sentences of one meaning the parser gets wrong, and how many sentences the templates give several meanings."""
    several, out = 0, []
    for example, result in zip(examples, parser.parse_batch([e.text for e in examples])):
        if len({m.key for m in grammar.readings(example.text)}) > 1:
            several += 1  # the domain itself says this sentence more than one way: no answer can be "the" right one
            continue
        got = (result.intent.name if result.intent else None, {e.slot: e.value for e in result.entities}, result.source)
        if got[:2] != (example.intent, example.meta["values"]) or got[2] != "grammar":
            out.append((example.text, example.intent, example.meta["values"], got))
    return out, several


def test_two_thousand_unseen_template_sentences_of_the_bundled_domain_are_understood_exactly(default_model):
    from assistant.nlu.runtime import Parser

    parser = Parser(default_model)
    examples = sampled(parser.domain, 2000)
    assert len(examples) == 2000
    mistakes, several = wrong(parser, examples, parser.grammar)
    assert mistakes == []
    assert several < 0.03 * len(examples), several


COFFEE = """
slots:
  size: {values: {small: [short], medium: [regular], large: [big, grande], extra large: [venti]}}
  drink: {values: {latte: [], cappuccino: [], espresso: [], americano: [], mocha: [], flat white: [], iced coffee: [], cold brew: []}}
  roast: {values: {light roast: [], medium roast: [], dark roast: [french roast]}}
  milk: {values: {whole milk: [], oat milk: [oat], almond milk: [almond], soy milk: [soy], skim milk: [skimmed milk], cream: []}}
  sugar: {values: {no sugar: [], a bit of sugar: [a little sugar], brown sugar: [], two sugars: [], honey: []}}
  shots: {values: {single shot: [], double shot: [extra shot], triple shot: []}}
  temperature: {values: {extra hot: [], warm: [], kids temperature: []}}
intents:
  OrderCoffee:
    sentences:
      - "(i'd like|may i have|can i get|brew) a {size} {drink} ((with|in) {roast}; with {milk}; and {sugar}; [as a] {shots}; {temperature})"
      - "a {drink} please, ({size}; {roast}; {milk}; {sugar}; {shots}; {temperature})"
"""


@pytest.fixture(scope="module")
def coffee_parser(tmp_path_factory):
    from assistant.config import TrainConfig
    from assistant.nlu.runtime import Parser
    from assistant.nlu.train import train

    folder = tmp_path_factory.mktemp("coffee")
    (folder / "coffee.yaml").write_text(textwrap.dedent(COFFEE))
    out = tmp_path_factory.mktemp("models") / "coffee"
    train(folder, out, config=TrainConfig(epochs=2, min_steps=0, max_per_intent=100, max_minutes=3))
    return Parser(out)


def test_a_one_intent_domain_with_seven_lists_in_any_order_is_understood_exactly(coffee_parser):
    examples = sampled(coffee_parser.domain, 2000)
    assert len(examples) == 2000
    mistakes, several = wrong(coffee_parser, examples, coffee_parser.grammar)
    assert mistakes == [] and several == 0


def test_words_tagged_with_the_wrong_list_slot_move_to_the_slot_whose_list_holds_them(coffee_parser):
    """"with brown sugar and cream": whatever slot the model gives "cream", it is a milk, and only a milk."""
    assert coffee_parser._fitting_slot("OrderCoffee", "sugar", "cream", {"sugar"}) == "milk"
    assert coffee_parser._fitting_slot("OrderCoffee", "sugar", "brown sugar", set()) == "sugar"
    result = coffee_parser.parse("may i have a large latte with brown sugar and cream")
    assert result.source == "model"  # not a template sentence: "with {sugar}" and "and {milk}" swap their words
    declared = coffee_parser.domain.intents["OrderCoffee"].slots
    assert all(e.slot in declared for e in result.entities)
    assert all(e.match == "exact" for e in result.entities if e.slot in ("milk", "sugar"))


# Typed commands with one or two slips each, and what was meant: understood as the clean sentence is.
TYPOS = [
    ("turn of the kitchen light", "turn off the kitchen light"),
    ("whats the wether in paris tomorow", "what's the weather in paris tomorrow"),
    ("turn on the bedrom lights", "turn on the bedroom lights"),
    ("swich off the lights in the hallway", "switch off the lights in the hallway"),
    ("set a timmer for ten minutes", "set a timer for ten minutes"),
    ("set a timer for five minuets", "set a timer for five minutes"),
    ("pause the musik", "pause the music"),
    ("paly some jazz", "play some jazz"),
    ("whta time is it", "what time is it"),
    ("turn the volume up plese", "turn the volume up please"),
    ("make it warmer in the livingroom", "make it warmer in the living room"),
    ("dim the kitchen lihgts", "dim the kitchen lights"),
    ("add milk to the shoping list", "add milk to the shopping list"),
    ("wake me up at seven tomorow", "wake me up at seven tomorrow"),
    ("cancel my alram", "cancel my alarm"),
    ("turn on the tv in the lounge", "turn on the tv in the lounge"),
    ("how hot is it in the kitchn", "how hot is it in the kitchen"),
    ("set the thermostat to 21 degres", "set the thermostat to 21 degrees"),
    ("stop the timmer", "stop the timer"),
    ("whats the weather like in londn", "what's the weather like in london"),
    ("turn off the bathrom light", "turn off the bathroom light"),
    ("lights on in the ofice", "lights on in the office"),
    ("next song plz", "next song please"),
    ("is it going to rain tommorow", "is it going to rain tomorrow"),
    ("set volume to fifty precent", "set volume to fifty percent"),
    ("turn up the heat in the bedrooom", "turn up the heat in the bedroom"),
    ("what's the tempreature in the nursery", "what's the temperature in the nursery"),
    ("resume the muisc", "resume the music"),
    ("switch on the kitchen lamp pls", "switch on the kitchen lamp please"),
    ("remove eggs from the shopping lsit", "remove eggs from the shopping list"),
    ("turn off the fan in the bedroon", "turn off the fan in the bedroom"),
    ("brighten the living room lihgts", "brighten the living room lights"),
]


def meanings(results) -> list:
    return [(r.intent and r.intent.name, {e.slot: e.value for e in r.entities}) for r in results]


def test_typed_commands_with_slips_are_understood(default_model):
    """The model (trained with slips) gets the intent of typed typos; asked to repair, the values too."""
    from assistant.nlu.runtime import Parser

    parser = Parser(default_model)
    meant = meanings(parser.parse_batch([clean for _, clean in TYPOS]))
    assert all(intent for intent, _ in meant) and len(TYPOS) >= 30
    typed = meanings(parser.parse_batch([typo for typo, _ in TYPOS]))
    intents = [t for t, got, want in zip(TYPOS, typed, meant) if got[0] != want[0]]
    assert len(intents) <= 0.1 * len(TYPOS), intents
    repaired = meanings(parser.parse_batch([typo for typo, _ in TYPOS], repair=True))
    whole = [(t, got, want) for t, got, want in zip(TYPOS, repaired, meant) if got != want]
    assert len(whole) <= 0.1 * len(TYPOS), whole


def test_a_rejection_says_why_and_a_higher_threshold_accepts_more(tiny_parser):
    rejected = tiny_parser.parse("what is the capital of france")
    assert rejected.intent is None and rejected.rejected_by in ("out_of_scope_class", "threshold")
    accepted = tiny_parser.parse("what is the capital of france", threshold=1e6)
    assert accepted.intent is not None and accepted.rejected_by is None
    strict = tiny_parser.parse("turn on the kitchen lights please now", threshold=-1e6)
    assert strict.intent is None and strict.rejected_by == "threshold"


def test_a_span_is_never_given_a_slot_its_intent_does_not_declare(tiny_parser):
    assert tiny_parser._fitting_slot("SetTimer", "room", "kitchen", set()) is None
    assert tiny_parser._fitting_slot("LightsOn", "room", "kitchen", set()) == "room"


def test_grammar_answers_say_so_and_carry_no_model_guess(tiny_parser):
    result = tiny_parser.parse("switch the lounge lights on")
    assert result.source == "grammar" and result.intent.name == "LightsOn" and result.intent.confidence == 1.0
    assert [(e.slot, e.value, e.text, e.match) for e in result.entities] == [("room", "living room", "lounge", "exact")]
    assert result.text[result.entities[0].start : result.entities[0].end] == "lounge"
