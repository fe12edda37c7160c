"""Turn a `Domain` into training examples, and split them into train and dev.

Sampling, not enumeration: each intent gets up to `max_per_intent` distinct
sentences drawn as random paths through its templates, taking turns between
templates so a template with few words is not drowned by one with many slots.
Then every value and synonym of the intent's lists that no sentence has said
yet gets a sentence of its own, so the set grows with the domain and the model
meets every value. Each intent has its own seeded generator, so adding an
intent leaves the examples of the others unchanged.
"""

from __future__ import annotations

import logging
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

from assistant.intents.annotation import parse_annotated
from assistant.intents.builtins import BUILTINS, DEFAULT_RANGES
from assistant.intents.example import Example, Span, from_spans
from assistant.intents.schema import Domain, Intent, Slot
from assistant.intents.template import SlotRef, parse_template, sample_path, slot_names

_log = logging.getLogger(__name__)

DEFAULT_MAX_PER_INTENT = 300
MIN_PER_SHARE = 12
"""Fewest examples for an intent that shares its cap with others reporting as the same one."""
OUT_OF_SCOPE = "out_of_scope"
"""Intent name given to out-of-scope examples."""
_PATIENCE = 60
"""Draws in a row that bring nothing new before a template counts as exhausted."""


def expand(
    domain: Domain,
    seed: int = 0,
    max_per_intent: int = DEFAULT_MAX_PER_INTENT,
    exclude_values: Mapping[str, Iterable[str]] | None = None,
) -> list[Example]:
    """Training examples of every intent: its free examples, then template samples up to the cap.

    `exclude_values` maps a list slot type to canonical values (with their
    synonyms) that must not appear, to test a model on values it never saw; free
    examples that mark such a value are left out too. A sentence that two intents
    both produce is dropped from both, with a warning, since no model can learn it.
    """
    excluded = {name: {v.lower() for v in values} for name, values in (exclude_values or {}).items()}
    # The cap is per intent as results name it: the intents that report as one (Home Assistant's data blocks)
    # share it, so a domain of many small blocks is not many times larger to train.
    shares = Counter(intent.reports or name for name, intent in domain.intents.items())
    per_intent = {
        name: _expand_intent(domain, intent, random.Random(f"{seed}:{name}"),
                             max(MIN_PER_SHARE, max_per_intent // shares[intent.reports or name]), excluded)
        for name, intent in domain.intents.items()
    }
    owners: dict[str, set[str]] = defaultdict(set)
    meaning = {name: (intent.reports or name, tuple(sorted(intent.fixed.items()))) for name, intent in domain.intents.items()}
    for name, examples in per_intent.items():
        for example in examples:
            owners[_key(example)].add(name)
    # two intents that mean the same (one reported name, the same fixed slots) do not clash: keep the first's
    for key, names in owners.items():
        if len(names) > 1 and len({meaning[n] for n in names}) == 1:
            owners[key] = {min(names)}
    clashes = {key for key, names in owners.items() if len(names) > 1}
    if clashes:
        first = sorted(clashes)[0]
        _log.warning(
            "%d sentences belong to more than one intent and are left out, e.g. %r (%s)",
            len(clashes), first, ", ".join(sorted(owners[first])),
        )
    return [ex for name, examples in per_intent.items() for ex in examples if _key(ex) not in clashes and name in owners[_key(ex)]]


def out_of_scope_examples(domain: Domain) -> list[Example]:
    """The domain's out-of-scope sentences as examples of intent `out_of_scope` with no slots."""
    return [from_spans(text, OUT_OF_SCOPE, [], {"source": "out_of_scope"}) for text in domain.out_of_scope]


def holdout_values(domain: Domain, fraction: float = 0.2, seed: int = 0) -> dict[str, list[str]]:
    """Pick canonical values of each list type to hold out (at least one, never all), for `exclude_values`."""
    held: dict[str, list[str]] = {}
    for name, slot_type in domain.slot_types.items():
        values = [v.value for v in slot_type.values]
        if len(values) < 2:
            continue
        count = min(len(values) - 1, max(1, round(fraction * len(values))))
        held[name] = sorted(random.Random(f"{seed}:{name}").sample(values, count))
    return held


def split_train_dev(examples: list[Example], dev_fraction: float = 0.1, seed: int = 0) -> tuple[list[Example], list[Example]]:
    """Split per intent, deterministically, with no sentence in both parts (duplicates are dropped)."""
    by_intent: dict[str, list[Example]] = defaultdict(list)
    seen: set[str] = set()
    for example in examples:
        if _key(example) not in seen:
            seen.add(_key(example))
            by_intent[example.intent].append(example)
    train: list[Example] = []
    dev: list[Example] = []
    for intent, group in by_intent.items():
        group = list(group)
        random.Random(f"{seed}:{intent}").shuffle(group)
        n_dev = round(len(group) * dev_fraction)
        if dev_fraction > 0 and n_dev == 0 and len(group) >= 2:
            n_dev = 1
        dev += group[:n_dev]
        train += group[n_dev:]
    return train, dev


def _key(example: Example) -> str:
    return " ".join(example.tokens).lower()


def _expand_intent(domain: Domain, intent: Intent, rng: random.Random, cap: int, excluded: dict[str, set[str]]) -> list[Example]:
    out: list[Example] = []
    seen: set[str] = set()

    def keep(example: Example) -> bool:
        if _key(example) in seen:
            return False
        seen.add(_key(example))
        out.append(example)
        return True

    for raw in intent.examples:
        text, spans = parse_annotated(raw)
        if not _marks_excluded(domain, intent, text, spans, excluded):
            keep(from_spans(text, intent.name, spans, {"source": intent.source, "example": raw}))

    trees = [(template, parse_template(template)) for template in intent.sentences]
    said: dict[str, set[str]] = defaultdict(set)
    """slot -> the surfaces of its values that sentences have said."""

    def render(k: int, forced: dict | None = None) -> bool:
        template, tree = trees[k]
        for _ in range(20 if forced else 1):  # a forced slot may sit in an optional part: draw until the path has it
            path = sample_path(tree, rng)
            if not forced or any(isinstance(p, SlotRef) and p.name in forced for p in path):
                break
        else:
            return False
        text, spans, values, surfaces = _render(path, domain, intent, rng, excluded, forced)
        if keep(from_spans(text, intent.name, spans, {"source": intent.source, "template": template, "values": values})):
            for slot, surface in surfaces.items():
                said[slot].add(surface.lower())
            return True
        return False

    misses = [0] * len(trees)
    active = list(range(len(trees)))
    while len(out) < cap and active:
        order = list(active)
        rng.shuffle(order)
        for k in order:
            if len(out) >= cap:
                break
            if render(k):
                misses[k] = 0
            else:
                misses[k] += 1
                if misses[k] >= _PATIENCE:
                    active.remove(k)
    for slot in sorted({name for _, tree in trees for name in slot_names(tree)}):
        list_type = domain.slot_types.get(intent.slots[slot].type)
        having = [k for k, (_, tree) in enumerate(trees) if slot in slot_names(tree)]
        held = excluded.get(intent.slots[slot].type, set())
        for value in list_type.values if list_type is not None else []:
            for surface in [value.value, *value.synonyms]:
                if surface.lower() not in said[slot] and value.value.lower() not in held:
                    for _ in range(5):
                        if render(rng.choice(having), {slot: (surface, value.value)}):
                            break
    if len(out) < cap:
        _log.debug("intent %s: %d distinct sentences (cap %d)", intent.name, len(out), cap)
    return out


def _render(pieces, domain: Domain, intent: Intent, rng: random.Random, excluded, forced: dict | None = None):
    """Join a sampled path into text, filling slots (`forced`: slot -> (surface, value) to use), with single spaces;
    (text, the spans of the slot values, their values, their surfaces)."""
    text = ""
    spans: list[Span] = []
    values: dict = {}
    surfaces: dict = {}
    for piece in pieces:
        if isinstance(piece, SlotRef):
            if forced and piece.name in forced:
                surface, value = forced[piece.name]
            else:
                surface, value = _fill(intent.slots[piece.name], domain, rng, excluded)
            if text and not text[-1].isspace():
                text += " "
            spans.append(Span(len(text), len(text) + len(surface), piece.name))
            values[piece.name], surfaces[piece.name] = value, surface
            text += surface
        else:
            text += piece
    return _tidy(text, spans) + (values, surfaces)


def _tidy(text: str, spans: list[Span]) -> tuple[str, list[Span]]:
    """Collapse runs of spaces left by skipped optionals, moving the spans along."""
    out: list[str] = []
    where: list[int] = []
    for char in text:
        where.append(len(out))
        if not char.isspace():
            out.append(char)
        elif out and out[-1] != " ":
            out.append(" ")
    where.append(len(out))
    return "".join(out).rstrip(), [Span(where[s.start], where[s.end], s.slot) for s in spans]


def _fill(slot: Slot, domain: Domain, rng: random.Random, excluded: dict[str, set[str]]):
    """A surface form for a slot and the value it means."""
    list_type = domain.slot_types.get(slot.type)
    if list_type is not None:
        held = excluded.get(slot.type, set())
        values = [v for v in list_type.values if v.value.lower() not in held]
        if not values:
            raise ValueError(f"every value of slot type '{slot.type}' is held out")
        value = rng.choice(values)
        return rng.choice([value.value, *value.synonyms]), value.value
    builtin = BUILTINS.get(slot.type)
    if builtin is None or builtin.sample is None:
        raise ValueError(f"slot type '{slot.type}' cannot be sampled")
    low, high = DEFAULT_RANGES.get(slot.type, (0, 0))
    return builtin.sample(rng, slot.min if slot.min is not None else low, slot.max if slot.max is not None else high)


def _marks_excluded(domain: Domain, intent: Intent, text: str, spans: list[Span], excluded: dict[str, set[str]]) -> bool:
    for span in spans:
        type_name = intent.slots[span.slot].type if span.slot in intent.slots else span.slot
        if type_name in excluded:
            value = domain.lookup.list_value(type_name, text[span.start : span.end])
            if value is not None and value.lower() in excluded[type_name]:
                return True
    return False

