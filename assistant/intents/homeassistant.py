"""Home Assistant's intents as a domain: its templates, lists and rules, and the user's own names.

The `home-assistant-intents` package ships, per language, the sentence
templates Home Assistant's own conversation agent matches (hassil's format),
its lists (values, number ranges, wildcards), its expansion rules and skip
words. Our template syntax mirrors hassil's, so the templates are read as they
are: the grammar matches them exactly, the model is trained on them, and
near misses are repaired, all emitting Home Assistant's intent and slot names
(`HassTurnOn{name: "Kitchen Light"}`), which its intent handlers execute.

What hassil does that a template cannot say is carried alongside:

- a data block's fixed slots (`slots: {domain: light}`): each block with its
  own fixed slots becomes an intent of its own, named `HassTurnOn#2` and so
  on, which *reports* as `HassTurnOn` with those slots added, so the model
  learns them too (`Intent.reports`, `Intent.fixed`);
- the names of the user's home: areas, floors and entities (with aliases as
  synonyms) come from a YAML file in the shape of Home Assistant's test
  fixtures, or from a running Home Assistant (`assistant ha sync`); without
  them `{name}`, `{area}` and `{floor}` take any words;
- skip words ("please", "can you") are optional before and after every
  sentence.

Left out: `requires_context`/`excludes_context` (a sentence is accepted
whatever device it names; Home Assistant's handler checks the device) and
responses (Home Assistant speaks its own).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from assistant.intents.errors import IntentFileError
from assistant.intents.schema import Domain, Intent, Slot, SlotType, SlotValue
from assistant.intents.template import TemplateError, apply_rules, parse_template, slot_names, spelled

log = logging.getLogger(__name__)

NAME_LISTS = ("name", "area", "floor")
"""Lists Home Assistant fills at runtime from the user's home."""
SKIP = "ha_skip"
_LIST_REF = re.compile(r"\{([^{}:]+):([^{}]+)\}")
_RANGE_TYPES = {"percentage": "percentage", "temperature": "number"}


class Named(BaseModel):
    """An area, floor or entity of the user's home, as Home Assistant's fixtures and registries describe it."""

    model_config = ConfigDict(extra="ignore")
    name: str
    aliases: list[str] = Field(default_factory=list)
    id: str | None = None
    domain: str | None = None
    """An entity's domain (`light`, `cover`); from `id` (`light.kitchen`) when not given."""
    area: str | None = None
    """The area an entity is in, for the reader: a sentence naming an area is accepted whatever the area holds."""

    def domain_of(self) -> str | None:
        return self.domain or (self.id.split(".", 1)[0] if self.id and "." in self.id else None)


class Home(BaseModel):
    """The names of a home: what `{area}`, `{floor}` and `{name}` take. The shape of Home Assistant's test fixtures."""

    model_config = ConfigDict(extra="ignore")
    areas: list[Named] = Field(default_factory=list)
    floors: list[Named] = Field(default_factory=list)
    entities: list[Named] = Field(default_factory=list)

    def merged(self, other: Home) -> Home:
        return Home(areas=self.areas + other.areas, floors=self.floors + other.floors, entities=self.entities + other.entities)

    def lists(self) -> dict[str, list[Named]]:
        return {"area": self.areas, "floor": self.floors, "name": self.entities}


def load_home(path: str | Path) -> Home:
    """A home's names from a YAML file (`areas:`, `floors:`, `entities:`, each with `name` and `aliases`)."""
    from pydantic import ValidationError

    from assistant.intents.yaml_lines import line_of, load_yaml

    data, lines = load_yaml(path)
    try:
        return Home.model_validate(data or {})
    except ValidationError as e:
        error = e.errors()[0]
        raise IntentFileError(str(path), line_of(lines, tuple(error["loc"])), f"{'.'.join(map(str, error['loc']))}: {error['msg']}") from None


def ha_data(language: str = "en") -> dict:
    """Home Assistant's intent data for a language, from the `home-assistant-intents` package."""
    try:
        import home_assistant_intents
    except ImportError:
        raise IntentFileError(f"ha:{language}", None, "Home Assistant's intents are not installed: pip install home-assistant-intents") from None
    data = home_assistant_intents.get_intents(language)
    if data is None:
        languages = ", ".join(sorted(home_assistant_intents.get_languages()))
        raise IntentFileError(f"ha:{language}", None, f"Home Assistant has no intents in language {language!r} (it has: {languages})")
    return data


def ha_domain(language: str = "en", home: Home | None = None, data: dict | None = None) -> Domain:
    """Home Assistant's intents for `language` as a `Domain`, with the names of `home` in its name lists."""
    data = data if data is not None else ha_data(language)
    source = f"ha:{language}"
    rules = dict(data.get("expansion_rules", {}))
    skip = [w for w in data.get("skip_words", []) if w.strip()]
    if skip:
        rules[SKIP] = "(" + "|".join(sorted(skip, key=len, reverse=True)) + ")"
    slot_types, kinds = _lists(data.get("lists", {}), home)
    intents: dict[str, Intent] = {}
    for intent_name, intent in data.get("intents", {}).items():
        groups: dict[tuple, str] = {}
        for b, block in enumerate(intent.get("data", [])):
            fixed = {k: str(v) for k, v in sorted((block.get("slots") or {}).items())}
            local = rules | dict(block.get("expansion_rules") or {})
            names = _names_for(block, home, slot_types)
            block_kinds = kinds | ({"name": Slot(type=names)} if names else {})
            sentences, slots = [], {}
            for text in block.get("sentences", []):
                template, bound = _template(text, local, block_kinds)
                if template is None:
                    log.warning("%s: %s: template skipped: %s", source, intent_name, text)
                    continue
                sentences.append(template)
                slots |= bound
            if not sentences:
                continue
            key = (tuple(fixed.items()), tuple(sorted((s, slot.type) for s, slot in slots.items())))
            name = groups.get(key)
            if name is None:
                taken = {n for n in intents if n == intent_name or n.startswith(intent_name + "#")}
                name = intent_name if not taken else f"{intent_name}#{len(taken) + 1}"
                groups[key] = name
                intents[name] = Intent(name=name, slots=slots, reports=intent_name if name != intent_name else None, fixed=fixed,
                                       source=f"{source}:{intent_name}:{b}")
            intents[name].sentences.extend(s for s in sentences if s not in intents[name].sentences)
    if not intents:
        raise IntentFileError(source, None, "no intents in Home Assistant's data")
    return Domain(intents=intents, slot_types=slot_types, sources=[source])


def _names_for(block: dict, home: Home | None, slot_types: dict[str, SlotType]) -> str | None:
    """The list type `{name}` takes in a data block whose sentences require (or exclude) entities of some domains
    ("set {name} to 50%" is a light's brightness, a fan's speed or a cover's position by what `name` is): the
    home's entities of those domains, as a list type of its own (`name@fan`). None: every name will do."""
    def domains(key: str) -> set[str]:
        value = (block.get(key) or {}).get("domain")
        return {value} if isinstance(value, str) else set(value) if isinstance(value, list) else set()

    required, excluded = domains("requires_context"), domains("excludes_context")
    if not (required or excluded) or home is None or not any(e.domain_of() for e in home.entities):
        return None
    kept = [e for e in home.entities if (not required or e.domain_of() in required) and e.domain_of() not in excluded]
    if not kept:
        return None
    name = "name@" + "+".join(sorted(required)) + "".join(f"-{d}" for d in sorted(excluded))
    if name not in slot_types:
        values: dict[str, list[str]] = {}
        for entity in kept:
            values.setdefault(entity.name, []).extend([entity.name, *entity.aliases])
        slot_types[name] = SlotType(name=name, values=_values(values))
    return name


def merge(*domains: Domain) -> Domain:
    """Several domains as one (Home Assistant's beside the user's own intents); a name defined twice is an error."""
    merged = Domain()
    for domain in domains:
        for kind in ("intents", "slot_types"):
            mine, theirs = getattr(merged, kind), getattr(domain, kind)
            clash = set(mine) & set(theirs)
            if clash:
                raise IntentFileError(", ".join(domain.sources) or "domain", None,
                                      f"{kind.replace('_', ' ')} defined twice: {', '.join(sorted(clash))}")
            mine.update(theirs)
        merged.out_of_scope += domain.out_of_scope
        merged.sources += domain.sources
        merged.rules.update(domain.rules)
    return merged


def _template(text: str, rules: dict[str, str], kinds: dict[str, Slot]) -> tuple[str | None, dict[str, Slot]]:
    """One hassil sentence as our template (rules applied, skip words around it) and the slots it binds.

    hassil's `{list:slot}` puts a list's value in a slot of another name (ours: `_slot`); a plain `{list}` is a
    slot of that name and type. A sentence our parser cannot read is left out (None), with a warning.
    """
    template = f"[<{SKIP}>] {text} [<{SKIP}>]" if SKIP in rules else text
    try:
        applied = apply_rules(template, rules)
    except TemplateError as e:
        log.debug("%s: %s", text, e)
        return None, {}
    bound = {_slot(list_name, slot): _of(kinds, list_name).model_copy(update={"reports": slot if list_name != slot else None})
             for list_name, slot in _LIST_REF.findall(applied)}
    applied = _LIST_REF.sub(lambda m: "{" + _slot(m.group(1), m.group(2)) + "}", applied)
    try:
        tree = parse_template(applied)
    except TemplateError as e:
        log.debug("%s: %s", text, e)
        return None, {}
    for name in slot_names(tree):
        bound.setdefault(name, _of(kinds, name))
    return applied, bound


def _of(kinds: dict[str, Slot], list_name: str) -> Slot:
    return kinds.get(list_name) or Slot(type=list_name)


def _slot(list_name: str, slot: str) -> str:
    """Our name for hassil's `{list:slot}`: one slot may take values of several lists (`{brightness}` a number,
    `{brightness_level:brightness}` "max"), and each slot of ours has one type, so each list gets a slot of its
    own (`brightness.brightness_level`) that reports as the slot Home Assistant expects."""
    return slot if list_name == slot else f"{slot}.{list_name}"


def _lists(lists: dict, home: Home | None) -> tuple[dict[str, SlotType], dict[str, Slot]]:
    """Slot types of Home Assistant's lists, and the slot each list name stands for (`kinds`: its type, its
    range, its multiplier).

    Value lists become list types, each `in` template spelled out as synonyms of its `out` value; number ranges
    become the built-in numbers (`percentage` for percentages); wildcards and names without a home take any words.
    """
    types: dict[str, SlotType] = {}
    kinds: dict[str, Slot] = {}
    for name, spec in lists.items():
        if "values" in spec:
            values: dict[str, list[str]] = {}
            outs = []
            for item in spec["values"]:
                said, out = (item, item) if isinstance(item, str) else (item.get("in", ""), item.get("out", item.get("in", "")))
                values.setdefault(str(out), []).extend(_spellings(str(said)))
                outs.append(out)
            numbers = all(isinstance(o, (int, float)) and not isinstance(o, bool) for o in outs)
            types[name] = SlotType(name=name, values=_values(values), numbers=numbers)
            kinds[name] = Slot(type=name)
        elif "range" in spec:
            span = spec["range"]
            kind = _RANGE_TYPES.get(span.get("type", ""), "number" if span.get("fractions") else "integer")
            kinds[name] = Slot(type=kind, min=span.get("from"), max=span.get("to"), multiplier=span.get("multiplier"))
        else:
            kinds[name] = Slot(type="text")
    for name, named in (home.lists() if home else {}).items():
        if named:
            values = {}
            for n in named:
                values.setdefault(n.name, []).extend([n.name, *n.aliases])
            types[name] = SlotType(name=name, values=_values(values))
            kinds[name] = Slot(type=name)
    for name in NAME_LISTS:
        kinds.setdefault(name, Slot(type="text"))
    return types, kinds


def _spellings(template: str, limit: int = 64) -> list[str]:
    try:
        return spelled(parse_template(template), limit)
    except TemplateError:
        return [template]


def _values(values: dict[str, Iterable[str]]) -> list[SlotValue]:
    """List values with the other spellings that say them as synonyms."""
    return [SlotValue(value=value, synonyms=[s for s in dict.fromkeys(said) if s != value]) for value, said in values.items()]
