"""Scores of predictions against gold examples, with conlleval semantics.

A slot counts only with its exact span and type (as conlleval and seqeval
count it); a sentence counts only when its intent and every tag are right.
These are the figures JointBERT reports, so ours compare directly.
"""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel

from assistant.intents.example import spans_of


class Score(BaseModel):
    precision: float
    recall: float
    f1: float
    support: int


class Metrics(BaseModel):
    """Figures in percent."""

    n: int
    intent_acc: float
    slot_f1: float
    slot_precision: float
    slot_recall: float
    sentence_acc: float
    per_intent: dict[str, Score]
    per_slot: dict[str, Score]
    confusion: dict[str, dict[str, int]]
    """gold intent -> predicted intent -> count (zero cells left out)."""


def _score(tp: int, n_pred: int, n_gold: int) -> Score:
    p = 100.0 * tp / n_pred if n_pred else 0.0
    r = 100.0 * tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return Score(precision=round(p, 2), recall=round(r, 2), f1=round(f, 2), support=n_gold)


def score(gold_intents: list[str], gold_tags: list[list[str]], pred_intents: list[str], pred_tags: list[list[str]]) -> Metrics:
    n = len(gold_intents)
    assert n == len(pred_intents) == len(gold_tags) == len(pred_tags), "predictions and gold differ in length"
    slot_tp, slot_pred, slot_gold = Counter(), Counter(), Counter()
    intent_tp, intent_pred, intent_gold = Counter(), Counter(), Counter()
    confusion: dict[str, Counter] = {}
    sentences_right = 0
    for gi, gt, pi, pt in zip(gold_intents, gold_tags, pred_intents, pred_tags):
        gold_spans, pred_spans = set(spans_of(gt)), set(spans_of(pt))
        for slot, *_ in gold_spans:
            slot_gold[slot] += 1
        for slot, *_ in pred_spans:
            slot_pred[slot] += 1
        for slot, *_ in gold_spans & pred_spans:
            slot_tp[slot] += 1
        intent_gold[gi] += 1
        intent_pred[pi] += 1
        intent_tp[gi] += gi == pi
        confusion.setdefault(gi, Counter())[pi] += 1
        sentences_right += gi == pi and list(gt) == list(pt)
    total = _score(sum(slot_tp.values()), sum(slot_pred.values()), sum(slot_gold.values()))
    return Metrics(
        n=n,
        intent_acc=round(100.0 * sum(intent_tp.values()) / n, 2) if n else 0.0,
        slot_f1=total.f1,
        slot_precision=total.precision,
        slot_recall=total.recall,
        sentence_acc=round(100.0 * sentences_right / n, 2) if n else 0.0,
        per_intent={k: _score(intent_tp[k], intent_pred[k], intent_gold[k]) for k in sorted(intent_gold | intent_pred)},
        per_slot={k: _score(slot_tp[k], slot_pred[k], slot_gold[k]) for k in sorted(slot_gold | slot_pred)},
        confusion={g: dict(c) for g, c in sorted(confusion.items())},
    )
