"""Knowledge distillation: what teacher models predict for the training set, as soft targets that the model
learns from beside the gold labels (`TrainConfig.teachers`, `TrainConfig.distill`).

An ensemble's averaged predictions say what one-hot labels cannot: which intents lie near each other, how
sure a slot's boundary is. One model that learns them gains part of the ensemble's accuracy at one model's
cost (Hinton et al. 2015, "Distilling the knowledge in a neural network"). A teacher is any trained model
folder with the labels being taught, run as it is served (ONNX, its fp32 graph where the folder kept one).
For the slots the targets are the teachers' CRF marginals, each word's tag distribution given the whole
utterance, so that teachers with different transition scores can be averaged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from assistant.intents.example import Example
from assistant.nlu import bundle
from assistant.nlu.decode import marginals, softmax
from assistant.nlu.errors import TrainError
from assistant.nlu.features import featurize
from assistant.nlu.runtime import Parser

log = logging.getLogger(__name__)


@dataclass
class Soft:
    """The teachers' mean prediction for one training example, in the student's label order."""

    intents: np.ndarray  # (intents,) probabilities
    tags: np.ndarray  # (tagged words, tags) marginal probabilities


def soft_targets(teachers: list[Path], examples: list[Example], intents: list[str], tags: list[str],
                 batch_size: int = 64) -> list[Soft]:
    """The mean of the teachers' intent probabilities and tag marginals for each of `examples`."""
    blas = {lib["prefix"]: lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}
    total: list[Soft] | None = None
    for folder in teachers:
        teacher = load_teacher(Path(folder), intents, tags)
        got = predict(teacher, examples, intents, tags, batch_size)
        total = got if total is None else [Soft(a.intents + b.intents, a.tags + b.tags) for a, b in zip(total, got)]
        log.info("soft targets from %s", folder)
    threadpool_limits(blas)  # a served model keeps numpy's BLAS to one thread; training needs torch's back
    return [Soft(s.intents / len(teachers), s.tags / len(teachers)) for s in total or []]


def load_teacher(folder: Path, intents: list[str], tags: list[str]) -> Parser:
    if not folder.is_dir():
        raise TrainError(f"teacher {folder}: no such model folder")
    fp32 = (folder / bundle.ONNX_FP32).exists()
    teacher = Parser(folder, onnx_file=bundle.ONNX_FP32) if fp32 else Parser(folder)
    missing = sorted(set(intents) - set(teacher.labels.intents)) + sorted(set(tags) - set(teacher.labels.tags))
    if missing:
        raise TrainError(f"teacher {folder} was trained on other labels: it lacks {', '.join(missing[:5])}")
    return teacher


def predict(teacher: Parser, examples: list[Example], intents: list[str], tags: list[str], batch_size: int) -> list[Soft]:
    """One teacher's intent probabilities and tag marginals, reordered (and renormalised) to the student's labels."""
    intent_index = [teacher.labels.intents.index(name) for name in intents]
    tag_index = [teacher.labels.tags.index(name) for name in tags]
    rules = teacher.rules
    out: list[Soft | None] = [None] * len(examples)
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].tokens))
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        batch = featurize(teacher.tokenizer, [examples[i].tokens for i in rows], word_pool=teacher.labels.word_pool)
        logits, scores, _ = teacher.session.run(None, {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask})
        probs = softmax(logits.astype(np.float32))[:, intent_index]
        for row, i in enumerate(rows):
            words = batch.word_scores(scores, row)
            tagged = marginals(words, rules.start, rules.transitions, rules.end) if len(words) else np.zeros((0, len(teacher.labels.tags)))
            tagged = tagged[:, tag_index]
            out[i] = Soft(probs[row] / probs[row].sum(), tagged / np.maximum(tagged.sum(axis=1, keepdims=True), 1e-12))
    return out  # type: ignore[return-value]
