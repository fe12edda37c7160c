"""`assistant evaluate`: a model folder scored on labelled data, as JSON, a confusion-matrix plot and a reliability plot."""

from __future__ import annotations

import logging
from pathlib import Path

from assistant.intents.example import Example
from assistant.nlu.metrics import Metrics
from assistant.nlu.runtime import Parser

log = logging.getLogger(__name__)


HEADLINE = ("intent_acc", "slot_f1", "sentence_acc")


def compare(new: Path, served: Path | None, examples: list[Example], out: Path) -> dict:
    """The new model and the one in service scored by the neural model alone on the same held-out sentences (the
    new version's dev split); the new one's full report (metrics, confusion and reliability plots) written to
    `out`, the comparison too (`comparison.json`). A served model that lacks an intent of the new domain gets
    its sentences wrong: that is what retraining adds."""
    import json

    scored = evaluate(new, examples, out, title=f"{new.name} (dev, {len(examples)} sentences)")
    comparison = {"sentences": len(examples), "new": {"version": new.name, **scored.model_dump(include=set(HEADLINE))}, "served": None}
    if served is not None:
        try:
            before = Parser(served).evaluate(examples)
            comparison["served"] = {"version": served.name, **before.model_dump(include=set(HEADLINE))}
        except Exception as e:  # noqa: BLE001  a broken served folder must not fail the new version's report
            log.warning("could not score the served model %s: %s", served, e)
    (out / "comparison.json").write_text(json.dumps(comparison, indent=1) + "\n", encoding="utf-8")
    return comparison


def _pyplot(what: str):
    """matplotlib's pyplot drawing to files (no screen needed), or None with a warning when it is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: no %s plot (pip install matplotlib)", what)
        return None
    return plt


def _save(plt, fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_confusion(metrics: Metrics, path: Path, title: str) -> Path | None:
    """Row-normalised confusion matrix as a PNG; None when matplotlib is not installed."""
    plt = _pyplot("confusion")
    if plt is None:
        return None
    import numpy as np

    names = sorted(set(metrics.confusion) | {p for row in metrics.confusion.values() for p in row})
    index = {n: i for i, n in enumerate(names)}
    grid = np.zeros((len(names), len(names)))
    for gold, row in metrics.confusion.items():
        for pred, count in row.items():
            grid[index[gold], index[pred]] = count
    grid = grid / np.maximum(grid.sum(1, keepdims=True), 1)
    size = max(5.0, 0.28 * len(names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(grid, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(f"{title}\nintent acc {metrics.intent_acc:.2f}  slot F1 {metrics.slot_f1:.2f}  sentence acc {metrics.sentence_acc:.2f}", fontsize=9)
    return _save(plt, fig, path)


def plot_reliability(metrics: Metrics, path: Path, title: str) -> Path | None:
    """Reliability diagram: accuracy against confidence per bin; a calibrated model follows the diagonal."""
    if metrics.scope is None:
        return None
    plt = _pyplot("reliability")
    if plt is None:
        return None
    bins = metrics.scope.reliability
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.bar([(b["low"] + b["high"]) / 2 for b in bins], [b["accuracy"] for b in bins], width=[b["high"] - b["low"] for b in bins],
           edgecolor="black", alpha=0.7, label="accuracy in bin")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-", color="crimson", label="mean confidence")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence of the top intent")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{title}\nECE {metrics.scope.ece:.4f}", fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    return _save(plt, fig, path)


def evaluate(model_folder: Path, examples: list[Example], out: Path | None = None, title: str = "") -> Metrics:
    """Score a model folder on examples; with `out`, write metrics.json, confusion.png and reliability.png there."""
    metrics = Parser(model_folder).evaluate(examples)
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(metrics.model_dump_json(indent=2) + "\n", encoding="utf-8")
        plot_confusion(metrics, out / "confusion.png", title or str(model_folder))
        plot_reliability(metrics, out / "reliability.png", title or str(model_folder))
    return metrics
