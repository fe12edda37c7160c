"""Load intent files into a checked `Domain`, and any training source into examples.

All checks that need a line number happen here, while the YAML line map is at
hand; what comes out is plain data the rest of the project can trust.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError

from assistant.intents.annotation import parse_annotated
from assistant.intents.augment import with_slips
from assistant.intents.builtins import BUILTINS
from assistant.intents.errors import IntentFileError
from assistant.intents.example import Example
from assistant.intents.negatives import general_out_of_scope, negative_examples
from assistant.intents.expand import DEFAULT_MAX_PER_INTENT, OUT_OF_SCOPE, expand, split_train_dev
from assistant.intents.clinc import is_clinc, load_clinc
from assistant.intents.jointbert import is_jointbert, jointbert_domain, load_jointbert
from assistant.intents.resolve import normalise
from assistant.intents.schema import Domain, Intent, IntentBlock, IntentFile, Slot, SlotDecl, SlotType
from assistant.intents.template import TemplateError, apply_rules, parse_template, slot_names
from assistant.intents.yaml_lines import line_of, load_yaml

_log = logging.getLogger(__name__)

_EXPECTED_KEYS = {
    (): "rules, slots, intents, examples, out_of_scope, homeassistant",
    ("intents", "*"): "slots, sentences, examples",
    ("intents", "*", "slots", "*"): "type, min, max",
    ("slots", "*"): "values",
}


class TrainingData(NamedTuple):
    domain: Domain
    train: list[Example]
    dev: list[Example]
    test: list[Example] | None
    """Only datasets come with a test split; intent files do not."""


def intent_files(path: str | Path) -> list[Path]:
    """The YAML files of a domain: the file itself, or a folder's `*.yaml`/`*.yml` sorted by name."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise IntentFileError(str(path), None, "no such file or folder")
    files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        raise IntentFileError(str(path), None, "no intent files (*.yaml) in this folder")
    return files


def load_domain(path: str | Path) -> Domain:
    """Load and check a folder of intent files (or one file); raise `IntentFileError` on the first problem."""
    files = [(str(file), *_read(file)) for file in intent_files(path)]

    rules: dict[str, str] = {}
    rule_lines: dict[str, tuple[str, int]] = {}
    for file, data, lines in files:
        for name, body in data.rules.items():
            line = lines[("rules", name)]
            if name in rules:
                raise IntentFileError(file, line, f"rule <{name}> is already defined at {':'.join(map(str, rule_lines[name]))}")
            rules[name], rule_lines[name] = body, (file, line)
    for name, body in rules.items():
        try:
            parse_template(apply_rules(body, rules))
        except TemplateError as err:
            raise IntentFileError(*rule_lines[name], f'rule <{name}>: {err} in "{_short(body)}"') from None

    slot_types: dict[str, SlotType] = {}
    where: dict[str, str] = {}
    for file, data, lines in files:
        for name, block in data.slots.items():
            line = lines[("slots", name)]
            if name in BUILTINS:
                raise IntentFileError(file, line, f"slot type '{name}' is built in; give the list another name")
            if name in slot_types:
                raise IntentFileError(file, line, f"slot type '{name}' is already defined at {where[name]}")
            if not block.values:
                raise IntentFileError(file, line, f"slot type '{name}' has no values")
            _check_synonyms(file, lines[("slots", name)], name, block.values)
            slot_types[name] = SlotType(name=name, values=block.values)
            where[name] = f"{file}:{line}"

    intents: dict[str, Intent] = {}
    out_of_scope: list[str] = []
    for file, data, lines in files:
        for name, block in data.intents.items():
            line = lines[("intents", name)]
            if name in intents:
                raise IntentFileError(file, line, f"intent {name} is already defined at {intents[name].source}")
            intents[name] = _check_intent(file, lines, name, block, slot_types, rules)
        out_of_scope += [" ".join(s.split()) for s in data.out_of_scope if s and s.strip()]
    for file, data, lines in files:
        for name, examples in data.examples.items():
            if name not in intents:
                raise IntentFileError(file, lines[("examples", name)], f"examples for intent {name}, which no file defines")
            intent = intents[name]
            slots = dict(intent.slots)
            for i, example in enumerate(examples):
                _check_example(file, lines[("examples", name, i)], name, example, slots, slot_types)
            intents[name] = intent.model_copy(update={"slots": slots, "examples": intent.examples + list(examples)})
    included = [(file, lines[("homeassistant",)], data.homeassistant) for file, data, lines in files if data.homeassistant is not None]
    if not intents and not included:
        raise IntentFileError(str(path), None, "no intents defined")
    domain = Domain(
        intents=intents,
        slot_types=slot_types,
        out_of_scope=list(dict.fromkeys(out_of_scope)),
        sources=[file for file, _, _ in files],
        rules=rules,
    )
    for file, line, block in included[:1]:
        from assistant.intents.homeassistant import ha_domain, load_home, merge

        home = load_home(Path(file).parent / block.home) if block.home else None  # its errors name the home file
        try:
            domain = merge(domain, ha_domain(block.language, home))
        except IntentFileError as err:
            raise IntentFileError(file, line, f"homeassistant: {err.message}") from None
    if len(included) > 1:
        raise IntentFileError(included[1][0], included[1][1], f"homeassistant: is already included by {included[0][0]}:{included[0][1]}")
    return domain


def load_training_data(
    path: str | Path,
    seed: int = 0,
    max_per_intent: int = DEFAULT_MAX_PER_INTENT,
    dev_fraction: float = 0.1,
    exclude_values: dict[str, list[str]] | None = None,
    general_negatives: bool = True,
    slips: float = 0.0,
) -> TrainingData:
    """Domain and examples from a JointBERT dataset folder or from intent files, so one trainer takes both.

    A dataset keeps its own dev and test splits (dev is cut from train if it has
    none). Intent files are expanded and a seeded `dev_fraction` of each intent's
    sentences is set aside as dev, with no sentence in both. Intent files are
    trained with out-of-scope examples (intent `out_of_scope`): the files' own
    `out_of_scope:` sentences and, unless `general_negatives` is off, the
    built-in general set, never more of them than in-scope sentences (the
    files' own first). `slips` adds copies of that share of the intent-file
    sentences with typing slips (`augment`), in train and in dev alike, so the
    out-of-scope threshold chosen on dev accepts them too. A CLINC150
    `data_full.json` brings its own.
    """
    if is_clinc(path):
        domain, splits = load_clinc(path)
        return TrainingData(domain, splits["train"], splits["dev"], splits["test"])
    if is_jointbert(path):
        domain = jointbert_domain(path)
        train = load_jointbert(path, "train")
        if (Path(path) / "dev" / "seq.in").is_file():
            dev = load_jointbert(path, "dev")
        else:
            train, dev = split_train_dev(train, dev_fraction, seed)
        test = load_jointbert(path, "test") if (Path(path) / "test" / "seq.in").is_file() else None
        return TrainingData(domain, train, dev, test)
    domain = load_domain(path)
    examples = expand(domain, seed, max_per_intent, exclude_values)
    general = list(general_out_of_scope()) if general_negatives else []
    random.Random(f"{seed}:negatives").shuffle(general)
    negatives = negative_examples(list(domain.out_of_scope) + general, examples)[: len(examples)]
    train, dev = split_train_dev(examples + negatives, dev_fraction, seed)
    if slips:
        train += with_slips([e for e in train if e.intent != OUT_OF_SCOPE], slips, seed)
        dev += with_slips([e for e in dev if e.intent != OUT_OF_SCOPE], slips, seed + 1)
    return TrainingData(domain, train, dev, None)


def _read(file: Path) -> tuple[IntentFile, dict]:
    data, lines = load_yaml(file)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise IntentFileError(str(file), 1, f"expected a mapping with keys {_EXPECTED_KEYS[()]}")
    try:
        return IntentFile.model_validate(data), lines
    except ValidationError as err:
        raise _from_validation(str(file), data, lines, err) from None


def _from_validation(file: str, data: Any, lines: dict, err: ValidationError) -> IntentFileError:
    """The one most telling pydantic error as a `path:line: message`."""
    error = max(err.errors(), key=lambda e: len(e["loc"]))
    loc, node = [], data
    for part in error["loc"]:  # keep the parts that are really in the file (pydantic adds union member names)
        if isinstance(node, dict) and part in node or isinstance(node, list) and isinstance(part, int) and part < len(node):
            loc.append(part)
            node = node[part]
    line = line_of(lines, tuple(loc))
    if error["type"] == "extra_forbidden":
        parent = tuple("*" if i % 2 else p for i, p in enumerate(loc[:-1]))
        expected = _EXPECTED_KEYS.get(parent)
        owner = f"intent {loc[1]}: " if len(loc) >= 3 and loc[0] == "intents" else ""
        hint = f" (expected {expected})" if expected else ""
        where = "top-level key" if len(loc) == 1 else "key"
        return IntentFileError(file, line, f"{owner}unknown {where} '{loc[-1]}'{hint}")
    message = error["msg"].removeprefix("Value error, ")
    path = ".".join(str(p) for p in loc) or "file"
    return IntentFileError(file, line, f"{path}: {message}")


def _short(text: str, limit: int = 120) -> str:
    """A template quoted in an error message: whole when short, else its start (a hostile one can be megabytes)."""
    return text if len(text) <= limit else text[:limit] + "..."


def _check_synonyms(file: str, line: int, name: str, values) -> None:
    """A word may name only one value of a type, or the runtime could not tell which is meant."""
    owner: dict[str, str] = {}
    for value in values:
        for surface in [value.value, *value.synonyms]:
            key = normalise(surface)
            if not key:
                raise IntentFileError(file, line, f"slot type '{name}' has an empty value or synonym")
            if owner.setdefault(key, value.value) != value.value:
                raise IntentFileError(
                    file, line, f"slot type '{name}': '{surface}' names both '{owner[key]}' and '{value.value}'"
                )


def _check_intent(
    file: str, lines: dict, name: str, block: IntentBlock, slot_types: dict[str, SlotType], rules: dict[str, str]
) -> Intent:
    line = lines[("intents", name)]
    if not block.sentences and not block.examples:
        raise IntentFileError(file, line, f"intent {name} has no sentences and no examples")

    slots: dict[str, Slot] = {}
    for slot_name, decl in block.slots.items():
        slot_line = lines[("intents", name, "slots", slot_name)]
        slot = Slot(type=decl) if isinstance(decl, str) else Slot(**decl.model_dump())
        if slot.type not in slot_types and slot.type not in BUILTINS:
            raise IntentFileError(file, slot_line, f"intent {name} uses unknown slot type '{slot.type}'")
        if isinstance(decl, SlotDecl) and (slot.min is not None or slot.max is not None):
            if not (slot.type in BUILTINS and BUILTINS[slot.type].ranged):
                raise IntentFileError(file, slot_line, f"intent {name}: min/max apply to numbers, not to slot type '{slot.type}'")
            if slot.min is not None and slot.max is not None and slot.min > slot.max:
                raise IntentFileError(file, slot_line, f"intent {name}: slot {slot_name} has min {slot.min} > max {slot.max}")
        slots[slot_name] = slot

    def use(slot_name: str, at: int, what: str, sampled: bool) -> None:
        if slot_name not in slots:
            if slot_name not in slot_types and slot_name not in BUILTINS:
                raise IntentFileError(
                    file, at,
                    f"intent {name} uses unknown slot type '{slot_name}' in {what} (declare it under slots: or add a list type)",
                )
            slots[slot_name] = Slot(type=slot_name)
        if sampled and slot_types.get(slots[slot_name].type) is None and BUILTINS[slots[slot_name].type].sample is None:
            raise IntentFileError(
                file, at, f"intent {name}: slot {slot_name} of type '{slots[slot_name].type}' cannot be generated in {what}"
            )

    sentences: list[str] = []
    for i, template in enumerate(block.sentences):
        at = lines[("intents", name, "sentences", i)]
        try:
            parse_template(template)  # its own brackets first, so columns match what is written
            sentences.append(apply_rules(template, rules))
            tree = parse_template(sentences[-1])
        except TemplateError as err:
            raise IntentFileError(file, at, f'intent {name}: {err} in template "{_short(template)}"') from None
        for slot_name in slot_names(tree):
            use(slot_name, at, f'template "{template}"', sampled=True)

    for i, example in enumerate(block.examples):
        _check_example(file, lines[("intents", name, "examples", i)], name, example, slots, slot_types)

    used = {s for t in sentences for s in slot_names(parse_template(t))}
    used |= {span.slot for e in block.examples for span in parse_annotated(e)[1]}
    for unused in sorted(set(slots) - used):
        _log.warning("%s:%d: intent %s declares slot %s but never uses it", file, line, name, unused)

    return Intent(name=name, slots=slots, sentences=sentences, written=list(block.sentences), examples=list(block.examples),
                  source=f"{file}:{line}")


def _check_example(file: str, at: int, name: str, example: str, slots: dict[str, Slot], slot_types: dict[str, SlotType]) -> None:
    """A free example of intent `name`: well marked, not empty, its slots known (a list type or built-in type
    named by a slot that `slots` lacks is declared in it, as in templates)."""
    try:
        text, spans = parse_annotated(example)
    except ValueError as err:
        raise IntentFileError(file, at, f'intent {name}: malformed example "{example}": {err}') from None
    if not text.strip():
        raise IntentFileError(file, at, f"intent {name}: empty example")
    for span in spans:
        if span.slot not in slots:
            if span.slot not in slot_types and span.slot not in BUILTINS:
                raise IntentFileError(file, at, f"intent {name} uses unknown slot type '{span.slot}' in example \"{example}\" "
                                                f"(declare it under slots: or add a list type)")
            slots[span.slot] = Slot(type=span.slot)
