"""Shared fixtures: real models, trained once per test session on a CPU.

`tiny_model` is a few-second model on a three-intent domain written inline;
`default_model` is the bundled default domain trained exactly as
`assistant parse` trains it on first use; `ha_model` is Home Assistant's
intents with the home of its own test suite, and one intent of ours, in one
short epoch.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]

TINY_DOMAIN = """
slots:
  room:
    values:
      kitchen: []
      living room: [lounge]
      bedroom: []
      bathroom: []
      office: [study]
intents:
  LightsOn:
    slots: {room: room}
    sentences:
      - "(turn|switch) on [the] {room} (light|lights)"
      - "(turn|switch) [the] {room} (light|lights) on"
      - "lights on in [the] {room}"
  LightsOff:
    slots: {room: room}
    sentences:
      - "(turn|switch) off [the] {room} (light|lights)"
      - "(turn|switch) [the] {room} (light|lights) off"
      - "lights off in [the] {room}"
  SetTimer:
    slots: {duration: duration}
    sentences:
      - "set a timer for {duration}"
      - "(start|set) a {duration} timer"
      - "timer for {duration} please"
"""


@pytest.fixture(scope="session")
def tiny_domain(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-intents")
    (folder / "home.yaml").write_text(TINY_DOMAIN)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, tiny_domain) -> Path:
    from assistant.nlu.train import TrainConfig, train

    out = tmp_path_factory.mktemp("models") / "tiny"
    train(tiny_domain, out, config=TrainConfig(epochs=6, min_steps=0, max_per_intent=100, patience=6))
    return out


@pytest.fixture(scope="session")
def tiny_parser(tiny_model):
    from assistant.nlu.runtime import Parser

    return Parser(tiny_model)


@pytest.fixture(scope="session")
def default_model(tmp_path_factory) -> Path:
    """The bundled domain trained with the settings of config.toml, as on first use, but for all its epochs:
    the time budget would make the model depend on how busy the machine is.

    $ASSISTANT_TEST_DEFAULT_MODEL may name such a model already trained (e.g.
    the current version of models/), to iterate on tests without the minutes of training.
    """
    given = os.environ.get("ASSISTANT_TEST_DEFAULT_MODEL")
    if given:
        return Path(given).resolve()
    from assistant.config import load_settings
    from assistant.nlu.train import train

    out = tmp_path_factory.mktemp("models") / "default"
    train(ROOT / "intents", out, config=load_settings(str(ROOT / "config.toml")).train.updated(max_minutes=0))
    return out


HA_SUITE = ROOT.parent / "shared" / "datasets" / "ha_intents" / "tests" / "en"


@pytest.fixture(scope="session")
def ha_suite():
    """Home Assistant's English intent tests: its cases and the home they assume."""
    if not HA_SUITE.is_dir():
        pytest.skip("Home Assistant's test suite is not in ../shared/datasets")
    from assistant.intents.ha_tests import load_suite

    return load_suite(HA_SUITE)


@pytest.fixture(scope="session")
def ha_intents(tmp_path_factory, ha_suite) -> Path:
    """Intent files as a user writes them: Home Assistant's intents with the suite's home, and one of our own."""
    pytest.importorskip("home_assistant_intents")
    folder = tmp_path_factory.mktemp("ha")
    (folder / "home.json").write_text(ha_suite[1].model_dump_json())
    (folder / "intents").mkdir()
    (folder / "intents" / "ha.yaml").write_text("homeassistant:\n  language: en\n  home: ../home.json\n")
    (folder / "intents" / "alarms.yaml").write_text(
        "intents:\n  SetAlarm:\n    slots: {time: time}\n    sentences:\n"
        "      - \"(set|wake me up with) an alarm (for|at) {time}\"\n      - \"wake me up at {time}\"\n")
    return folder / "intents"


@pytest.fixture(scope="session")
def ha_model(tmp_path_factory, ha_intents) -> Path:
    """A small model of them (one epoch): the grammar answers what the templates say, the model the rest."""
    from assistant.config import TrainConfig
    from assistant.nlu.train import train

    out = tmp_path_factory.mktemp("ha-model") / "model"
    train(ha_intents, out, config=TrainConfig(epochs=1, min_steps=0, max_per_intent=12, patience=1, slips=0.0, max_minutes=0))
    return out
