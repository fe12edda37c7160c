"""Rasa NLU training data (Rasa 2 and 3 YAML: `nlu:` with `intent`, `synonym`, `lookup` and `regex` items) as
one intent file: the way over from Rasa without rewriting a domain by hand (`assistant import-rasa`).

What maps, and how:

- each `intent` becomes an intent whose written-out `examples:` are Rasa's, its entities marked in place as
  `[words](slot)` (Rasa's `[words](entity)`, `[words](entity:value)` and `[words]{"entity": ..., "value": ...,
  "role": ...}`); an entity with a role becomes a slot named for the role, of the entity's type;
- each entity becomes a list slot type: its values are what the examples mark and what a `lookup` table of the
  same name lists, and Rasa's synonyms (`synonym` items, `entity:value` marks) become the synonyms of the value
  they name, so the runtime reports the same canonical values Rasa's synonym mapper did. An entity named like a
  built-in type (`time`, `duration`, `number`, ...) is that type instead: its values are parsed, not listed;
- the examples of an intent named `out_of_scope` (Rasa's convention for it) become `out_of_scope:` sentences;
- `regex` items have no counterpart (the model and the lists cover what they helped Rasa's featurizers find):
  they are reported, as is anything else left behind.

Rasa's examples are also the grammar's templates here (`annotation.as_template`), so a converted domain is
understood exactly on its own sentences, with its values swapped in, before any training.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from assistant.intents.builtins import BUILTINS
from assistant.intents.errors import IntentFileError
from assistant.intents.expand import OUT_OF_SCOPE  # Rasa's name for it too
from assistant.intents.resolve import normalise

_MARK = re.compile(r"\[(?P<text>[^\[\]]+)\](?:\((?P<short>[^()]+)\)|(?P<json>\{[^{}]*\}))")
_BRACKETS = re.compile(r"[\[\]()]")


@dataclass
class Converted:
    """An intent file's data (`yaml.safe_dump` writes it) and what did not come over."""

    data: dict
    intents: int = 0
    examples: int = 0
    left_out: list[str] = field(default_factory=list)

    def to_yaml(self, sources: list[Path]) -> str:
        head = [f"# Converted from Rasa NLU data: {', '.join(map(str, sources))}",
                f"# {self.intents} intents, {self.examples} examples, {len(self.data.get('slots', {}))} slot types."]
        head += [f"# Left out: {note}" for note in self.left_out]
        return "\n".join(head) + "\n" + yaml.safe_dump(self.data, sort_keys=False, allow_unicode=True, width=4096)


def rasa_data(paths: list[Path]) -> dict[Path, list]:
    """The `nlu:` lists of the YAML files among `paths` (folders searched, sorted) that hold one."""
    found = {}
    for path in map(Path, paths):
        if not path.exists():
            raise IntentFileError(str(path), None, "no such file or folder")
        candidates = sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml")) if path.is_dir() else [path]
        for candidate in candidates:
            data = _load(candidate)
            if isinstance(data, dict) and "nlu" in data:
                found[candidate] = data["nlu"] or []
    if not found:
        raise IntentFileError(", ".join(map(str, paths)), None, "no Rasa NLU data here (a YAML file with an `nlu:` list)")
    return found


def convert(paths: list[Path]) -> Converted:
    """The Rasa NLU data of `paths` (files or folders) as one intent file's data."""
    data = rasa_data(paths)
    items = [(file, item) for file, nlu in data.items() for item in nlu]
    out = Converted({})
    synonyms: dict[str, str] = {}  # surface -> canonical value, from `synonym` items
    lookups: dict[str, list[str]] = {}
    for file, item in items:
        if not isinstance(item, dict):
            raise IntentFileError(str(file), None, f"an `nlu:` item must be a mapping, not {item!r}")
        if "synonym" in item:
            for surface in _examples(file, item):
                synonyms[normalise(surface)] = str(item["synonym"])
        elif "lookup" in item:
            lookups.setdefault(_name(str(item["lookup"])), []).extend(_examples(file, item))
        elif "regex" in item:
            out.left_out.append(f"regex {item['regex']} (no counterpart: lists and the model cover it)")
        elif "intent" not in item:
            out.left_out.append(f"an item with keys {', '.join(map(str, item))} in {file}")

    values: dict[str, dict[str, list[str]]] = {}  # entity -> canonical value -> synonyms

    def add(entity: str, canonical: str, surface: str | None = None) -> None:
        table = values.setdefault(entity, {})
        key = next((v for v in table if normalise(v) == normalise(canonical)), canonical)
        said = table.setdefault(key, [])
        if surface is not None and normalise(surface) != normalise(key) and normalise(surface) not in map(normalise, said):
            said.append(surface)

    slots: dict[str, dict[str, str]] = {}  # intent -> slot -> entity
    examples: dict[str, list[str]] = {}  # an intent's examples, from every item and file that names it
    out_of_scope: list[str] = []
    named: list[str] = []
    for file, item in items:
        if "intent" not in item:
            continue
        name = str(item["intent"])
        for example in _examples(file, item):
            text, marks = _marks(example)
            if not text:
                continue
            if name == OUT_OF_SCOPE:
                out_of_scope.append(" ".join(_BRACKETS.sub(" ", _plain(example)).split()))
                continue
            for slot, entity, surface, value in marks:
                slots.setdefault(name, {})[slot] = entity
                if entity not in BUILTINS:
                    add(entity, value or synonyms.get(normalise(surface), surface), surface)
            examples.setdefault(name, []).append(text)
        named.append(name)
    out.left_out += [f"intent {name} (no examples)" for name in dict.fromkeys(named) if name not in examples and name != OUT_OF_SCOPE]
    intents: dict[str, dict] = {}
    for name, said in examples.items():
        typed = {slot: entity for slot, entity in slots.get(name, {}).items() if slot != entity}
        intents[name] = ({"slots": typed} if typed else {}) | {"examples": list(dict.fromkeys(said))}
        out.examples += len(intents[name]["examples"])

    for entity, listed in lookups.items():
        if entity in values:
            for value in listed:
                add(entity, synonyms.get(normalise(value), value))
        else:
            out.left_out.append(f"lookup {entity} (no example marks an entity of that name)")
    for canonical in set(synonyms.values()):  # a synonym item names its value: every type holding it gets its words
        for entity, table in values.items():
            if any(normalise(v) == normalise(canonical) for v in table):
                for surface, value in synonyms.items():
                    if value == canonical:
                        add(entity, canonical, surface)
    slot_types = {}
    for entity, table in values.items():
        slot_types[entity] = {"values": _unique(entity, table, out.left_out)}
    if slot_types:
        out.data["slots"] = slot_types
    out.data["intents"] = intents
    if out_of_scope:
        out.data["out_of_scope"] = list(dict.fromkeys(s for s in out_of_scope if s))
    out.intents = len(intents)
    if not intents:
        raise IntentFileError(", ".join(map(str, data)), None, "the Rasa data has no intent with examples")
    return out


def _load(file: Path):
    try:
        return yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise IntentFileError(str(file), mark.line + 1 if mark else None, f"not valid YAML: {getattr(err, 'problem', err)}") from None
    except UnicodeDecodeError:
        raise IntentFileError(str(file), None, "not UTF-8 text") from None


def _examples(file: Path, item: dict) -> list[str]:
    """An item's examples: Rasa's `- ` lines in one block of text, or a list of them (or of `{text: ...}`)."""
    raw = item.get("examples")
    if isinstance(raw, str):
        lines = [line.strip() for line in raw.splitlines()]
        return [line[1:].strip() for line in lines if line.startswith("-") and line[1:].strip()]
    if isinstance(raw, list):
        texts = [entry.get("text") if isinstance(entry, dict) else entry for entry in raw]
        return [str(t).strip().removeprefix("- ").strip() for t in texts if t is not None and str(t).strip()]
    raise IntentFileError(str(file), None, f"{next(iter(item))} {next(iter(item.values()))}: `examples` must be a block of `- ` lines")


def _marks(example: str) -> tuple[str, list[tuple[str, str, str, str | None]]]:
    """The example in this project's marks (`[words](slot)`, stray brackets dropped) and, per mark: the slot (the
    entity's role, else the entity), the entity, the words, and the value a mark names (`entity:value`, or
    `"value"` in its JSON)."""
    out, marks, last = [], [], 0
    for match in _MARK.finditer(example):
        out.append(_BRACKETS.sub(" ", example[last : match.start()]))
        surface = " ".join(_BRACKETS.sub(" ", match["text"]).split())
        if match["short"] is not None:
            entity, _, value = match["short"].partition(":")
            entity, role, value = entity.strip(), None, value.strip() or None
        else:
            try:
                spec = json.loads(match["json"])
            except ValueError:
                spec = {}
            entity, role, value = str(spec.get("entity", "")).strip(), spec.get("role"), spec.get("value")
        entity = _name(entity)
        if not entity or not surface:
            out.append(surface)
        else:
            slot = _name(str(role)) if role else entity
            out.append(f"[{surface}]({slot})")
            marks.append((slot, entity, surface, str(value) if value is not None else None))
        last = match.end()
    out.append(_BRACKETS.sub(" ", example[last:]))
    return " ".join("".join(out).split()), marks


def _name(name: str) -> str:
    """An entity or role as a slot name (`[A-Za-z_][\\w.-]*`, what `[words](slot)` marks take)."""
    name = re.sub(r"[^\w.\-]", "_", name.strip())
    return "_" + name if name and not (name[0].isalpha() or name[0] == "_") else name


def _plain(example: str) -> str:
    """The words of an example without its marks."""
    return _MARK.sub(lambda m: m["text"], example)


def _unique(entity: str, table: dict[str, list[str]], left_out: list[str]) -> list:
    """The type's values as an intent file writes them, each word naming one value (the first to claim it)."""
    owner: dict[str, str] = {normalise(v): v for v in table}
    out = []
    for value, said in table.items():
        kept = []
        for surface in said:
            if owner.setdefault(normalise(surface), value) == value:
                kept.append(surface)
            else:
                left_out.append(f"'{surface}' as a synonym of {entity} '{value}' (it already names '{owner[normalise(surface)]}')")
        out.append({value: kept} if kept else value)
    return out
