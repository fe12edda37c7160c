#!/usr/bin/env python
"""Learning curve: how well the joint model learns from little data, beside a classical baseline.

SNIPS and ATIS are cut to 5, 10 and 25 % of their training split (seeded samples, the same for both
systems) and each cut trains:

- ours: the MiniLM joint model with the benchmark recipe (`bench_nlu.py`'s epochs), scored as int8 ONNX
  on the whole test split, the checkpoint chosen on the whole dev split. A small cut has few batches an
  epoch, so it trains at least `--min-steps` optimiser steps (more epochs: the recipe's `min_steps`,
  600 here against the product's 300, as this benchmark has always run);
- the baseline, a few lines of scikit-learn: TF-IDF (word 1-2 grams) + logistic regression for the
  intent, a linear-chain CRF (sklearn-crfsuite, the usual word-shape and neighbour features) for the
  slots.

At 100 % ours is the full-data model of `docs/benchmarks/nlu.json` (the same recipe; `--train-full`
trains it here instead), the baseline is trained here. Figures use `assistant.nlu.metrics.score`, the
conlleval-style scoring every NLU figure here uses.

    pip install -e ".[train,bench]"
    python scripts/bench_learning_curve.py                       # writes docs/benchmarks/learning_curve.json
    python scripts/bench_learning_curve.py --datasets atis --fractions 5 10
"""

from __future__ import annotations

import json
import random
import shutil
import sys
import time
from datetime import date
from pathlib import Path

from bench_nlu import EPOCHS, HEADLINE
from benchlib import ROOT, arguments, log_progress, machine, recipe, recipe_values

from assistant.intents.example import Example  # noqa: E402
from assistant.intents.jointbert import load_jointbert  # noqa: E402
from assistant.nlu.metrics import score  # noqa: E402


def cut(source: Path, fraction: float, seed: int, into: Path) -> Path:
    """A JointBERT folder with a seeded `fraction` of `source`'s train split and its whole dev and test splits."""
    lines = {name: (source / "train" / name).read_text(encoding="utf-8").splitlines() for name in ("seq.in", "seq.out", "label")}
    rows = sorted(random.Random(seed).sample(range(len(lines["label"])), max(1, round(fraction * len(lines["label"])))))
    (into / "train").mkdir(parents=True, exist_ok=True)
    for name, content in lines.items():
        (into / "train" / name).write_text("".join(content[i] + "\n" for i in rows), encoding="utf-8")
    for split in ("dev", "test"):
        shutil.copytree(source / split, into / split, dirs_exist_ok=True)
    for name in ("intent_label.txt", "slot_label.txt"):
        shutil.copy(source / name, into / name)
    return into


def word_features(words: list[str], i: int) -> dict:
    """The classic CRF features of a word: itself, its shape and affixes, and its neighbours within two."""
    word = words[i]
    features = {"bias": 1.0, "w": word.lower(), "suffix3": word[-3:].lower(), "prefix3": word[:3].lower(),
                "digit": word.isdigit(), "has_digit": any(c.isdigit() for c in word), "title": word.istitle()}
    for offset in (-2, -1, 1, 2):
        j = i + offset
        features[f"w{offset:+d}"] = words[j].lower() if 0 <= j < len(words) else ("<s>" if j < 0 else "</s>")
    features["w-1|w"] = f"{features['w-1']}|{features['w']}"
    features["w|w+1"] = f"{features['w']}|{features['w+1']}"
    return features


def sentence_features(example: Example) -> list[dict]:
    return [word_features(example.tokens, i) for i in range(len(example.tokens))]


def baseline(train: list[Example], test: list[Example]) -> dict:
    """TF-IDF + logistic regression for intents, a CRF for slots: trained on `train`, scored on `test`."""
    import sklearn_crfsuite
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    started = time.monotonic()
    intents = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LogisticRegression(C=10.0, max_iter=2000))
    intents.fit([" ".join(e.tokens) for e in train], [e.intent for e in train])
    crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=0.1, c2=0.1, max_iterations=200, all_possible_transitions=True)
    crf.fit([sentence_features(e) for e in train], [e.tags for e in train])
    seconds = time.monotonic() - started
    predicted_intents = list(intents.predict([" ".join(e.tokens) for e in test]))
    predicted_tags = crf.predict([sentence_features(e) for e in test])
    m = score([e.intent for e in test], [e.tags for e in test], predicted_intents, [list(t) for t in predicted_tags])
    return {k: getattr(m, k) for k in HEADLINE} | {"train_seconds": round(seconds, 1)}


def ours(folder: Path, out: Path, epochs: int, min_steps: int, threads: int | None, values: dict) -> dict:
    """The joint model trained on `folder` with the benchmark recipe, scored as int8 on its test split."""
    from assistant.nlu.train import planned_epochs, train

    config = recipe(threads=threads, epochs=epochs, min_steps=min_steps, **values)
    epochs = planned_epochs(len(load_jointbert(folder, "train")), config)
    started = time.monotonic()
    trained = train(folder, out, config=config)
    m = trained.metadata.metrics["test_no_reject"]
    return {k: m[k] for k in HEADLINE} | {"train_seconds": round(time.monotonic() - started, 1), "epochs": epochs,
                                          "epochs_run": trained.metadata.epochs_run, "best_epoch": trained.metadata.best_epoch}


def main() -> None:
    ap = arguments(__doc__, "learning_curve.json")
    ap.add_argument("--datasets", nargs="+", default=["snips", "atis"])
    ap.add_argument("--fractions", nargs="+", type=float, default=[5, 10, 25, 100], help="percent of train")
    ap.add_argument("--data-root", default=str(ROOT.parent / "shared" / "datasets"))
    ap.add_argument("--seed", type=int, default=0, help="which examples each cut keeps")
    ap.add_argument("--min-steps", type=int, default=600, help="optimiser steps a small cut trains at least")
    ap.add_argument("--train-full", action="store_true", help="train ours on 100 %% here instead of reading nlu.json")
    ap.add_argument("--nlu-json", default=str(ROOT / "docs" / "benchmarks" / "nlu.json"), help="the full-data figures")
    ap.add_argument("--work", default="/tmp/assistant-learning-curve", help="where the cuts and models go")
    args = ap.parse_args()
    log_progress()
    values = recipe_values(args.recipe)

    path = Path(args.json)
    results = json.loads(path.read_text()) if path.exists() else {}
    results.update({"date": date.today().isoformat(), "machine": machine(),
                    "command": "python scripts/bench_learning_curve.py " + " ".join(sys.argv[1:]),
                    "seed": args.seed, "min_steps": args.min_steps, "recipe": values})
    curves = results.setdefault("datasets", {})
    work = Path(args.work)
    for name in args.datasets:
        source = Path(args.data_root) / name
        test = load_jointbert(source, "test")
        for percent in args.fractions:
            key = f"{percent:g}"
            folder = source if percent >= 100 else cut(source, percent / 100, args.seed, work / f"{name}-{key}")
            train_set = load_jointbert(folder, "train")
            point = {"n_train": len(train_set), "date": results["date"], "command": results["command"], "baseline": baseline(train_set, test)}
            if percent >= 100 and not args.train_full:
                full = json.loads(Path(args.nlu_json).read_text())["datasets"][name]
                point["ours"] = {k: full["int8"][k] for k in HEADLINE} | {
                    "train_seconds": full["train_seconds"], "epochs_run": full["epochs_run"], "best_epoch": full["best_epoch"],
                    "from": f"nlu.json ({full.get('date', '?')})"}
            else:
                point["ours"] = ours(folder, work / f"model-{name}-{key}", EPOCHS.get(name, 10), args.min_steps, args.threads, values)
            point["ours_minus_baseline"] = {k: round(point["ours"][k] - point["baseline"][k], 2) for k in HEADLINE}
            curves.setdefault(name, {})[key] = point
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(results, indent=2) + "\n")
            print(json.dumps({name: {key: point}}), flush=True)
    print(table(results))


def table(results: dict) -> str:
    rows = ["| dataset | train share (examples) | ours: intent / slot F1 / sentence | baseline: intent / slot F1 / sentence | ours, train time |",
            "| --- | --- | --- | --- | --- |"]
    for name, curve in results["datasets"].items():
        for key, p in sorted(curve.items(), key=lambda kv: float(kv[0])):
            figures = lambda r: " / ".join(f"{r[k]:.2f}" for k in HEADLINE)  # noqa: E731
            rows.append(f"| {name} | {key} % ({p['n_train']}) | {figures(p['ours'])} | {figures(p['baseline'])} | "
                        f"{p['ours']['train_seconds'] / 60:.1f} min |")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
