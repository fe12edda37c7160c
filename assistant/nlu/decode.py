"""Turning model scores into a valid BIO tag sequence.

Taking the arg-max tag of each word can yield `I-room` after `O`: a span with no
start. Viterbi decoding over transition scores forbids such sequences; with a
CRF the transitions are learned, without one they only carry the BIO rules.
Plain numpy, so the runtime needs no torch.
"""

from __future__ import annotations

import numpy as np

from assistant.nlu.features import Batch

FORBIDDEN = -1e4


def bio_rules(tags: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Start scores and transition scores that forbid `I-x` unless after `B-x` or `I-x`."""
    n = len(tags)
    start = np.zeros(n, dtype=np.float32)
    transitions = np.zeros((n, n), dtype=np.float32)
    for j, tag in enumerate(tags):
        if tag.startswith("I-"):
            start[j] = FORBIDDEN
            for i, previous in enumerate(tags):
                if previous[2:] != tag[2:] or previous == "O":
                    transitions[i, j] = FORBIDDEN
    return start, transitions


def viterbi(emissions: np.ndarray, start: np.ndarray, transitions: np.ndarray, end: np.ndarray | None = None) -> list[int]:
    """Best tag path for one utterance; `emissions` is (words, tags) of log-scores."""
    n_words = emissions.shape[0]
    if n_words == 0:
        return []
    score = start + emissions[0]
    back = np.zeros((n_words, emissions.shape[1]), dtype=np.int64)
    for t in range(1, n_words):
        candidates = score[:, None] + transitions  # (previous, next)
        back[t] = candidates.argmax(axis=0)
        score = candidates.max(axis=0) + emissions[t]
    if end is not None:
        score = score + end
    path = [int(score.argmax())]
    for t in range(n_words - 1, 0, -1):
        path.append(int(back[t, path[-1]]))
    return path[::-1]


def marginals(emissions: np.ndarray, start: np.ndarray, transitions: np.ndarray, end: np.ndarray | None = None) -> np.ndarray:
    """P(tag of word t = j | utterance) under the same scores Viterbi uses (forward-backward), (words, tags).

    With a CRF the emissions alone are not probabilities (the transitions carry
    part of the evidence), so a span's confidence is read from these marginals.
    """
    # Scaled forward-backward in probability space: one small matrix product per word.
    e = emissions.astype(np.float64)
    emit = np.exp(e - e.max(axis=1, keepdims=True))
    trans = np.exp(transitions.astype(np.float64) - transitions.max())
    n_words, n_tags = e.shape
    alpha = np.empty((n_words, n_tags))
    beta = np.empty((n_words, n_tags))
    alpha[0] = np.exp(start - start.max()) * emit[0]
    alpha[0] /= alpha[0].sum()
    for t in range(1, n_words):
        alpha[t] = (alpha[t - 1] @ trans) * emit[t]
        alpha[t] /= alpha[t].sum()
    beta[-1] = 1.0 if end is None else np.exp(end - end.max())
    for t in range(n_words - 2, -1, -1):
        beta[t] = trans @ (emit[t + 1] * beta[t + 1])
        beta[t] /= beta[t].sum()
    joint = alpha * beta
    return joint / joint.sum(axis=1, keepdims=True)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.exp(log_softmax(x, axis))


class Transitions:
    """The decoding scores saved in a model folder (`labels.json`)."""

    def __init__(self, start: list[float], transitions: list[list[float]], end: list[float] | None):
        self.start = np.asarray(start, dtype=np.float32)
        self.transitions = np.asarray(transitions, dtype=np.float32)
        self.end = None if end is None else np.asarray(end, dtype=np.float32)


def decode_batch(
    intent_logits: np.ndarray, tag_scores: np.ndarray, batch: Batch, rules: Transitions
) -> tuple[np.ndarray, list[list[int]], list[list[float]]]:
    """Intent probabilities (batch, intents), and per utterance the tag of each
    tagged word with its marginal probability given the whole utterance."""
    intent_probs = softmax(intent_logits.astype(np.float32))
    tag_ids: list[list[int]] = []
    tag_probs: list[list[float]] = []
    for row in range(intent_logits.shape[0]):
        emissions = batch.word_scores(tag_scores, row).astype(np.float32)
        n = len(emissions)
        path = viterbi(emissions, rules.start, rules.transitions, rules.end)
        probs = marginals(emissions, rules.start, rules.transitions, rules.end) if n else emissions
        tag_ids.append(path)
        tag_probs.append([float(probs[i, t]) for i, t in enumerate(path)])
    return intent_probs, tag_ids, tag_probs
