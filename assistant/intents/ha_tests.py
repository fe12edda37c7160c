"""Home Assistant's own intent test suite (`tests/<language>/` of OHF-Voice/intents) as a benchmark.

Each test file names an intent (its folder), the home it assumes (`areas`,
`floors`, `entities`, beside the shared `_fixtures.yaml`) and sentences with
the slots Home Assistant expects. A sentence is understood when the parse has
the intent and every expected slot value: a name as the home names it, a number
as a number (`50`, not `"50"`), one of several values when the test allows
several. Slots the parse adds beyond those (a fixed `domain`) are not held
against it, as Home Assistant's handlers ignore what they do not need.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from assistant.intents.homeassistant import Home


class Case(BaseModel):
    sentence: str
    intent: str
    slots: dict[str, Any]
    file: str


def load_suite(folder: str | Path) -> tuple[list[Case], Home]:
    """The cases of a suite folder (`tests/en`) and the home all its files assume together."""
    folder = Path(folder)
    fixtures = folder / "_fixtures.yaml"
    home = Home.model_validate(yaml.safe_load(fixtures.read_text()) or {}) if fixtures.is_file() else Home()
    cases = []
    for path in sorted(folder.glob("*/*.yaml")):
        data = yaml.safe_load(path.read_text()) or {}
        home = home.merged(Home.model_validate({k: data.get(k) or [] for k in ("areas", "floors", "entities")}))
        for test in data.get("tests") or []:
            for sentence in test.get("sentences") or []:
                cases.append(Case(sentence=sentence, intent=path.parent.name, slots=test.get("slots") or {},
                                  file=str(path.relative_to(folder))))
    return cases, home


def _same(expected: Any, got: Any) -> bool:
    if isinstance(expected, bool) or isinstance(got, bool):
        return expected == got
    if isinstance(expected, (int, float)):
        return isinstance(got, (int, float)) and abs(float(got) - float(expected)) < 1e-6
    return isinstance(got, str) and got.strip().lower() == str(expected).strip().lower()


def understood(case: Case, result) -> bool:
    """The intent Home Assistant expects, and every slot it expects with its value, in a `ParseResult`."""
    if result.intent is None or result.intent.name != case.intent:
        return False
    found: dict[str, list[Any]] = {}
    for entity in result.entities:
        found.setdefault(entity.slot, []).append(entity.value)
    for slot, expected in case.slots.items():
        allowed = expected if isinstance(expected, list) else [expected]
        if not any(_same(e, g) for e in allowed for g in found.get(slot, [])):
            return False
    return True
