"""Text in, `ParseResult` out: the one place utterances are understood.

A sentence the domain's templates say is answered by the grammar
(`intents.match`), exactly and without running the model; the int8 ONNX
model answers everything else, and picks the intent when the templates of
several intents say the sentence. The model runs with onnxruntime and the
`tokenizers` library only; importing this module never imports torch or
transformers, so the runtime install stays small and starts fast.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from assistant.intents.example import Example, spans_of
from assistant.intents.match import ACTION_WORDS, MARGIN, Grammar, Match, most_specific
from assistant.intents.resolve import resolution
from assistant.intents.schema import Domain
from assistant.nlu import bundle, guard, scope
from assistant.nlu.decode import Transitions, decode_batch, softmax
from assistant.nlu.errors import ModelLoadError
from assistant.nlu.features import Batch, featurize, load_tokenizer
from assistant.nlu.metrics import Metrics, score, scope_metrics
from assistant.nlu.result import Entity, IntentScore, ParseResult, Repair
from assistant.nlu.scope import Scope
from assistant.text import Word, split_words, tokens

log = logging.getLogger(__name__)

MAX_WORDS = 120
"""Words read from one utterance; the rest would not fit the encoder's window anyway."""
RANKING = 10


@dataclass
class Raw:
    """Model outputs for a batch, before they become results."""

    logits: np.ndarray  # (batch, intents)
    probs: np.ndarray  # (batch, intents), calibrated when the model has a scope
    oos_scores: np.ndarray | None  # (batch,), None for models without a scope
    paths: list[list[int]]  # tag ids per tagged word
    tag_probs: list[list[float]]
    pooled: np.ndarray  # (batch, hidden) sentence vectors

    @staticmethod
    def decode(logits: np.ndarray, tag_scores: np.ndarray, pooled: np.ndarray, batch: Batch, rules: Transitions,
               calibration: Scope | None = None) -> Raw:
        """The network's three outputs (from onnxruntime or torch) decoded: tag paths, and probabilities calibrated
        and scored for scope by `calibration` when the model has one."""
        _, paths, tag_probs = decode_batch(logits, tag_scores, batch, rules)
        if calibration is not None:
            probs, oos = calibration.score(logits, pooled)
        else:
            probs, oos = softmax(logits.astype(np.float32)), None
        return Raw(logits, probs, oos, paths, tag_probs, pooled)

    @staticmethod
    def concat(raws: list[Raw], n_intents: int) -> Raw:
        if not raws:
            return Raw(np.zeros((0, n_intents)), np.zeros((0, n_intents)), None, [], [], np.zeros((0, 0)))
        return Raw(
            logits=np.concatenate([r.logits for r in raws]),
            probs=np.concatenate([r.probs for r in raws]),
            oos_scores=None if raws[0].oos_scores is None else np.concatenate([r.oos_scores for r in raws]),
            paths=[p for r in raws for p in r.paths],
            tag_probs=[p for r in raws for p in r.tag_probs],
            pooled=np.concatenate([r.pooled for r in raws]),
        )

    def take(self, order) -> Raw:
        """The rows in `order`."""
        order = np.asarray(order, dtype=np.int64)
        return Raw(self.logits[order], self.probs[order], None if self.oos_scores is None else self.oos_scores[order],
                   [self.paths[i] for i in order], [self.tag_probs[i] for i in order], self.pooled[order])


@dataclass
class Pending:
    """An utterance the grammar did not answer alone (`Parser.prepare`), for the model to finish (`Parser.finish`)."""

    text: str
    words: list[Word]
    readings: list[Match]
    """Readings of several intents' templates, for the model to choose among; empty: the model decides alone."""


def outputs(run: Callable[[list[list[str]]], Raw], utterances: list[list[str]], n_intents: int, batch_size: int = 64) -> Raw:
    """`run` over batches of similar length (little padding), as one `Raw` in the order of `utterances`.

    `run` is `Parser.run` at runtime, and the torch model during training, so both are scored the same way.
    """
    order = sorted(range(len(utterances)), key=lambda i: len(utterances[i]))
    raws = [run([utterances[i] for i in order[start : start + batch_size]]) for start in range(0, len(order), batch_size)]
    return Raw.concat(raws, n_intents).take(np.argsort(order))


def decide(raw: Raw, labels: bundle.Labels, lengths: list[int], accepted: np.ndarray | None = None) -> tuple[list[str], list[list[str]]]:
    """Intent names and a tag per word from model outputs, as `parse` decides them.

    An utterance not `accepted` (out of scope) is predicted as `out_of_scope` with no slots; words past the
    encoder's window are `O`.
    """
    intents, tags = [], []
    for k, length in enumerate(lengths):
        if accepted is None or accepted[k]:
            intents.append(labels.intents[int(raw.probs[k].argmax())])
            tags.append([labels.tags[t] for t in raw.paths[k]] + ["O"] * (length - len(raw.paths[k])))
        else:
            intents.append(scope.OUT_OF_SCOPE)
            tags.append(["O"] * length)
    return intents, tags


class Parser:
    """A loaded model folder. Thread-safe: onnxruntime sessions may be run concurrently.

    A link to a folder (the store's `current`) is resolved once, first: every
    file is read from the same version, and `version` names the one loaded even
    after the link moves on.
    """

    def __init__(self, folder: Path | str | None = None, onnx_file: str = bundle.ONNX_INT8, threads: int | None = None,
                 threshold: float | None = None, repair: bool = False):
        """`folder`: a model folder; none: the model the configuration names (config.toml's `nlu.model`, else the
        current version of `nlu.models`), with its threads, out-of-scope threshold and `repair`."""
        import onnxruntime as ort

        if folder is None:  # no training here: a library call should not spend minutes on it
            from assistant.config import load_settings

            settings = load_settings()
            folder = settings.model_folder()
            if not folder.exists():
                raise ModelLoadError(f"no model at {folder}: train one with `assistant train {settings.path(settings.nlu.intents)}`, "
                                     f"or give Parser a model folder")
            threads = threads or settings.nlu.threads or None
            threshold = threshold if threshold is not None else settings.nlu.oos_threshold
            repair = repair or settings.nlu.repair
        self.folder = Path(folder).resolve()
        self.metadata, self.labels = bundle.check_folder(self.folder)
        _one_blas_thread()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(self.folder / onnx_file), options, providers=["CPUExecutionProvider"])
            self.tokenizer = load_tokenizer(self.folder / bundle.TOKENIZER)
            self.domain = Domain.model_validate_json((self.folder / bundle.DOMAIN).read_bytes())
            self.scope = scope.load(self.folder, self.labels.scope) if self.labels.scope else None
        except Exception as e:  # onnxruntime, tokenizers and numpy raise their own types for corrupt files
            raise ModelLoadError(f"{self.folder}: cannot load: {str(e).splitlines()[0]}") from None
        self.rules = Transitions(self.labels.start, self.labels.transitions, self.labels.end)
        self._check_outputs()
        self.grammar = Grammar(self.domain)
        self._reports = any(i.reports or i.fixed or any(s.reports or s.multiplier for s in i.slots.values())
                            for i in self.domain.intents.values()) or any(t.numbers for t in self.domain.slot_types.values())
        """The domain renames what it reports (Home Assistant's): results pass through `_reported`."""
        self.threshold = threshold
        """Out-of-scope threshold overriding the model's own (config); a request may override both."""
        self.repair = repair
        """Whether a parse repairs near misses of the templates unless told (config `nlu.repair`): typed text from a
        chat window has typos as speech has misheard words; a request may say otherwise."""
        self._in_scope = np.array([name != scope.OUT_OF_SCOPE for name in self.labels.intents])
        self._vocabulary = guard.vocabularies(self.domain)
        """Each intent's words, for `guard.action_conflict`."""

    def _check_outputs(self) -> None:
        """Run one utterance: a graph whose outputs disagree with `labels.json` (a folder put together by hand)
        must fail here, where a load is refused and the old model keeps serving, not on every later parse."""
        batch = featurize(self.tokenizer, [["check"]], word_pool=self.labels.word_pool)
        try:
            logits, scores, _ = self.session.run(None, {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask})
        except Exception as e:  # onnxruntime's own error types
            raise ModelLoadError(f"{self.folder}: the model graph does not run: {str(e).splitlines()[0]}") from None
        intents, tags = len(self.labels.intents), len(self.labels.tags)
        if logits.shape[-1] != intents or scores.shape[-1] != tags or len(self.rules.start) != tags:
            raise ModelLoadError(f"{self.folder}: {bundle.LABELS} names {intents} intents and {tags} tags, but the graph outputs "
                                 f"{logits.shape[-1]} intents and {scores.shape[-1]} tags: the folder's files do not belong together")

    @property
    def version(self) -> str:
        """The name of the model folder loaded (the store's version name)."""
        return self.folder.name

    def run(self, utterances: list[list[str]], encodings: list | None = None) -> Raw:
        """Model outputs for pre-split utterances (`encodings`: their sub-tokens, when already made)."""
        batch = featurize(self.tokenizer, utterances, encodings, self.labels.word_pool)
        logits, scores, pooled = self.session.run(None, {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask})
        return Raw.decode(logits, scores, pooled, batch, self.rules, self.scope)

    def parse(self, text: str, threshold: float | None = None, repair: bool | None = None) -> ParseResult:
        return self.parse_batch([text], threshold=threshold, repair=repair)[0]

    def parse_batch(self, texts: list[str], batch_size: int = 32, threshold: float | None = None, repair: bool | None = None,
                    grammar: bool = True) -> list[ParseResult]:
        """Parse many utterances: the grammar answers what it can (`prepare`), the model the rest together (`finish`).

        `repair` also matches near misses of the templates (`Grammar.repair`): what speech recognition gets
        nearly right, and typos ("whats the wether in paris tomorow"). Typed text is matched exactly unless the
        caller asks (None: as the parser was made, `self.repair`). `grammar=False` leaves everything to the model
        (benchmarks measure it alone).
        """
        prepared = []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"utterance {i} is {type(text).__name__}, not text")
            prepared.append(self.prepare(text, repair, grammar))
        finished = iter(self.finish([p for p in prepared if isinstance(p, Pending)], threshold, batch_size))
        return [next(finished) if isinstance(p, Pending) else p for p in prepared]

    def prepare(self, text: str, repair: bool | None = None, grammar: bool = True) -> ParseResult | Pending:
        """The grammar's part of a parse: the result when the templates say `text` (or nearly, with `repair`) in
        one way, else what the model needs to finish it. Cheap and lock-free: servers call it in the request's
        own thread and gather only the `Pending` ones into a batch (`nlu.batching`)."""
        words = split_words(text)
        if not words:
            return self._finished(ParseResult(text=text, intent=None, in_scope=False, warnings=["empty input: no words to understand"]))
        repair = self.repair if repair is None else repair
        found = self._meanings(most_specific(self.grammar.match(text, hesitations=repair))) if grammar else []
        if len(found) == 1:
            return self._finished(self._grammar_result(text, found[0]))
        if not found and repair and grammar:
            near = self.grammar.repair(text)
            if near and not any(self._meaning(m) != self._meaning(near[0]) and m.cost < near[0].cost + MARGIN for m in near[1:]) \
                    and stretched(near[0]) is None:
                return self._finished(self._guarded(self._grammar_result(text, near[0])))
        # The templates of several intents say it: the model picks one of them.
        readings = found if len(found) > 1 and len({m.intent for m in found}) == len(found) else []
        return Pending(text, words, readings)

    def finish(self, pending: list[Pending], threshold: float | None = None, batch_size: int = 32) -> list[ParseResult]:
        """The model's part: results for `pending` utterances, in their order, run in batches of similar length in
        sub-tokens (padding is most of what a badly sorted batch costs)."""
        words = [[w.text for w in p.words[:MAX_WORDS]] for p in pending]
        encodings = self.tokenizer.encode_batch(words, is_pretokenized=True) if words else []
        order = sorted(range(len(pending)), key=lambda j: len(encodings[j].ids))
        results: list[ParseResult | None] = [None] * len(pending)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            raw = self.run([words[j] for j in chunk], [encodings[j] for j in chunk])
            accepted = self.accepted(raw, threshold)
            for k, j in enumerate(chunk):
                p = pending[j]
                result = (self._pick(p.text, p.readings, raw, k) if p.readings
                          else self._result(p.text, p.words, raw, k, bool(accepted[k]), threshold))
                results[j] = self._finished(result)
        return results  # type: ignore[return-value]

    def _finished(self, result: ParseResult) -> ParseResult:
        return self._reported(result) if self._reports else result

    def _meaning(self, match: Match) -> tuple:
        """What a reading means as results report it: two internal intents of one reported intent (Home
        Assistant's data blocks) with the same fixed slots and values mean the same."""
        intent = self.domain.intents.get(match.intent)
        if intent is None or not self._reports:
            return match.key
        slots = intent.slots
        return (intent.reports or intent.name, tuple(sorted(intent.fixed.items())),
                tuple(sorted(((slots[b.slot].reports if b.slot in slots else None) or b.slot, repr(b.value)) for b in match.bindings)))

    def _meanings(self, readings: list[Match]) -> list[Match]:
        """One reading per meaning (`_meaning`), the first of each."""
        if len(readings) < 2 or not self._reports:
            return readings
        return list({self._meaning(m): m for m in reversed(readings)}.values())[::-1]

    def _reported(self, result: ParseResult) -> ParseResult:
        """A result in the names its domain reports (`Intent.reports`, `Slot.reports`), with fixed slots added and
        multipliers applied: one intent of several internal ones (Home Assistant's `HassTurnOn#2`) has the
        confidence of them all."""
        intents = self.domain.intents
        ranking: dict[str, float] = {}
        for scored in result.intent_ranking:
            name = intents[scored.name].reports or scored.name if scored.name in intents else scored.name
            ranking[name] = ranking.get(name, 0.0) + scored.confidence
        update: dict = {"intent_ranking": [IntentScore(name=n, confidence=round(min(c, 1.0), 4))
                                           for n, c in sorted(ranking.items(), key=lambda item: -item[1])]}
        intent = intents.get(result.intent.name) if result.intent else None
        if intent is not None:
            name = intent.reports or intent.name
            update["intent"] = IntentScore(name=name, confidence=round(min(max(ranking.get(name, 0.0), result.intent.confidence), 1.0), 4))
            entities = []
            for e in result.entities:
                slot = intent.slots.get(e.slot)
                value = e.value
                kind = self.domain.slot_types.get(slot.type) if slot is not None else None
                if kind is not None and kind.numbers and isinstance(value, str):
                    value = _number(value)
                if slot is not None and slot.multiplier is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
                    value = value * slot.multiplier
                    value = int(value) if float(value).is_integer() else value
                entities.append(e.model_copy(update={"slot": slot.reports or e.slot if slot else e.slot, "value": value}))
            entities += [Entity(slot=k, type="fixed", text="", start=0, end=0, value=v, confidence=result.intent.confidence, match="fixed")
                         for k, v in intent.fixed.items() if k not in {e.slot for e in entities}]
            update["entities"] = entities
        return result.model_copy(update=update)

    def _grammar_result(self, text: str, match: Match, ranking: list[IntentScore] | None = None, **fields) -> ParseResult:
        """A sentence of the templates (or a near miss of one): its intent, and its slots as the grammar bound them."""
        entities = []
        for b in match.bindings:
            start, end = match.words[b.start].start, match.words[b.end - 1].end
            value = text[start:end] if b.type == "text" or b.open else b.value
            how = "text" if b.type == "text" or b.open else "fuzzy" if b.fuzzy else "exact"
            entities.append(Entity(slot=b.slot, type=b.type, text=text[start:end], start=start, end=end, value=value,
                                   confidence=match.confidence, match=how))
        intent = IntentScore(name=match.intent, confidence=match.confidence)
        if ranking is None:  # the grammar is sure: the others, in the model's order of labels, at 0
            ranking = [intent] + [IntentScore(name=n, confidence=0.0) for n, inside in zip(self.labels.intents, self._in_scope)
                                  if inside and n != match.intent][: RANKING - 1]
        repair = Repair(cost=match.cost, edits=list(match.edits), sentence=" ".join(match.meant)) if match.edits else None
        return ParseResult(text=text, intent=fields.pop("intent", intent), intent_ranking=ranking, entities=entities,
                           in_scope=True, source="grammar", repair=repair, **fields)

    def _pick(self, text: str, readings: list[Match], raw: Raw, k: int) -> ParseResult:
        """The reading whose intent the model finds likeliest: among the intents whose templates say the sentence
        (flagged ambiguous when there are several), or of the one whose template says it with a new value."""
        index = {name: j for j, name in enumerate(self.labels.intents)}
        probs = raw.probs[k]
        best = max(readings, key=lambda m: probs[index[m.intent]] if m.intent in index else -1.0)
        confidence = float(probs[index[best.intent]]) if best.intent in index else 0.0
        return self._grammar_result(text, best, self._ranking(probs), intent=IntentScore(name=best.intent, confidence=round(confidence, 4)),
                                    ambiguous=len(readings) > 1, oos_score=_round(None if raw.oos_scores is None else float(raw.oos_scores[k])))

    def _ranking(self, probs: np.ndarray) -> list[IntentScore]:
        candidates = np.flatnonzero(self._in_scope)
        order = candidates[np.argsort(-probs[candidates])][:RANKING]
        return [IntentScore(name=self.labels.intents[j], confidence=round(float(probs[j]), 4)) for j in order]

    def _threshold(self, override: float | None) -> float | None:
        if override is not None:
            return override
        if self.threshold is not None:
            return self.threshold
        return self.scope.params.threshold if self.scope else None

    def accepted(self, raw: Raw, threshold: float | None = None) -> np.ndarray:
        """Which utterances are in scope: with the model's own threshold, the top intent is not the trained
        `out_of_scope` class and the out-of-scope score is within the threshold. A threshold set in config or
        per request is the whole rule: higher accepts more, whatever class wins (the best in-scope intent answers)."""
        limit = self._threshold(threshold)
        if raw.oos_scores is not None and limit is not None and (threshold is not None or self.threshold is not None):
            return raw.oos_scores <= limit
        accepted = self._in_scope[raw.probs.argmax(1)]
        if raw.oos_scores is not None and limit is not None:
            accepted = accepted & (raw.oos_scores <= limit)
        return accepted

    def _result(self, text: str, words: list[Word], raw: Raw, k: int, in_scope: bool, threshold: float | None = None) -> ParseResult:
        """The model's answer: the ranking, and when in scope the top intent with the tagged slots that fit it."""
        ranking = self._ranking(raw.probs[k])
        oos_score = None if raw.oos_scores is None else float(raw.oos_scores[k])
        warnings = []
        path = raw.paths[k]
        if len(path) < len(words):
            warnings.append(f"input truncated: only the first {len(path)} of {len(words)} words were read")
        if not in_scope or not ranking:
            own_rule = threshold is None and self.threshold is None
            rejected_by = "out_of_scope_class" if own_rule and not self._in_scope[int(raw.probs[k].argmax())] else "threshold"
            return ParseResult(text=text, intent=None, intent_ranking=ranking, in_scope=False, oos_score=_round(oos_score), warnings=warnings,
                               source="model", rejected_by=rejected_by if ranking else None)
        intent = ranking[0]
        margin = self.scope.params.ambiguity_margin if self.scope else 0.15
        ambiguous = len(ranking) > 1 and ranking[0].confidence - ranking[1].confidence < margin
        if ambiguous:  # torn between two intents: the one whose template says the sentence with a new value settles it
            shaped = self._shaped(text, {ranking[0].name, ranking[1].name})
            if shaped is not None:
                chosen = next(s for s in ranking if s.name == shaped.intent)
                return self._guarded(self._grammar_result(text, shaped, ranking, intent=chosen, ambiguous=True,
                                                          oos_score=_round(oos_score), warnings=warnings))
        tags = [self.labels.tags[t] for t in path]
        entities = []
        for slot, first, last in spans_of(tags):
            start, end = words[first].start, words[last - 1].end
            raw_text = text[start:end]
            slot = self._fitting_slot(intent.name, slot, raw_text, {e.slot for e in entities})
            if slot is None:
                continue
            found = resolution(self.domain, intent.name, slot, raw_text)
            confidence = float(np.mean(raw.tag_probs[k][first:last]))
            entities.append(Entity(slot=slot, type=found.type, text=raw_text, start=start, end=end, value=found.value,
                                   confidence=round(confidence, 4), match=found.match))
        return self._guarded(ParseResult(text=text, intent=intent, intent_ranking=ranking, entities=entities, in_scope=True,
                                         oos_score=_round(oos_score), ambiguous=ambiguous, warnings=warnings, source="model"))

    def _guarded(self, result: ParseResult) -> ParseResult:
        """`result` (the model's answer, or a near miss put right), declined when its words do not ask for its intent's
        action (`guard`): an action word against the intent's, or a sentence that is negated, reported, hypothetical,
        about words or a remark. The ranking stays, so a client sees what it was nearly taken for."""
        if result.intent is None:
            return result
        why = guard.action_conflict(self._vocabulary, result.intent.name, result.text)
        rejected_by = "action_conflict"
        if why is None:
            names = [(e.start, e.end) for e in result.entities if e.text and e.type in self.domain.slot_types]  # a list's values
            why = guard.not_a_request(result.text, names)
            rejected_by = "not_a_request"
        if why is None:
            return result
        return result.model_copy(update={"intent": None, "entities": [], "in_scope": False, "rejected_by": rejected_by,
                                         "warnings": [*result.warnings, f"not acted on: {why}"]})

    def _shaped(self, text: str, intents: set[str]) -> Match | None:
        """The reading of exactly one of `intents` whose template says `text` with list values their lists lack
        ("we're out of {item}": "hummus"), the one taking the fewest new words; None unless exactly one intent has one."""
        found = [m for m in self.grammar.match(text, open_lists=True) if m.intent in intents]
        if len({m.intent for m in found}) != 1:
            return None
        return min(found, key=lambda m: sum(b.end - b.start for b in m.bindings if b.open))

    def _fitting_slot(self, intent: str, slot: str, text: str, taken: set[str]) -> str | None:
        """The slot of `intent` that tagged words fill: a slot the intent does not declare is never reported, and
        words that are a value of another declared slot's list (not of their own) move to that slot; None: drop them."""
        declared = self.domain.intents[intent].slots if intent in self.domain.intents else None
        if not declared:
            return slot
        lookup = self.domain.lookup
        own = declared.get(slot)
        if own is not None and (own.type not in self.domain.slot_types or lookup.list_value(own.type, text) is not None):
            return slot
        for name, other in declared.items():
            if name != slot and name not in taken and other.type in self.domain.slot_types and lookup.list_value(other.type, text) is not None:
                return name
        return slot if own is not None else None

    def outputs(self, examples: list[Example], batch_size: int = 64) -> Raw:
        """Model outputs for examples whose words are given, in their order, as one `Raw`."""
        return outputs(self.run, [e.tokens for e in examples], len(self.labels.intents), batch_size)

    def predict(self, examples: list[Example], raw: Raw, reject: bool = True, threshold: float | None = None) -> tuple[list[str], list[list[str]]]:
        """Intents and tags from `outputs(examples)`, as `parse` would decide them.

        With `reject`, an utterance judged out of scope is predicted as
        `out_of_scope` with no slots; without, every utterance keeps its top intent.
        """
        return decide(raw, self.labels, [len(e.tokens) for e in examples], self.accepted(raw, threshold) if reject else None)

    def evaluate(self, examples: list[Example], reject: bool = True, threshold: float | None = None, raw: Raw | None = None) -> Metrics:
        """Score the model on labelled examples (benchmark datasets keep their own tokenisation).

        Pass `raw` (from `outputs`) to score the same outputs several ways without running the model again.
        """
        raw = self.outputs(examples) if raw is None else raw
        intents, tags = self.predict(examples, raw, reject=reject, threshold=threshold)
        metrics = score([e.intent for e in examples], [e.tags for e in examples], intents, tags)
        if examples:
            top = [self.labels.intents[i] for i in raw.probs.argmax(1)]
            metrics.scope = scope_metrics([e.intent for e in examples], intents, top, raw.probs.max(1), raw.oos_scores)
        return metrics


def stretched(match: Match) -> str | None:
    """Why a near miss put right says more than was said, or None: a repair mends misheard and misspelt words; it
    may not pass over a word that negates or names an action ("don't", "stop"), nor take one into a slot's value
    ("living room warmer" for the lamp "Living Room Lamp")."""
    for edit in match.edits:
        if edit.startswith("-"):
            word = edit[1:]
            if word in guard.NEGATORS or word in guard.OPPOSITE or word in ACTION_WORDS:
                return f"it passes over \"{word}\""
        elif "~" in edit:
            heard, _, value = edit.partition("~")
            kept = {w.text for w in tokens(value)}
            taken = [w.text for w in tokens(heard) if (w.text in guard.OPPOSITE or w.text in ACTION_WORDS) and w.text not in kept]
            if taken:
                return f"it reads \"{taken[0]}\" as part of {value}"
    return None


@functools.cache
def _one_blas_thread() -> None:
    """Keep numpy's BLAS to one thread in this process (once). Its only work here is small matrix products
    (the scope's whitening, a batch x 384 x 384 at most), which OpenBLAS would spread over every core and then
    spin-wait on: measured, that nearly doubled the CPU time of a corpus parse (10 s of work, 19 s of CPU) and
    took the cores from the server's other workers."""
    threadpool_limits(1, user_api="blas")


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _number(text: str):
    """A list value that is a number ("100"), as one; other text as it is."""
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() else value
