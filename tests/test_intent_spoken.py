"""The domain's sentences as a recogniser hears them: spoken forms and the sample biased recognition is built on."""

from __future__ import annotations

import pytest

from assistant.intents.spoken import sample_phrases, spoken

TINY = """
slots:
  room:
    values:
      kitchen: []
      living room: [lounge]
intents:
  LightsOn:
    slots: {room: room}
    sentences:
      - "(turn|switch) on [the] {room} (light|lights)"
      - "what(s| is|'s) on in the {room}"
  SetTimer:
    slots: {duration: duration}
    sentences:
      - "set a timer for {duration}"
  SetVolume:
    slots: {volume: {type: integer, min: 0, max: 100}}
    sentences:
      - "volume {volume}"
"""


@pytest.mark.parametrize("text,said", [
    ("set it to 25%", "set it to twenty five percent"),
    ("wake me at 7:30 pm", "wake me at seven thirty p.m."),
    ("at 7am", "at seven a.m."),
    ("at 19:05", "at nineteen oh five"),
    ("at 14:00", "at fourteen hundred"),
    ("for 12 : 05 pm", "for twelve oh five p.m."),
    ("the 1430 alarm", "the fourteen thirty alarm"),
    ("back in 1984", "back in nineteen eighty four"),
    ("in 2005", "in two thousand and five"),
    ("at 747 p.m.", "at seven forty seven p.m."),
    ("at 1045 in the evening", "at ten forty five in the evening"),
    ("1,430 steps", "one thousand four hundred and thirty steps"),
    ("2.5 degrees", "two point five degrees"),
    ("the kids' room, please!", "the kids' room please"),
    ("What’s   ON", "what's on"),
    ("wi-fi", "wi fi"),
])
def test_spoken_forms(text, said):
    assert spoken(text) == said


@pytest.fixture()
def domain(tmp_path):
    from assistant.intents import load_domain

    (tmp_path / "tiny.yaml").write_text(TINY)
    return load_domain(tmp_path)


def test_sample_covers_every_intent_in_spoken_words(domain):
    phrases = sample_phrases(domain, lambda w: True, max_phrases=500)
    assert len(phrases) == len(set(phrases)) > 50
    assert any(p.startswith("volume ") for p in phrases) and any(p.startswith("set a timer for ") for p in phrases)
    assert any("lounge" in p for p in phrases) and any("living room" in p for p in phrases)
    assert not any(ch.isdigit() for p in phrases for ch in p)
    assert any(p.startswith("whats on") for p in phrases) and any(p.startswith("what's on") for p in phrases)
    assert sample_phrases(domain, lambda w: True, max_phrases=500) == phrases  # seeded


def test_sample_leaves_out_words_the_recogniser_lacks(domain):
    phrases = sample_phrases(domain, lambda w: w != "lounge", max_phrases=300)
    assert phrases and not any("lounge" in p.split() for p in phrases)
    assert sample_phrases(domain, lambda w: False) == []
    assert len(sample_phrases(domain, lambda w: True, max_phrases=7)) == 7
