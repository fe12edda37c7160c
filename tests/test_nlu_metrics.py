"""Scoring and decoding, with the semantics JointBERT's figures use."""

from __future__ import annotations

import numpy as np

from assistant.intents.example import spans_of
from assistant.nlu.decode import bio_rules, viterbi
from assistant.nlu.metrics import score
from assistant.text import split_words


def test_spans_follow_conlleval():
    assert spans_of(["B-a", "I-a", "O", "B-b", "B-b", "I-b"]) == [("a", 0, 2), ("b", 3, 4), ("b", 4, 6)]
    # an I- tag without its B- still opens a span, as conlleval counts it
    assert spans_of(["O", "I-a", "I-a", "I-b"]) == [("a", 1, 3), ("b", 3, 4)]


def test_a_slot_counts_only_with_exact_span_and_type():
    gold = [["B-room", "I-room", "O"], ["B-room", "O", "O"]]
    pred = [["B-room", "O", "O"], ["B-room", "O", "O"]]
    m = score(["A", "A"], gold, ["A", "B"], pred)
    assert m.slot_precision == 50.0 and m.slot_recall == 50.0 and m.slot_f1 == 50.0
    assert m.intent_acc == 50.0
    assert m.sentence_acc == 0.0  # first: a tag wrong; second: the intent wrong
    assert m.confusion == {"A": {"A": 1, "B": 1}}
    assert m.per_intent["B"].precision == 0.0


def test_viterbi_never_starts_a_span_with_an_inside_tag():
    tags = ["O", "B-room", "I-room"]
    start, transitions = bio_rules(tags)
    emissions = np.log(np.array([[0.1, 0.2, 0.7], [0.1, 0.1, 0.8]], dtype=np.float32))
    path = [tags[i] for i in viterbi(emissions, start, transitions)]
    assert path == ["B-room", "I-room"]
    assert viterbi(np.zeros((0, 3), dtype=np.float32), start, transitions) == []


def test_words_split_off_punctuation_but_keep_inner_apostrophes():
    words = split_words("Wake me at 7 o'clock, please!")
    assert [w.text for w in words] == ["Wake", "me", "at", "7", "o'clock", ",", "please", "!"]
    assert all("Wake me at 7 o'clock, please!"[w.start : w.end] == w.text for w in words)


def test_tag_marginals_match_summing_over_every_tag_path():
    """A span's confidence is P(tag | utterance) under the CRF scores: checked against all 3^4 paths."""
    import itertools

    from assistant.nlu.decode import marginals

    rng = np.random.default_rng(0)
    emissions, start, transitions, end = rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=(3, 3)), rng.normal(size=3)
    weights = np.zeros((4, 3))
    for path in itertools.product(range(3), repeat=4):
        score = start[path[0]] + end[path[-1]] + sum(emissions[t, p] for t, p in enumerate(path))
        score += sum(transitions[a, b] for a, b in zip(path, path[1:]))
        for t, p in enumerate(path):
            weights[t, p] += np.exp(score)
    assert np.allclose(marginals(emissions, start, transitions, end), weights / weights.sum(axis=1, keepdims=True))


def test_a_confident_parse_has_confident_entities(tiny_parser):
    entity = tiny_parser.parse("turn on the kitchen lights").entities[0]
    assert entity.text == "kitchen" and entity.confidence > 0.9
