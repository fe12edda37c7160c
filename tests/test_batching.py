"""Dynamic batching: parses from many threads share model runs and get exactly the results they get alone."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from assistant.nlu.batching import Batcher
from assistant.nlu.runtime import Pending

# Sentences the tiny domain's templates do not say: the model answers them.
SENTENCES = ["could you light up the kitchen for me", "lounge lamp on now please", "make the bedroom dark", "kill the lights in the office",
             "i want a timer of ten minutes", "what is the meaning of life", "ten minute timer please", "lights off bedroom",
             "the office needs light", "timer for five minutes now"]


@pytest.fixture
def batches(tiny_parser, monkeypatch):
    """The size of every batch the model runs (the parser's own `finish`, observed)."""
    sizes = []
    finish = tiny_parser.finish

    def observed(pending, *args, **kwargs):
        sizes.append(len(pending))
        return finish(pending, *args, **kwargs)

    monkeypatch.setattr(tiny_parser, "finish", observed)
    return sizes


def test_concurrent_parses_form_batches_and_get_their_own_results(tiny_parser, batches):
    assert all(isinstance(tiny_parser.prepare(s), Pending) for s in SENTENCES)
    alone = {s: tiny_parser.parse(s) for s in SENTENCES}
    batches.clear()
    batcher = Batcher(tiny_parser, wait_ms=20, max_size=8)
    texts = SENTENCES * 12
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(batcher.parse, texts))
    for text, result in zip(texts, results):
        assert result == alone[text]  # to the last decimal: int8 activations are scaled per token, not per batch
    assert sum(batches) == len(texts) and max(batches) <= 8 and len(batches) < len(texts) / 2


def test_template_sentences_never_wait_for_the_model(tiny_parser, batches):
    batcher = Batcher(tiny_parser, wait_ms=50, max_size=8)
    result = batcher.parse("turn on the kitchen lights")
    assert result.source == "grammar" and result.intent.name == "LightsOn" and batches == []


def test_a_threshold_of_its_own_is_kept_in_a_shared_batch(tiny_parser):
    batcher = Batcher(tiny_parser, wait_ms=20, max_size=8)
    text = "how tall is mount everest"  # out of scope, but no word the guard reads (a threshold alone decides)
    with ThreadPoolExecutor(8) as pool:
        loose, strict = pool.submit(batcher.parse, text, 1e6), pool.submit(batcher.parse, text, -1e6)
        others = list(pool.map(batcher.parse, SENTENCES[:4]))
    assert loose.result().in_scope and loose.result().intent is not None
    assert not strict.result().in_scope and strict.result().rejected_by == "threshold"
    assert [r.text for r in others] == SENTENCES[:4]


def test_a_failed_batch_fails_its_callers_and_the_next_batch_runs(tiny_parser, monkeypatch):
    batcher = Batcher(tiny_parser, wait_ms=20, max_size=4)
    finish, calls = tiny_parser.finish, []

    def fails_once(pending, *args, **kwargs):
        calls.append(len(pending))
        if len(calls) == 1:
            raise RuntimeError("onnxruntime failed")
        return finish(pending, *args, **kwargs)

    monkeypatch.setattr(tiny_parser, "finish", fails_once)
    start = threading.Barrier(4)

    def parse(text):
        start.wait()
        try:
            return batcher.parse(text)
        except RuntimeError as e:
            return e

    with ThreadPoolExecutor(4) as pool:
        first = list(pool.map(parse, SENTENCES[:4]))
    assert any(isinstance(r, RuntimeError) for r in first)
    assert batcher.parse(SENTENCES[0]).text == SENTENCES[0]  # nothing is left waiting or locked


def test_batch_size_one_parses_each_on_its_own(tiny_parser, batches):
    batcher = Batcher(tiny_parser, wait_ms=20, max_size=1)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(batcher.parse, SENTENCES))
    assert batches == [1] * len(SENTENCES)


@pytest.mark.parametrize("runs", [1, 2])
def test_at_most_runs_batches_are_under_way_at_once(tiny_parser, monkeypatch, runs):
    alone = {s: tiny_parser.parse(s) for s in SENTENCES}
    finish, lock, active, peak = tiny_parser.finish, threading.Lock(), [0], [0]

    def slow(pending, *args, **kwargs):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            time.sleep(0.02)  # long enough for the other threads to pile up behind it
            return finish(pending, *args, **kwargs)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(tiny_parser, "finish", slow)
    batcher = Batcher(tiny_parser, wait_ms=1, max_size=4, runs=runs)
    texts = SENTENCES * 6
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(batcher.parse, texts))
    assert [r.text for r in results] == texts and all(r == alone[t] for t, r in zip(texts, results))
    assert peak[0] == runs
