"""From tagged words to slot values at runtime, with only the domain at hand."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from assistant.intents import Domain, load_domain, resolve


@pytest.fixture(scope="module")
def domain(tmp_path_factory) -> Domain:
    path = tmp_path_factory.mktemp("domain") / "home.yaml"
    path.write_text(textwrap.dedent("""
        slots:
          room:
            values:
              living room: [lounge, front room]
              kitchen: []
              kids room: [children's room]
          item:
            values: [tomatoes, bread, cherries]
        intents:
          LightsOn:
            slots: {brightness: percentage}
            sentences: ["turn on the {room} lights [to {brightness}]"]
          SetTimer:
            sentences: ["timer for {duration}"]
          AddItem:
            slots: {what: item}
            sentences: ["add {what} to the list"]
          SetAlarm:
            sentences: ["wake me at {time}"]
        """), encoding="utf-8")
    # the runtime only has domain.json
    return Domain.model_validate_json(load_domain(path).model_dump_json())


@pytest.mark.parametrize(
    "intent, slot, text, expected",
    [
        ("LightsOn", "room", "lounge", ("room", "living room")),
        ("LightsOn", "room", "The Front Room", ("room", "living room")),
        ("LightsOn", "room", "Children’s room", ("room", "kids room")),
        ("LightsOn", "room", "garage", ("room", "garage")),
        ("LightsOn", "brightness", "forty percent", ("percentage", 40)),
        ("SetTimer", "duration", "an hour and a half", ("duration", 5400)),
        ("SetAlarm", "time", "7 am", ("time", "07:00")),
        ("SetAlarm", "time", "whenever", ("time", "whenever")),
        ("AddItem", "what", "tomato", ("item", "tomatoes")),
        ("AddItem", "what", "the bread", ("item", "bread")),
        ("AddItem", "what", "cherry", ("item", "cherries")),
        # a slot tagged outside its intent takes the type another intent gives it
        ("SetTimer", "room", "kitchen", ("room", "kitchen")),
        ("Unknown", "whatever", "some words", ("text", "some words")),
    ],
)
def test_resolve(domain, intent, slot, text, expected):
    assert resolve(domain, intent, slot, text) == expected


def test_resolving_needs_no_yaml_parser():
    code = "import sys, assistant.intents.resolve, assistant.intents; assert 'yaml' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
