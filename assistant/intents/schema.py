"""The two shapes of an intent domain: the YAML file as written, and the `Domain` it becomes.

`IntentFile` mirrors one YAML file, lenient where writing is (a value list may be
a mapping or a list). `Domain` is the merged, checked result: plain data with
no YAML or line numbers, saved as `domain.json` next to a trained model so the
runtime can map tagged words to slot values without the intent files.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from assistant.intents.resolve import Lookup

# --- the YAML file, as written ------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


class SlotDecl(_Strict):
    """A slot of an intent written out in full: `{type: integer, min: 16, max: 30}`."""

    type: str
    min: int | None = None
    max: int | None = None


class IntentBlock(_Strict):
    slots: dict[str, str | SlotDecl] = Field(default_factory=dict)
    sentences: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)

    @field_validator("slots", "sentences", "examples", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any, info: Any) -> Any:
        if value is None:
            return {} if info.field_name == "slots" else []
        return value


class ListTypeBlock(_Strict):
    values: list["SlotValue"]

    @field_validator("values", mode="before")
    @classmethod
    def _normalise(cls, values: Any) -> Any:
        """Accept `{value: [synonyms]}`, `{value: synonym}`, `{value: }`, and lists of those or of bare values."""
        if isinstance(values, dict):
            values = [{key: synonyms} for key, synonyms in values.items()]
        if not isinstance(values, list):
            raise ValueError("values must be a list or a mapping of value: [synonyms]")
        out = []
        for item in values:
            if isinstance(item, str):
                out.append({"value": item, "synonyms": []})
            elif isinstance(item, dict) and len(item) == 1:
                (value, synonyms), = item.items()
                if synonyms is None:
                    synonyms = []
                elif isinstance(synonyms, str):
                    synonyms = [synonyms]
                out.append({"value": value, "synonyms": synonyms})
            else:
                raise ValueError(f"a value must be text or 'value: [synonyms]', not {item!r}")
        return out


class HomeAssistantBlock(_Strict):
    """`homeassistant:` in an intent file: Home Assistant's own intents join the domain (`intents.homeassistant`)."""

    language: str = "en"
    home: str | None = None
    """A YAML file of the home's areas, floors and entities (relative to the intent file): what `{name}`,
    `{area}` and `{floor}` take."""


class IntentFile(_Strict):
    """One intent file. Its rules and slot types may be used by the intents of any file of the domain."""

    homeassistant: HomeAssistantBlock | None = None
    """Home Assistant's intents (and the home's names) join this domain."""

    rules: dict[str, str] = Field(default_factory=dict)
    """Named template fragments, used as `<name>` in the templates of any file."""
    slots: dict[str, ListTypeBlock] = Field(default_factory=dict)
    intents: dict[str, IntentBlock] = Field(default_factory=dict)
    out_of_scope: list[str] = Field(default_factory=list)
    examples: dict[str, list[str]] = Field(default_factory=dict)
    """More free examples for intents defined in any file of the domain (the web console's corrections
    come as such a file): intent name -> sentences with `[words](slot)` marks."""

    @field_validator("rules", "slots", "intents", "out_of_scope", "examples", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any, info: Any) -> Any:
        if value is None:
            return [] if info.field_name == "out_of_scope" else {}
        return value


# --- the domain, as used ------------------------------------------------------


class SlotValue(BaseModel):
    value: str
    """Canonical value, what the runtime reports."""
    synonyms: list[str] = Field(default_factory=list)
    """Other ways to say it; they appear in training text and resolve to `value`."""


class SlotType(BaseModel):
    """A list slot type: its values, each with synonyms."""

    name: str
    values: list[SlotValue] = Field(default_factory=list)
    numbers: bool = False
    """The values are numbers ("max" is 100), reported as numbers."""


class Slot(BaseModel):
    """A slot of an intent: the type that fills it and, for numbers, the range to sample from."""

    type: str
    min: int | None = None
    max: int | None = None
    reports: str | None = None
    """The slot name results carry, when not this one (Home Assistant's `{brightness_level:brightness}` is a slot
    `brightness.brightness_level` of its own type that reports as `brightness`)."""
    multiplier: float | None = None
    """Reported values are multiplied by it (Home Assistant's `volume_step_down`: -1)."""


class Intent(BaseModel):
    name: str
    slots: dict[str, Slot] = Field(default_factory=dict)
    """Slot name -> slot; includes slots used in templates and examples without a declaration."""
    sentences: list[str] = Field(default_factory=list)
    """Templates, checked at load time, with the rules they use put in place."""
    written: list[str] = Field(default_factory=list)
    """The same templates as written in the file (rules by `<name>`), for people to read."""
    examples: list[str] = Field(default_factory=list)
    """Free examples with `[words](slot)` marks."""
    source: str = ""
    """`path:line` where the intent is defined, for messages."""
    reports: str | None = None
    """The intent name results carry, when not this one: one intent of another's (Home Assistant's `HassTurnOn#2`,
    a data block with fixed slots of its own, reports as `HassTurnOn`)."""
    fixed: dict[str, str] = Field(default_factory=dict)
    """Slots the intent's sentences set without saying them (Home Assistant's `slots: {domain: light}`)."""


class Domain(BaseModel):
    """Everything a model needs to know about what it understands."""

    intents: dict[str, Intent] = Field(default_factory=dict)
    slot_types: dict[str, SlotType] = Field(default_factory=dict)
    """List slot types by name; built-in types (`integer`, `duration`, ...) are not listed."""
    out_of_scope: list[str] = Field(default_factory=list)
    """Sentences that belong to no intent, for training and testing rejection."""
    sources: list[str] = Field(default_factory=list)
    """Files the domain was loaded from."""
    rules: dict[str, str] = Field(default_factory=dict)
    """The shared template fragments, as written (`Intent.written` names them as `<rule>`)."""

    @cached_property
    def lookup(self) -> Lookup:
        """Slot types and list values as dictionaries, built on first use (`assistant.intents.resolve`)."""
        return Lookup(self)

    def slot_type_of(self, intent: str | None, slot: str) -> str:
        """The type of a slot: as the intent declares it, else as any intent does, else the slot name, else `text`."""
        return self.lookup.slot_type(intent, slot)

    def slot_names(self) -> list[str]:
        """Every slot name of every intent, sorted: the tagger's label set."""
        return sorted({name for intent in self.intents.values() for name in intent.slots})


ListTypeBlock.model_rebuild()
