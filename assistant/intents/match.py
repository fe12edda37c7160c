"""Grammar-exact understanding: the sentences a domain's templates can say, recognised without a model.

Every template of every intent compiles, once per domain, into one word
automaton (Thompson's construction over the template tree: an edge per literal
word, empty edges around alternatives and optional parts, and a slot edge per
`{slot}`). A slot edge takes a span its type accepts whole: a value or synonym
of a list (a word trie), a span a built-in type reads exactly
(`Builtin.exact`: "twenty five minutes", "half past seven"), or, for `text`,
any span. Matching runs the automaton over the utterance's words and keeps
every reading (a chart: the states reached after each word, each with the slot
values bound on the way), so one pass finds every interpretation. One means
the sentence is the domain's own; several (two intents, or two ways to fill
the slots) mean it is ambiguous, and the model decides. An intent's free
examples count as templates too, their marked values standing for their slot.

`repair` matches near misses, for speech: the same chart, each reading with a
cost, where a word may stand for a template word that sounds or is spelled
alike ("rose" for "roast", `sounds.similarity`), an extra word may be passed
over, a missing short word ("a bit sugar") put in, and a list slot may take
words close to one of its values ("ice mocha" for "iced mocha"). The cheapest
reading wins when no reading of another meaning comes close.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from assistant.intents.annotation import as_template
from assistant.intents.builtins import BUILTINS, WORDS
from assistant.intents.schema import Domain, Intent
from assistant.intents.sounds import CLOSE, Phrases, code, similarities, similarity
from assistant.intents.template import Group, Node, SlotRef, Text, glued, parse_template, spellings, touches
from assistant.text import Word, tokens

MAX_WORDS = 40
"""Longer utterances are left to the model: no template of a voice command says more."""
MAX_SPAN = 10
"""Most words a built-in or `text` slot takes."""
MAX_READINGS = 4000
"""Readings kept per word: a bound on the work one utterance can cause."""
OPEN_SPAN = 4
"""Most words an open list slot takes."""
MAX_COST = 2.0
"""Most a repaired reading may cost: about two words wrong, missing or extra."""
MARGIN = 0.5
"""How much cheaper the best repaired reading must be than any of another meaning."""
EXTRA, FILLER, MISSING = 1.0, 0.3, 0.7
"""Cost of passing over an extra word, a filler word ("uh"), and of putting in a missing short word."""
FILLERS = frozenset({"uh", "um", "er", "erm", "ah", "hmm", "mm", "so", "well", "oh"})
ACTION_WORDS = frozenset(
    "on off up down open close start stop lock unlock pause unpause resume play mute unmute enable disable activate deactivate "
    "increase decrease raise lower louder quieter softer brighter dimmer brighten dim warmer cooler hotter colder higher cancel".split())
"""Words that decide what an action does: one is never repaired into another ("decrease" heard is not "increase"
meant), and heard unsure they must not flip an action silently (`speech.pipeline.trust`)."""
HESITATIONS = frozenset({"uh", "um", "er", "erm", "hmm", "mm"})
"""Fillers that are never words of a command or a name: passed over in what was heard (`match(hesitations=True)`)."""
SMALL_WORDS = frozenset({"a", "an", "the", "of", "to", "in", "at", "for", "is", "it", "my", "me", "i", "and", "with", "be", "some", "please"})
"""Template words that may be missing from what was said ("a bit sugar"): short words a recogniser drops.
Words that carry the action ("on", "off", "up", "down") are never among them."""


@dataclass(frozen=True)
class Binding:
    """A slot filled by the words `start` to `end` (token indices) of the utterance."""

    slot: str
    type: str
    start: int
    end: int
    value: Any
    fuzzy: bool = False
    """The words are close to the value, not one of its spellings (repair only)."""
    open: bool = False
    """A list slot took words its list does not hold (`match(..., open_lists=True)`): its value is the words."""


@dataclass(frozen=True)
class Match:
    """One interpretation of an utterance by the templates of an intent."""

    intent: str
    bindings: tuple[Binding, ...]
    words: tuple[Word, ...] = field(compare=False)
    """The utterance's tokens, for the slots' character offsets."""
    cost: float = 0.0
    """0 for a sentence of the templates; what the repair changed, otherwise (`MAX_COST` at most)."""
    edits: tuple[str, ...] = ()
    """The repair's changes, readable: "rose->roast", "+of", "-uh", "ice mocha~iced mocha"."""
    meant: tuple[str, ...] = field(default=(), compare=False)
    """Repair only: the words of the template sentence the near miss stands for ("a bit of sugar" for "a bit sugar"),
    which a recogniser that can score sentences checks against the audio."""

    @property
    def confidence(self) -> float:
        return round(1.0 - self.cost / (MAX_COST + 1.0), 4)

    @property
    def key(self) -> tuple:
        """What the interpretation means: the intent and each slot's value (two readings of one meaning are one)."""
        return (self.intent, tuple(sorted((b.slot, repr(b.value)) for b in self.bindings)))


@dataclass
class _Step:
    """What a state leads to once its empty edges are followed: word edges, slot edges, intents it completes."""

    words: dict[str, list[int]]
    slots: list[tuple[str, str, str, int]]
    """(slot name, type, suffix glued to its last word, next state)."""
    accepts: list[str]


def most_specific(readings: list[Match]) -> list[Match]:
    """The readings that leave the fewest words to slots that take any words (`text`, or a list slot taking new
    words): "play corner light on" is the light turned on, not a search for music called "corner light on"."""
    if len(readings) < 2:
        return readings
    free = [sum(b.end - b.start for b in m.bindings if b.type == "text" or b.open) for m in readings]
    least = min(free)
    return [m for m, n in zip(readings, free) if n == least]


class Grammar:
    """A domain's templates as one automaton. Built once per model (`Parser` holds one); thread-safe to match."""

    def __init__(self, domain: Domain):
        self.domain = domain
        self._words: list[dict[str, list[int]]] = []
        self._empty: list[list[int]] = []
        self._slots: list[list[tuple[str, str, str, int]]] = []
        self._accepts: dict[int, str] = {}
        self._steps: dict[int, _Step] = {}
        self.start = self._new()
        for intent in domain.intents.values():
            examples = [as_template(example) for example in intent.examples]
            for template in intent.sentences + [t for t in examples if t]:
                end = self._compile(parse_template(template), self._branch(self.start), intent)
                self._accepts[end] = intent.name
        self._lists = {name: _trie(slot_type.values) for name, slot_type in domain.slot_types.items()}
        self._surfaces = {name: _surfaces(slot_type.values) for name, slot_type in domain.slot_types.items()}
        self._phrases = {name: _phrases(surfaces) for name, surfaces in self._surfaces.items()}
        self._vocabulary = sorted({w for edges in self._words for w in edges})
        self._codes = [code(w) for w in self._vocabulary]

    # --- building -------------------------------------------------------------------------

    def _new(self) -> int:
        self._words.append({})
        self._empty.append([])
        self._slots.append([])
        return len(self._words) - 1

    def _branch(self, state: int) -> int:
        new = self._new()
        self._empty[state].append(new)
        return new

    def _compile(self, node: Node, state: int, intent: Intent) -> int:
        """Add `node` after `state`; return the state after it."""
        if isinstance(node, Text):
            for word in tokens(node.text):
                new = self._new()
                self._words[state].setdefault(word.text, []).append(new)
                state = new
            return state
        if isinstance(node, SlotRef):
            return self._slot(node, "", state, intent)
        assert isinstance(node, Group)
        if node.permute:
            return self._permutation(node.options, state, intent)
        if len(node.options) == 1:
            return self._sequence(node.options[0], state, intent)
        end = self._new()
        for option in node.options:
            self._empty[self._sequence(option, self._branch(state), intent)].append(end)
        return end

    def _sequence(self, nodes: tuple[Node, ...], state: int, intent: Intent) -> int:
        """Add a sequence; a slot glued to the letters after it (`{day}'s`) takes them as a suffix of its last word."""
        nodes = glued(nodes)
        i = 0
        while i < len(nodes):
            node = nodes[i]
            if isinstance(node, SlotRef) and i + 1 < len(nodes) and touches(nodes[i + 1], 0):
                end = self._new()
                for spelling in spellings(nodes[i + 1]):
                    suffix, rest = _split_suffix(spelling)
                    after = self._slot(node, suffix, self._branch(state), intent)
                    self._empty[self._sequence(rest, after, intent)].append(end)
                state, i = end, i + 2
                continue
            state = self._compile(node, state, intent)
            i += 1
        return state

    def _permutation(self, parts: tuple[tuple[Node, ...], ...], state: int, intent: Intent) -> int:
        """Every order of the parts, as one state per set of parts said so far (2^n states, not n! paths)."""
        after: dict[frozenset, int] = {frozenset(): state}
        for size in range(len(parts)):
            for done in [d for d in after if len(d) == size]:
                for k, part in enumerate(parts):
                    if k in done:
                        continue
                    end = self._sequence(part, self._branch(after[done]), intent)
                    target = after.setdefault(done | {k}, self._new())
                    self._empty[end].append(target)
        return after[frozenset(range(len(parts)))]

    def _slot(self, node: SlotRef, suffix: str, state: int, intent: Intent) -> int:
        new = self._new()
        self._slots[state].append((node.name, intent.slots[node.name].type, suffix, new))
        return new

    def step(self, state: int) -> _Step:
        """The word and slot edges of every state the empty edges reach from `state` (computed once per state)."""
        step = self._steps.get(state)
        if step is not None:
            return step
        seen, todo = {state}, [state]
        while todo:
            s = todo.pop()
            for t in self._empty[s]:
                if t not in seen:
                    seen.add(t)
                    todo.append(t)
        words: dict[str, list[int]] = {}
        slots: list[tuple[str, str, str, int]] = []
        accepts: list[str] = []
        for s in seen:
            for word, targets in self._words[s].items():
                words.setdefault(word, []).extend(targets)
            slots.extend(self._slots[s])
            if s in self._accepts:
                accepts.append(self._accepts[s])
        step = _Step(words, slots, accepts)
        self._steps[state] = step
        return step

    @property
    def lists(self) -> dict[str, dict]:
        """Each list type's word trie: a word to the next node; `VALUE` to the canonical value its words say."""
        return self._lists

    @property
    def vocabulary(self) -> list[str]:
        """Every literal word of the templates."""
        return self._vocabulary

    def slot_types(self) -> set[str]:
        """The types of the slots the templates take."""
        return {type_name for edges in self._slots for _, type_name, _, _ in edges}

    # --- matching -------------------------------------------------------------------------

    def match(self, text: str, open_lists: bool = False, hesitations: bool = False) -> list[Match]:
        """The interpretations of `text`: none, one, or several when it is ambiguous.

        A reading that says less than another of the same intent is dropped ("the house" as words of the
        template, or as the value `house` of `{room}`: the value is kept). With `open_lists`, a list slot may
        also take words its list does not hold ("we're out of hummus"): the sentence's shape is the
        template's, the value is new.
        With `hesitations`, "uh" and "um" are passed over (what a recogniser writes of a speaker's pause),
        not read as words of a slot.
        """
        found = self.readings(text, open_lists, hesitations)
        facts = [{(b.slot, repr(b.value)) for b in m.bindings} for m in found]
        return [m for i, m in enumerate(found)
                if not any(j != i and o.intent == m.intent and facts[i] < facts[j] for j, o in enumerate(found))]

    def readings(self, text: str, open_lists: bool = False, hesitations: bool = False) -> list[Match]:
        """Every distinct interpretation of `text` by the templates (see `match`)."""
        words = [w for w in tokens(text) if not (hesitations and w.text.lower() in HESITATIONS)]
        if not words or len(words) > MAX_WORDS:
            return []
        said = [w.text for w in words]
        n = len(said)
        spans: dict[tuple[str, str, int], list[tuple[int, Any]]] = {}
        chart: list[set[tuple[int, tuple[Binding, ...]]]] = [set() for _ in range(n + 1)]
        chart[0].add((self.start, ()))
        found: dict[tuple, Match] = {}
        for i in range(n + 1):
            if len(chart[i]) > MAX_READINGS:
                return []
            for state, bound in chart[i]:
                step = self.step(state)
                if i == n:
                    for intent in step.accepts:
                        match = Match(intent, bound, tuple(words))
                        found.setdefault(match.key, match)
                    continue
                for target in step.words.get(said[i], ()):
                    chart[i + 1].add((target, bound))
                for slot, type_name, suffix, target in step.slots:
                    key = (type_name, suffix, i)
                    if key not in spans:
                        spans[key] = [(j, v, False) for j, v in self._spans(type_name, suffix, said, i)]
                        if open_lists and type_name in self._lists and not suffix:
                            known = {j for j, _, _ in spans[key]}
                            spans[key] += [(j, None, True) for j in range(i + 1, min(n, i + OPEN_SPAN) + 1) if j not in known]
                    for j, value, new in spans[key]:
                        chart[j].add((target, bound + (Binding(slot, type_name, i, j, value, open=new),)))
        return list(found.values())

    def repair(self, text: str) -> list[Match]:
        """Readings of `text` as a near miss of the templates, cheapest first, one per meaning (see the module)."""
        words = tokens(text)
        if not words or len(words) > MAX_WORDS:
            return []
        said = [w.text for w in words]
        n = len(said)
        alike = {u: self._alike(u) for u in set(said)}
        spans: dict[tuple[str, str, int], list[tuple[int, Any, float]]] = {}
        # chart[i]: (state, bindings) -> (cost, edits, words meant), the cheapest way found to it
        chart: list[dict[tuple[int, tuple[Binding, ...]], tuple[float, tuple[str, ...], tuple[str, ...]]]] = [{} for _ in range(n + 1)]

        def reach(i: int, state: int, bound: tuple[Binding, ...], cost: float, edits: tuple[str, ...], meant: tuple[str, ...]) -> bool:
            if cost > MAX_COST + 1e-9:
                return False
            old = chart[i].get((state, bound))
            if old is not None and old[0] <= cost:
                return False
            chart[i][(state, bound)] = (cost, edits, meant)
            return True

        reach(0, self.start, (), 0.0, (), ())
        found: dict[tuple, Match] = {}
        for i in range(n + 1):
            # Missing small words first (not before the first word said): they lead to more readings at this
            # same position, cheapest first.
            heap = [(cost, k, state, bound, edits, meant) for k, ((state, bound), (cost, edits, meant)) in enumerate(chart[i].items())] if i else []
            heapq.heapify(heap)
            counter = len(heap)
            while heap:
                cost, _, state, bound, edits, meant = heapq.heappop(heap)
                if chart[i].get((state, bound), (None,))[0] != cost:
                    continue
                for word, targets in self.step(state).words.items():
                    if word in SMALL_WORDS:
                        for target in targets:
                            if reach(i, target, bound, cost + MISSING, edits + (f"+{word}",), meant + (word,)):
                                counter += 1
                                heapq.heappush(heap, (cost + MISSING, counter, target, bound, edits + (f"+{word}",), meant + (word,)))
            if len(chart[i]) > MAX_READINGS:
                kept = sorted(chart[i].items(), key=lambda item: item[1][0])[:MAX_READINGS]
                chart[i] = dict(kept)
            for (state, bound), (cost, edits, meant) in list(chart[i].items()):
                step = self.step(state)
                if i == n:
                    for intent in step.accepts:
                        match = Match(intent, bound, tuple(words), round(cost, 4), edits, meant)
                        if match.key not in found or found[match.key].cost > match.cost:
                            found[match.key] = match
                    continue
                u = said[i]
                for target in step.words.get(u, ()):
                    reach(i + 1, target, bound, cost, edits, meant + (u,))
                for w, sim in alike[u]:
                    for target in step.words.get(w, ()):
                        reach(i + 1, target, bound, cost + max(0.15, 1.0 - sim), edits + (f"{u}->{w}",), meant + (w,))
                reach(i + 1, state, bound, cost + (FILLER if u in FILLERS else EXTRA), edits + (f"-{u}",), meant)
                for slot, type_name, suffix, target in step.slots:
                    key = (type_name, suffix, i)
                    if key not in spans:
                        spans[key] = [(j, v, 0.0, tuple(said[i:j])) for j, v in self._spans(type_name, suffix, said, i)] \
                            + self._near_spans(type_name, said, i)
                    for j, value, extra, spoken in spans[key]:
                        binding = Binding(slot, type_name, i, j, value, fuzzy=extra > 0)
                        note = (f"{' '.join(said[i:j])}~{value}",) if extra > 0 else ()
                        reach(j, target, bound + (binding,), cost + extra, edits + note, meant + spoken)
        readings = sorted(found.values(), key=lambda m: m.cost)
        return readings

    def _alike(self, word: str) -> list[tuple[str, float]]:
        """Words of the templates that `word` may stand for, with their similarity (the word itself left out)."""
        scores: dict[str, float] = {}
        for query, choices in ((word, self._vocabulary), (code(word), self._codes)):
            if len(query) < 2:
                continue
            for _, _, index in process.extract(query, choices, scorer=Levenshtein.normalized_similarity, score_cutoff=CLOSE, limit=None):
                candidate = self._vocabulary[index]
                if candidate != word and not (candidate in ACTION_WORDS and word in ACTION_WORDS):
                    scores[candidate] = similarity(word, candidate)
        return [(w, s) for w, s in scores.items() if s >= CLOSE]

    def _near_spans(self, type_name: str, said: list[str], i: int, longest: int = 4) -> list[tuple[int, Any, float, tuple[str, ...]]]:
        """(end, value, cost, words meant) of spans at `i` close to a value of a list but none of its spellings
        ("light rose"), or that a built-in type reads once a word or two is put right ("five minuets")."""
        surfaces = self._surfaces.get(type_name)
        if not surfaces:
            return self._near_builtin(type_name, said, i) if type_name in BUILTINS and type_name != "text" else []
        prepared, values = self._phrases[type_name]
        out = []
        for j in range(i + 1, min(len(said), i + longest) + 1):
            phrase = " ".join(said[i:j])
            if phrase in surfaces:
                continue
            scores = similarities(phrase, prepared)
            best = float(scores.max())
            # the best-scoring surface (ties: the greatest value, then surface), and the best of another value
            k = max(np.flatnonzero(scores == best), key=lambda k: (surfaces[prepared.texts[k]], prepared.texts[k]))
            runner_up = float(scores[values != values[k]].max(initial=0.0))
            if best >= 0.75 and best - runner_up >= 0.08:
                out.append((j, surfaces[prepared.texts[k]], round(1.0 - best, 4) + 0.1, tuple(prepared.texts[k].split())))
        return out

    def _near_builtin(self, type_name: str, said: list[str], i: int) -> list[tuple[int, Any, float, tuple[str, ...]]]:
        exact = BUILTINS[type_name].exact
        out, fixed, cost = [], [], 0.0
        for j in range(i, min(len(said), i + MAX_SPAN)):
            word = said[j]
            if word not in WORDS and not word[:1].isdigit():
                found = _builtin_word(word)
                if found is None or cost + max(0.15, 1.0 - found[1]) > 1.0:
                    break
                cost += max(0.15, 1.0 - found[1])
                word = found[0]
            fixed.append(word)
            if cost and (value := exact(" ".join(fixed))) is not None:
                out.append((j + 1, value, round(cost, 4), tuple(fixed)))
        return out

    def _spans(self, type_name: str, suffix: str, said: list[str], i: int) -> list[tuple[int, Any]]:
        """(end, value) of every span starting at word `i` that a slot of this type takes whole (its last word
        ending in `suffix` when one is glued to it)."""
        trie = self._lists.get(type_name)
        if trie is not None:
            out, node = [], trie
            for j in range(i, len(said)):
                if suffix and said[j].endswith(suffix):
                    last = node.get(said[j][: -len(suffix)])
                    if last is not None and VALUE in last:
                        out.append((j + 1, last[VALUE]))
                node = node.get(said[j])
                if node is None:
                    break
                if VALUE in node and not suffix:
                    out.append((j + 1, node[VALUE]))
            return out
        builtin = BUILTINS.get(type_name)
        if builtin is None or suffix or type_name != "text" and said[i].split("-")[0] not in WORDS and not said[i][:1].isdigit():
            return []  # a number, a duration, a time starts with a digit or a word the built-in types know
        out = []
        for j in range(i + 1, min(len(said), i + MAX_SPAN) + 1):
            value = builtin.exact(" ".join(said[i:j]))
            if value is not None:
                out.append((j, value))
        return out


def _split_suffix(spelling: tuple[Node, ...]) -> tuple[str, tuple[Node, ...]]:
    """The letters a spelling starts with (a suffix of the word before it, "'s") and the rest of it."""
    first = spelling[0] if spelling else None
    if not isinstance(first, Text) or not first.text or first.text[0].isspace():
        return "", spelling
    head = first.text.split(maxsplit=1)[0]
    rest = first.text[len(head):]
    return head.lower().replace("’", "'"), ((Text(rest),) if rest else ()) + spelling[1:]


VALUE = object()
"""Key of a trie node (`Grammar.lists`) holding the canonical value of the words that lead to it."""


def _trie(values) -> dict:
    """Word trie of every value and synonym of a list, each ending at its canonical value."""
    root: dict = {}
    for value in values:
        for surface in [value.value, *value.synonyms]:
            node = root
            for word in tokens(surface):
                node = node.setdefault(word.text, {})
            if node is not root:
                node.setdefault(VALUE, value.value)
    return root


def _surfaces(values) -> dict[str, str]:
    """Every value and synonym of a list as its words joined, to its canonical value."""
    out: dict[str, str] = {}
    for value in values:
        for surface in [value.value, *value.synonyms]:
            words = " ".join(w.text for w in tokens(surface))
            if words:
                out.setdefault(words, value.value)
    return out


def _phrases(surfaces: dict[str, str]) -> tuple[Phrases, np.ndarray]:
    """A list's surfaces prepared for `similarities`, and the number of each one's value (equal values, equal numbers)."""
    numbers: dict[str, int] = {}
    return Phrases(surfaces), np.array([numbers.setdefault(value, len(numbers)) for value in surfaces.values()], dtype=np.int64)


_BUILTIN_WORDS = sorted(WORDS)


@lru_cache(maxsize=8192)
def _builtin_word(word: str) -> tuple[str, float] | None:
    """The number or time word a misspelt one stands for ("minuets": "minutes"), and how alike they are; None when
    none is close. Cached: one search asks it of the same word at every position a built-in slot may start."""
    found = process.extractOne(word, _BUILTIN_WORDS, scorer=similarity_scorer, score_cutoff=CLOSE)
    return None if found is None else (found[0], found[1])


def similarity_scorer(a: str, b: str, **_) -> float:
    """`sounds.similarity` as a rapidfuzz scorer."""
    return similarity(a, b)
