#!/usr/bin/env python
"""Out-of-scope benchmark on CLINC150: train on `train` + `oos_train`, choose every
threshold on `val` + `oos_val`, report on `test` + `oos_test` with the int8 ONNX model.

Side by side, from the same model and the same outputs:
- `trained_class`: the trained out-of-scope class alone (no threshold);
- `confidence_threshold`: that class plus a threshold on the calibrated top
  confidence, the plain approach;
- `distance_only`: that class plus a threshold on the Mahalanobis distance;
- `combined` (as served): that class plus the combined score of `assistant.nlu.scope`.
Every threshold rejects at most the same share of the in-scope val utterances
classified right (`--max-false-reject`), so the variants are compared at the same
operating rule.

    python scripts/bench_oos.py                     # writes docs/benchmarks/oos.json
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
from benchlib import ROOT, arguments, log_progress, machine, recipe, recipe_values

from assistant.intents import load_training_data  # noqa: E402
from assistant.nlu.metrics import scope_metrics  # noqa: E402
from assistant.nlu.runtime import Parser  # noqa: E402
from assistant.nlu.scope import OUT_OF_SCOPE  # noqa: E402
from assistant.nlu.train import train  # noqa: E402

KEYS = ("in_scope_acc", "oos_recall", "oos_precision", "auroc", "ece")


def outputs(parser: Parser, examples):
    raw = parser.outputs(examples)
    return parser.scope.signals(raw.logits, raw.pooled), parser.scope.calibrated(raw.logits)


def variant(parser, weight, dev, test, max_false_reject):
    """Threshold chosen on dev by the trainer's rule, figures on test; weight None: no threshold."""
    labels = parser.labels.intents
    in_scope = np.array([n != OUT_OF_SCOPE for n in labels])

    def decide(signals, probs, threshold):
        top = probs.argmax(1)
        scores = parser.scope.combine(*signals, weight) if weight is not None else np.zeros(len(top))
        rejected = ~in_scope[top] | (scores > threshold)
        return [OUT_OF_SCOPE if r else labels[t] for r, t in zip(rejected, top)], scores

    (dev_signals, dev_probs), dev_gold = dev
    threshold = np.inf
    if weight is not None:
        scores = parser.scope.combine(*dev_signals, weight)
        right = (np.array([labels[t] for t in dev_probs.argmax(1)]) == np.array(dev_gold)) & (np.array(dev_gold) != OUT_OF_SCOPE)
        threshold = float(np.quantile(scores[right], 1 - max_false_reject))
    (test_signals, test_probs), test_gold = test
    predicted, scores = decide(test_signals, test_probs, threshold)
    top = [labels[t] for t in test_probs.argmax(1)]
    # for AUROC the class-only variant ranks by the out-of-scope class's probability
    ranking = scores if weight is not None else test_probs[:, ~in_scope].sum(1) if (~in_scope).any() else -test_probs.max(1)
    m = scope_metrics(test_gold, predicted, top, test_probs.max(1), ranking)
    return {k: getattr(m, k) for k in KEYS} | {"threshold": None if weight is None else round(threshold, 4)}


def overhead(parser: Parser, examples, n=300) -> dict:
    """Median time of the rejection step against a whole single-utterance parse (one thread)."""
    parse_ms, scope_ms = [], []
    for e in examples[:n]:
        text = " ".join(e.tokens)
        t0 = time.perf_counter()
        parser.parse(text)
        parse_ms.append(1000 * (time.perf_counter() - t0))
        raw = parser.run([e.tokens])
        t0 = time.perf_counter()
        parser.scope.score(raw.logits, raw.pooled)
        scope_ms.append(1000 * (time.perf_counter() - t0))
    return {"parse_p50_ms": round(float(np.median(parse_ms)), 3), "rejection_p50_us": round(1000 * float(np.median(scope_ms)), 1),
            "rejection_share_of_parse": round(float(np.median(scope_ms) / np.median(parse_ms)), 4)}


def main() -> None:
    ap = arguments(__doc__, "oos.json")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "clinc150"))
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--max-false-reject", type=float, default=0.01)
    ap.add_argument("--model", default="/tmp/assistant-bench/clinc150")
    ap.add_argument("--reuse", action="store_true", help="score an already trained --model instead of training")
    args = ap.parse_args()
    log_progress()

    data = load_training_data(args.data)
    values = recipe_values(args.recipe)
    started = time.monotonic()
    if not args.reuse:
        train(args.data, args.model, config=recipe(epochs=args.epochs, max_false_reject=args.max_false_reject, threads=args.threads,
                                                   **values))
    train_seconds = time.monotonic() - started
    parser = Parser(args.model, threads=1)
    dev = (outputs(parser, data.dev), [e.intent for e in data.dev])
    test = (outputs(parser, data.test), [e.intent for e in data.test])
    served = parser.scope.params
    results = {
        "date": date.today().isoformat(),
        "machine": machine(),
        "command": "python scripts/bench_oos.py " + " ".join(sys.argv[1:]),
        "model": {"epochs": args.epochs, "train_threads": args.threads or "default", "train_seconds": round(train_seconds, 1) if not args.reuse else None,
                  "recipe": values,
                  "temperature": served.temperature, "weight": served.weight, "threshold": served.threshold},
        "test": {"n_in_scope": sum(e.intent != OUT_OF_SCOPE for e in data.test), "n_out_of_scope": sum(e.intent == OUT_OF_SCOPE for e in data.test)},
        "variants": {
            "trained_class": variant(parser, None, dev, test, args.max_false_reject),
            "confidence_threshold": variant(parser, 0.0, dev, test, args.max_false_reject),
            "distance_only": variant(parser, 1.0, dev, test, args.max_false_reject),
            "combined": variant(parser, served.weight, dev, test, args.max_false_reject),
        },
        "latency": overhead(parser, data.test),
    }
    results.update({k: results["variants"]["combined"][k] for k in KEYS})
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print("\n| variant | in-scope acc | OOS recall | OOS precision | AUROC | ECE |\n| --- | --- | --- | --- | --- | --- |")
    for name, v in results["variants"].items():
        print(f"| {name} | {v['in_scope_acc']} | {v['oos_recall']} | {v['oos_precision']} | {v['auroc']} | {v['ece']} |")


if __name__ == "__main__":
    main()
