"""Turn the words a tagger marked as a slot into the slot's value.

Runs on every parse, so it needs only the `Domain` (no YAML, no model) and
looks list values up in tables each domain builds once (`Domain.lookup`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, NamedTuple

from assistant.intents.builtins import BUILTINS

if TYPE_CHECKING:
    from assistant.intents.schema import Domain

_ARTICLES = ("the ", "a ", "an ", "my ", "our ", "your ")
_NOT_WORD = re.compile(r"[^\w'\-]+")


def normalise(text: str) -> str:
    """Lower case, curly quotes straightened, punctuation and extra spaces dropped."""
    return " ".join(_NOT_WORD.sub(" ", text.lower().replace("’", "'")).split())


def _singular(text: str) -> str:
    if text.endswith("ies") and len(text) > 4:
        return text[:-3] + "y"
    if text.endswith(("ches", "shes", "sses", "xes")):
        return text[:-2]
    if text.endswith("s") and not text.endswith("ss") and len(text) > 3:
        return text[:-1]
    return text


def _variants(text: str) -> list[str]:
    """The forms a value is looked up by: as is, without a leading article, singular."""
    forms = [normalise(text)]
    for article in _ARTICLES:
        if forms[0].startswith(article):
            forms.append(forms[0][len(article) :])
    forms += [_singular(form) for form in forms]
    return forms


class Lookup:
    """A domain's slot types and list values as dictionaries, built once (`Domain.lookup`) and read on every parse."""

    def __init__(self, domain: Domain):
        self.type_names = set(domain.slot_types) | set(BUILTINS)
        self.slot_types: dict[tuple[str, str], str] = {}
        """(intent, slot) -> type."""
        self.any_intent: dict[str, str] = {}
        """slot -> type, from the first intent that has it, for slots tagged outside their intent."""
        for intent in domain.intents.values():
            for name, slot in intent.slots.items():
                self.slot_types[(intent.name, name)] = slot.type
                self.any_intent.setdefault(name, slot.type)
        self.values: dict[str, dict[str, str]] = {}
        """list type -> looked-up form -> canonical value."""
        for slot_type in domain.slot_types.values():
            exact: dict[str, str] = {}
            loose: dict[str, str] = {}
            for value in slot_type.values:
                for surface in [value.value, *value.synonyms]:
                    forms = _variants(surface)
                    exact.setdefault(forms[0], value.value)
                    for form in forms[1:]:
                        loose.setdefault(form, value.value)
            self.values[slot_type.name] = {**loose, **exact}

    def slot_type(self, intent: str | None, slot_name: str) -> str:
        """The type of a slot: as the intent declares it, else as any intent does, else the slot name, else `text`."""
        found = self.slot_types.get((intent or "", slot_name)) or self.any_intent.get(slot_name)
        if found is not None:
            return found
        return slot_name if slot_name in self.type_names else "text"

    def list_value(self, type_name: str, text: str) -> str | None:
        """The canonical value of a list type that `text` names, or None."""
        table = self.values.get(type_name)
        if not table:
            return None
        forms = _variants(text)
        for form in forms + [form + ending for form in forms[:2] for ending in ("s", "es")]:
            if form in table:
                return table[form]
        return None


class Resolved(NamedTuple):
    type: str
    value: Any
    match: str
    """`exact` (a value, synonym or number as said) or `text` (nothing resolved: the words themselves)."""


def resolution(domain: Domain, intent: str | None, slot_name: str, text: str) -> Resolved:
    """The slot type and value of words tagged as `slot_name` in an utterance of `intent`, and how they were found.

    List types give the canonical value of a value or synonym (case, a leading
    "the" and a plural tolerated); `integer`/`number`/`percentage` a number,
    `duration` seconds, `time` "HH:MM". When nothing matches, the value is the
    text itself, so a value the lists never heard of still comes through.
    """
    type_name = domain.lookup.slot_type(intent, slot_name)
    builtin = BUILTINS.get(type_name)
    value = builtin.parse(text) if builtin is not None else domain.lookup.list_value(type_name, text)
    return Resolved(type_name, text, "text") if value is None else Resolved(type_name, value, "exact")


def resolve(domain: Domain, intent: str | None, slot_name: str, text: str) -> tuple[str, Any]:
    """`(type, value)` of `resolution`."""
    found = resolution(domain, intent, slot_name, text)
    return found.type, found.value
