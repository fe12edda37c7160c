"""Scores of predictions against gold examples, with conlleval semantics.

A slot counts only with its exact span and type (as conlleval and seqeval
count it); a sentence counts only when its intent and every tag are right.
These are the figures JointBERT reports, so ours compare directly.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from pydantic import BaseModel

from assistant.intents.example import spans_of
from assistant.intents.expand import OUT_OF_SCOPE



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
    scope: ScopeMetrics | None = None
    """Out-of-scope rejection and calibration, when the model has them."""


class ScopeMetrics(BaseModel):
    """Rejection and calibration figures; percentages but for `auroc` and `ece`."""

    n_in_scope: int
    n_out_of_scope: int
    in_scope_acc: float
    """In-scope utterances given the right intent (a rejection counts as wrong)."""
    oos_recall: float | None
    oos_precision: float | None
    auroc: float | None
    """Out-of-scope score separating out-of-scope from in-scope utterances (1.0: perfectly)."""
    ece: float
    """Expected calibration error of the top intent's confidence, 15 equal-width bins."""
    reliability: list[dict]
    """Per bin: mean confidence, accuracy, count (for the reliability plot)."""


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


def calibration(confidences: np.ndarray, correct: np.ndarray, bins: int = 15) -> tuple[float, list[dict]]:
    """Expected calibration error and the reliability table (Guo et al. 2017)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidences, edges[1:-1]), 0, bins - 1)
    ece, table = 0.0, []
    for b in range(bins):
        inside = which == b
        if inside.any():
            conf, acc = float(confidences[inside].mean()), float(correct[inside].mean())
            ece += inside.mean() * abs(conf - acc)
            table.append({"low": round(float(edges[b]), 3), "high": round(float(edges[b + 1]), 3), "confidence": round(conf, 4), "accuracy": round(acc, 4), "n": int(inside.sum())})
    return round(float(ece), 4), table


def scope_metrics(gold: list[str], predicted: list[str], top: list[str], top_confidence: np.ndarray, oos_scores: np.ndarray | None) -> ScopeMetrics:
    """`predicted` is after rejection (`out_of_scope` when rejected); `top` and its confidence are the classifier's own choice."""
    from assistant.nlu.scope import auroc

    gold_a, pred_a = np.array(gold), np.array(predicted)
    is_oos = gold_a == OUT_OF_SCOPE
    said_oos = pred_a == OUT_OF_SCOPE
    ece, table = calibration(np.asarray(top_confidence, dtype=np.float64), np.array(top) == gold_a)
    area = None
    if oos_scores is not None and is_oos.any() and (~is_oos).any():
        area = round(auroc(oos_scores[is_oos], oos_scores[~is_oos]), 4)
    return ScopeMetrics(
        n_in_scope=int((~is_oos).sum()),
        n_out_of_scope=int(is_oos.sum()),
        in_scope_acc=round(100.0 * float((pred_a == gold_a)[~is_oos].mean()), 2) if (~is_oos).any() else 0.0,
        oos_recall=round(100.0 * float(said_oos[is_oos].mean()), 2) if is_oos.any() else None,
        oos_precision=round(100.0 * float(is_oos[said_oos].mean()), 2) if said_oos.any() else None,
        auroc=area,
        ece=ece,
        reliability=table,
    )
