"""Out-of-scope rejection and calibrated confidence.

A voice assistant that does the wrong thing is worse than one that asks again,
so every parse is scored for how far it lies from what the model was trained
on. Two signals, combined because they fail differently:

- the calibrated probability that the utterance belongs to no in-scope intent
  (temperature-scaled softmax, with a trained `out_of_scope` class where the
  training data has negative examples): sharp near the decision boundary;
- the Mahalanobis distance of the sentence vector to the nearest intent's
  centre (class means, shared covariance): catches inputs far from everything
  seen, on which a softmax can still be confident.

Each signal is standardised on in-scope dev data and the two are averaged with
a weight chosen on dev; an utterance is rejected when the score passes the
threshold (chosen on dev by the trainer, overridable in config and per request).
Scoring costs two small matrix products: tens of microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from assistant.intents.expand import OUT_OF_SCOPE
from assistant.nlu.decode import log_softmax

FILE = "scope.npz"


class ScopeParams(BaseModel):
    """The scalar part of the scope model, kept in `labels.json`; the matrices live in `scope.npz`."""

    temperature: float = Field(description="Softmax temperature fitted on dev (NLL).")
    weight: float = Field(description="Weight of the distance signal against the probability signal.")
    threshold: float = Field(description="Scores above it are out of scope.")
    distance_mean: float
    distance_std: float
    prob_mean: float
    prob_std: float
    ambiguity_margin: float = Field(0.15, description="In-scope results whose top two calibrated confidences differ by less are flagged ambiguous.")
    operating_point: dict = Field(default_factory=dict, description="How the threshold was chosen, and dev figures at it.")


@dataclass
class Scope:
    params: ScopeParams
    means: np.ndarray  # (intents, dims) class centres, whitened
    whiten: np.ndarray  # (dims, dims): x @ whiten has identity covariance
    in_scope: np.ndarray  # (intents,) bool: intent is not the trained out-of-scope class

    def calibrated(self, logits: np.ndarray) -> np.ndarray:
        return np.exp(log_softmax(logits / self.params.temperature))

    def signals(self, logits: np.ndarray, pooled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw distance and probability signals, (batch,) each."""
        z = pooled.astype(np.float32) @ self.whiten
        d2 = (z * z).sum(1, keepdims=True) - 2 * z @ self.means.T + (self.means * self.means).sum(1)
        distance = np.sqrt(np.maximum(d2.min(1), 0.0))
        probs = self.calibrated(logits)
        prob = -np.log(np.maximum(probs[:, self.in_scope].max(1), 1e-12))
        return distance, prob

    def combine(self, distance: np.ndarray, prob: np.ndarray, weight: float | None = None) -> np.ndarray:
        p = self.params
        w = p.weight if weight is None else weight
        return w * (distance - p.distance_mean) / p.distance_std + (1 - w) * (prob - p.prob_mean) / p.prob_std

    def score(self, logits: np.ndarray, pooled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities (batch, intents) and out-of-scope scores (batch,)."""
        distance, prob = self.signals(logits, pooled)
        return self.calibrated(logits), self.combine(distance, prob)


def save(folder: Path, scope: Scope) -> None:
    np.savez(folder / FILE, means=scope.means, whiten=scope.whiten, in_scope=scope.in_scope)


def load(folder: Path, params: ScopeParams) -> Scope:
    with np.load(folder / FILE, allow_pickle=False) as data:
        return Scope(params, data["means"].astype(np.float32), data["whiten"].astype(np.float32), data["in_scope"].astype(bool))


# --- fitting, at training time (numpy only) --------------------------------------------------


def fit_temperature(logits: np.ndarray, gold: np.ndarray) -> float:
    """Temperature minimising dev negative log-likelihood (Guo et al. 2017), by a fine grid search."""
    grid = np.exp(np.linspace(np.log(0.5), np.log(10.0), 200))
    nll = [-log_softmax(logits / t)[np.arange(len(gold)), gold].mean() for t in grid]
    return float(grid[int(np.argmin(nll))])


def fit_gaussians(pooled: np.ndarray, intents: np.ndarray, n_intents: int, in_scope: np.ndarray, shrinkage: float = 0.05):
    """Class means and a whitening matrix from the shared covariance of in-scope training vectors."""
    dims = pooled.shape[1]
    means = np.zeros((n_intents, dims), dtype=np.float64)
    centred = []
    present = np.zeros(n_intents, dtype=bool)
    for c in range(n_intents):
        rows = pooled[intents == c]
        if len(rows) and in_scope[c]:
            means[c] = rows.mean(0)
            centred.append(rows - means[c])
            present[c] = True
    x = np.concatenate(centred)
    cov = x.T @ x / max(len(x) - 1, 1)
    cov = (1 - shrinkage) * cov + shrinkage * np.trace(cov) / dims * np.eye(dims)
    values, vectors = np.linalg.eigh(cov)
    whiten = vectors / np.sqrt(np.maximum(values, 1e-9))
    means_w = means @ whiten
    means_w[~present] = 1e6  # an intent with no in-scope centre is never the nearest
    return means_w.astype(np.float32), whiten.astype(np.float32)


def auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    if len(positive) == 0 or len(negative) == 0:
        return float("nan")
    scores = np.concatenate([positive, negative])
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):  # average ranks over ties
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    r = ranks[: len(positive)].sum()
    return float((r - len(positive) * (len(positive) + 1) / 2) / (len(positive) * len(negative)))


def fit(
    labels: list[str],
    train_pooled: np.ndarray,
    train_intents: np.ndarray,
    dev_logits: np.ndarray,
    dev_pooled: np.ndarray,
    dev_intents: np.ndarray,
    max_false_reject: float = 0.01,
) -> Scope:
    """Fit temperature, class Gaussians, signal weight and threshold.

    With out-of-scope examples in dev, the weight is the one with the best dev
    AUROC and the threshold rejects at most `max_false_reject` of the in-scope
    dev utterances the model gets right; where the out-of-scope dev scores lie
    well beyond that, it moves to the middle of the gap. Without any, nothing tells how far
    out-of-scope inputs lie, so the threshold sits just past every in-scope dev
    score: only inputs unlike anything in the domain are rejected.
    """
    n = len(labels)
    in_scope = np.array([name != OUT_OF_SCOPE for name in labels])
    known = dev_intents >= 0
    temperature = fit_temperature(dev_logits[known], dev_intents[known]) if known.any() else 1.0
    means, whiten = fit_gaussians(train_pooled, train_intents, n, in_scope)
    scope = Scope(ScopeParams(temperature=temperature, weight=0.5, threshold=1e9, distance_mean=0, distance_std=1, prob_mean=0, prob_std=1), means, whiten, in_scope)

    oos_index = labels.index(OUT_OF_SCOPE) if OUT_OF_SCOPE in labels else -2
    is_oos = dev_intents == oos_index
    distance, prob = scope.signals(dev_logits, dev_pooled)
    inside = ~is_oos
    p = scope.params
    # floors keep a signal that is constant on dev (a perfectly separated toy domain) from dividing by zero
    p.distance_mean, p.distance_std = float(distance[inside].mean()), max(float(distance[inside].std()), 1e-2)
    p.prob_mean, p.prob_std = float(prob[inside].mean()), max(float(prob[inside].std()), 1e-2)

    probs = scope.calibrated(dev_logits)
    predicted = probs.argmax(1)
    right = (predicted == dev_intents) & inside
    if is_oos.any():
        weights = np.linspace(0.0, 1.0, 11)
        aurocs = [auroc(scope.combine(distance[is_oos], prob[is_oos], w), scope.combine(distance[inside], prob[inside], w)) for w in weights]
        p.weight = float(weights[int(np.nanargmax(aurocs))])
        scores = scope.combine(distance, prob)
        inner = float(np.quantile(scores[right], 1 - max_false_reject)) if right.any() else 1e9
        outer = float(np.quantile(scores[is_oos], 0.05))
        # Where dev's in-scope and out-of-scope scores lie well apart (sentences
        # generated from templates), sit in the middle of the gap: real in-scope
        # speech scores further out than template sentences do.
        p.threshold = max(inner, (inner + outer) / 2)
        rejected = (scores > p.threshold) | ~in_scope[predicted]
        p.operating_point = {
            "rule": f"reject at most {max_false_reject:.1%} of the in-scope dev utterances classified right, "
                    "or the middle of the gap to the out-of-scope dev scores where there is one",
            "in_scope_quantile": round(inner, 4),
            "out_of_scope_5th_percentile": round(outer, 4),
            "dev_auroc": round(max(aurocs), 4),
            "dev_oos_recall": round(100 * float(rejected[is_oos].mean()), 2),
            "dev_in_scope_acc": round(100 * float((right & ~rejected)[inside].mean()), 2),
        }
    else:
        scores = scope.combine(distance, prob)
        p.threshold = float(scores.max() + 1.0) if len(scores) else 1e9
        p.operating_point = {"rule": "no out-of-scope dev data: threshold one unit past the highest in-scope dev score"}
    return scope
