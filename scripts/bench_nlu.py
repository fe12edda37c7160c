#!/usr/bin/env python
"""NLU benchmark: train on SNIPS and ATIS, score the int8 and fp32 ONNX models on
the test split, and time one utterance at a time on one thread for torch fp32
eager, ONNX fp32 and ONNX int8, interleaved in one run so machine noise hits
all three alike.

    python scripts/bench_nlu.py                 # both datasets, writes docs/benchmarks/nlu.json
    python scripts/bench_nlu.py --datasets atis --epochs 3
    python scripts/bench_nlu.py --datasets default   # the bundled domain, trained as on first use
"""

from __future__ import annotations

import json
import logging
import random
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
from benchlib import ROOT, arguments, log_progress, machine, recipe, recipe_values

from assistant.config import load_settings  # noqa: E402
from assistant.intents import load_training_data  # noqa: E402
from assistant.nlu import bundle  # noqa: E402
from assistant.nlu.decode import Transitions, decode_batch  # noqa: E402
from assistant.nlu.features import featurize  # noqa: E402
from assistant.nlu.runtime import Parser  # noqa: E402
from assistant.nlu.train import Trained, train  # noqa: E402

log = logging.getLogger("bench_nlu")
HEADLINE = ("intent_acc", "slot_f1", "sentence_acc")
EPOCHS = {"snips": 6, "atis": 10}
"""Epochs per dataset (others: 10), chosen on dev."""


def latencies(trained, examples, n: int, seed: int = 0) -> dict:
    """p50/p95 ms per utterance on one thread, the three engines interleaved utterance by utterance."""
    import torch

    torch.set_num_threads(1)
    folder = trained.folder
    engines = {
        "onnx_int8": Parser(folder, threads=1),
        "onnx_fp32": Parser(folder, onnx_file=bundle.ONNX_FP32, threads=1),
    }
    model = trained.model.eval()
    tokenizer = engines["onnx_int8"].tokenizer
    labels = engines["onnx_int8"].labels
    rules = Transitions(labels.start, labels.transitions, labels.end)

    def torch_parse(tokens):
        batch = featurize(tokenizer, [tokens], word_pool=labels.word_pool)
        with torch.inference_mode():
            logits, scores, _ = model(torch.from_numpy(batch.input_ids), torch.from_numpy(batch.attention_mask))
        return decode_batch(logits.numpy(), scores.numpy(), batch, rules)

    runs = {"torch_fp32_eager": torch_parse, **{k: (lambda p: lambda tokens: p.run([tokens]))(p) for k, p in engines.items()}}
    sample = random.Random(seed).sample(examples, min(n, len(examples)))
    for e in sample[:20]:  # warm-up
        for run in runs.values():
            run(e.tokens)
    times = {k: [] for k in runs}
    for e in sample:
        for name, run in runs.items():
            t0 = time.perf_counter()
            run(e.tokens)
            times[name].append(1000 * (time.perf_counter() - t0))
    out = {name: {"p50_ms": round(float(np.percentile(t, 50)), 2), "p95_ms": round(float(np.percentile(t, 95)), 2)} for name, t in times.items()}
    out["speedup_int8_vs_torch_p50"] = round(out["torch_fp32_eager"]["p50_ms"] / out["onnx_int8"]["p50_ms"], 2)
    out["n"] = len(sample)
    return out


def bench(name: str, data: Path, out: Path, epochs: int, n_latency: int, threads: int | None, values: dict,
          encoder: Path | None = None) -> dict:
    trained = train(data, out / name, encoder=encoder, config=recipe(epochs=epochs, keep_fp32=True, threads=threads, **values))
    _, _, _, test = load_training_data(data)
    m = trained.metadata.metrics
    pick = lambda key: {k: m[key][k] for k in HEADLINE}  # noqa: E731
    result = {
        # the model's own figures, comparable to JointBERT's: no out-of-scope rejection
        "int8": pick("test_no_reject"),
        "fp32": pick("test_fp32_no_reject"),
        # as served: rejection on, with the threshold the trainer chose on dev
        "int8_rejection_on": pick("test"),
        "dev_int8": pick("dev_no_reject"),
        "n_test": m["test"]["n"],
        "train_seconds": trained.metadata.train_seconds,
        "epochs_run": trained.metadata.epochs_run,
        "best_epoch": trained.metadata.best_epoch,
        "model_mb": trained.metadata.sizes_mb,
        "latency": latencies(trained, test, n_latency),
        "export_parity": trained.metadata.export,
    }
    result["int8_minus_fp32"] = {k: round(result["int8"][k] - result["fp32"][k], 2) for k in HEADLINE}
    result["rejection_on_minus_off"] = {k: round(result["int8_rejection_on"][k] - result["int8"][k], 2) for k in HEADLINE}
    return result


def parse_latency(folder: Path, unseen: list[str], oos: list[str], seed: int = 4242) -> dict:
    """`Parser.parse` one utterance at a time on one thread: template sentences (the grammar answers), unseen-value
    and out-of-scope sentences (the model answers), interleaved so machine noise hits all alike."""
    from assistant.intents import expand

    parser = Parser(folder, threads=1)
    templates = [e.text for e in expand(parser.domain, seed=seed, max_per_intent=12) if "template" in e.meta]
    sentences = [("grammar", t) for t in templates] + [("model", t) for t in unseen + oos]
    random.Random(seed).shuffle(sentences)
    for _, text in sentences[:50]:
        parser.parse(text)  # warm: the grammar's states are visited once
    times: dict[str, list[float]] = {"grammar": [], "model": []}
    for _, text in sentences:
        started = time.perf_counter()
        result = parser.parse(text)
        times["grammar" if result.source == "grammar" else "model"].append(1000 * (time.perf_counter() - started))
    every = times["grammar"] + times["model"]
    return {k: {"n": len(v), "p50_ms": round(float(np.percentile(v, 50)), 3), "p95_ms": round(float(np.percentile(v, 95)), 3)}
            for k, v in (("all", every), ("grammar", times["grammar"]), ("model", times["model"]))}


def bench_default(out: Path, threads: int | None, reuse: Path | None = None) -> dict:
    """The bundled domain trained exactly as on first use (config.toml), scored on the held-out test files."""
    import yaml

    config = load_settings(str(ROOT / "config.toml")).train.updated(threads=threads)
    started = time.monotonic()
    if reuse is not None:  # a folder trained by `assistant train intents` as on first use
        trained = Trained(reuse, None, bundle.Metadata.model_validate_json((reuse / bundle.METADATA).read_text()))
    else:
        trained = train(ROOT / "intents", out / "default", config=config)
    wall = time.monotonic() - started if reuse is None else None
    parser = Parser(trained.folder)
    unseen = yaml.safe_load((ROOT / "tests" / "data" / "default_domain_unseen.yaml").read_text())
    results = parser.parse_batch([u["text"] for u in unseen])
    right = sum(
        r.intent is not None and r.intent.name == u["intent"]
        and {e.slot: e.text.lower() for e in r.entities} == {k: str(v).lower() for k, v in (u.get("slots") or {}).items()}
        for r, u in zip(results, unseen)
    )
    oos = [line for line in (ROOT / "tests" / "data" / "out_of_scope_heldout.txt").read_text().splitlines() if line.strip()]
    rejected = sum(not r.in_scope for r in parser.parse_batch(oos))
    m = trained.metadata
    return {
        "parse_latency": parse_latency(trained.folder, [u["text"] for u in unseen], oos),
        "train_wall_seconds": round(wall, 1) if wall is not None else None,
        "train_seconds": m.train_seconds,
        "epochs_run": m.epochs_run,
        "n_train": m.n_train,
        "dev": {k: m.metrics["dev"][k] for k in HEADLINE} | {"oos_recall": m.metrics["dev"]["scope"]["oos_recall"], "in_scope_acc": m.metrics["dev"]["scope"]["in_scope_acc"]},
        "unseen_values_sentence_acc": round(100 * right / len(unseen), 2),
        "n_unseen": len(unseen),
        "heldout_oos_rejected": round(100 * rejected / len(oos), 2),
        "n_heldout_oos": len(oos),
        "model_mb": m.sizes_mb,
    }


def table(results: dict) -> str:
    rows = ["| dataset | model | intent acc | slot F1 | sentence acc | train time | int8 size | p50 / p95 ms torch fp32 | ONNX fp32 | ONNX int8 | int8 speed-up |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in results["datasets"].items():
        if "latency" not in r:
            continue
        lat = r["latency"]
        for kind in ("int8", "fp32"):
            s = r[kind]
            timing = (f"{r['train_seconds'] / 60:.1f} min | {r['model_mb'][bundle.ONNX_INT8]} MB | "
                      + " | ".join(f"{lat[k]['p50_ms']} / {lat[k]['p95_ms']}" for k in ("torch_fp32_eager", "onnx_fp32", "onnx_int8"))
                      + f" | {lat['speedup_int8_vs_torch_p50']}x") if kind == "int8" else " | | | | | "
            rows.append(f"| {name} | MiniLM-L6 + CRF, ONNX {kind} | {s['intent_acc']} | {s['slot_f1']} | {s['sentence_acc']} | {timing} |")
    return "\n".join(rows)


def main() -> None:
    ap = arguments(__doc__, "nlu.json")
    ap.add_argument("--datasets", nargs="+", default=["snips", "atis"])
    ap.add_argument("--data-root", default=str(ROOT.parent / "shared" / "datasets"))
    ap.add_argument("--epochs", type=int, help=f"epochs for every dataset (default: {EPOCHS}, others 10)")
    ap.add_argument("--latency-n", type=int, default=300)
    ap.add_argument("--models", default="/tmp/assistant-bench", help="where the trained models go")
    ap.add_argument("--encoder", help="the BERT folder to fine-tune (default: the packaged MiniLM)")
    ap.add_argument("--reuse-default", help="score this model folder of the bundled domain instead of training one")
    args = ap.parse_args()
    log_progress()

    results = {"date": date.today().isoformat(), "machine": machine(),
               "command": "python scripts/bench_nlu.py " + " ".join(sys.argv[1:]), "datasets": {}}
    path = Path(args.json)
    if path.exists():  # keep other datasets' figures when benchmarking only some
        results["datasets"] = json.loads(path.read_text()).get("datasets", {})
    for name in args.datasets:
        if name == "default":
            results["datasets"][name] = bench_default(Path(args.models), args.threads, Path(args.reuse_default) if args.reuse_default else None)
        else:
            epochs = args.epochs or EPOCHS.get(name, 10)
            values = recipe_values(args.recipe)
            results["datasets"][name] = bench(name, Path(args.data_root) / name, Path(args.models), epochs, args.latency_n, args.threads, values,
                                            Path(args.encoder) if args.encoder else None)
            results["datasets"][name]["recipe"] = values | ({"encoder": args.encoder} if args.encoder else {})
        results["datasets"][name]["date"] = results["date"]
        results["datasets"][name]["train_threads"] = args.threads or "default"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps({name: results["datasets"][name]}, indent=1), flush=True)
    print(table(results))


if __name__ == "__main__":
    main()
