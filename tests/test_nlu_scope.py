"""Out-of-scope scoring and calibration on controlled data, where the right answer is known."""

from __future__ import annotations

import numpy as np

from assistant.nlu import scope
from assistant.nlu.metrics import calibration


def clusters(rng, n_per_class=200, dims=16):
    centres = rng.normal(0, 6, size=(3, dims))
    pooled = np.concatenate([c + rng.normal(0, 1, size=(n_per_class, dims)) for c in centres])
    intents = np.repeat(np.arange(3), n_per_class)
    logits = np.stack([-((pooled - c) ** 2).sum(1) / 4 for c in centres], axis=1)
    return pooled.astype(np.float32), intents, logits.astype(np.float32)


def test_far_away_inputs_score_higher_than_in_scope_ones():
    rng = np.random.default_rng(0)
    pooled, intents, logits = clusters(rng)
    fitted = scope.fit(["a", "b", "c"], pooled, intents, logits, pooled, intents)
    far = rng.normal(0, 1, size=(50, 16)).astype(np.float32) * 20
    far_logits = np.zeros((50, 3), dtype=np.float32)
    _, inside = fitted.score(logits, pooled)
    _, outside = fitted.score(far_logits, far)
    assert scope.auroc(outside, inside) > 0.95
    # no out-of-scope dev data: the threshold sits past every in-scope dev score
    assert (inside <= fitted.params.threshold).all()


def test_threshold_rejects_at_most_the_allowed_share_of_right_in_scope_dev():
    rng = np.random.default_rng(1)
    pooled, intents, logits = clusters(rng)
    oos = (rng.normal(0, 1, size=(100, 16)) * 8).astype(np.float32)
    labels = ["a", "b", "c", "out_of_scope"]
    all_pooled = np.concatenate([pooled, oos])
    all_logits = np.concatenate([np.pad(logits, ((0, 0), (0, 1)), constant_values=-50), np.full((100, 4), -1.0, dtype=np.float32)])
    all_intents = np.concatenate([intents, np.full(100, 3)])
    fitted = scope.fit(labels, all_pooled, all_intents, all_logits, all_pooled, all_intents, max_false_reject=0.05)
    _, scores = fitted.score(all_logits[:600], all_pooled[:600])
    assert (scores > fitted.params.threshold).mean() <= 0.05 + 1e-9
    assert fitted.params.operating_point["dev_oos_recall"] > 90


def test_temperature_scaling_fixes_an_overconfident_classifier():
    rng = np.random.default_rng(2)
    gold = rng.integers(0, 5, size=4000)
    logits = rng.normal(0, 1, size=(4000, 5))
    logits[np.arange(4000), gold] += 1.5  # right about 60% of the time...
    logits *= 4  # ...but far too sure of itself
    t = scope.fit_temperature(logits, gold)
    assert t > 2
    before = calibration(np.exp(scope.log_softmax(logits)).max(1), logits.argmax(1) == gold)[0]
    after = calibration(np.exp(scope.log_softmax(logits / t)).max(1), logits.argmax(1) == gold)[0]
    assert after < 0.05 < before


def test_auroc_counts_ties_as_half():
    assert scope.auroc(np.array([1.0, 2.0]), np.array([0.0, 0.5])) == 1.0
    assert scope.auroc(np.array([1.0]), np.array([1.0])) == 0.5
