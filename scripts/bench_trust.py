"""Wrong actions: sentences that name a domain's devices and actions but ask for none, through the parser.

    python scripts/bench_trust.py                                   # train both domains' models (the recipe), then score
    python scripts/bench_trust.py --bundled-model DIR --ha-model DIR  # score models trained already

Two domains: the bundled one (`intents/`) and Home Assistant's intents with the
home of its own test suite (`assistant train --ha en --home ...`). For each, two
hand-written sets kept in `tests/data/` and never trained on:

- `near_misses/DOMAIN.yaml`: by category, sentences a grammar engine rejects and a
  classifier is tempted by (negations, reports, past events, hypotheticals,
  questions about words, chatter and complaints naming devices and rooms, devices
  that do not exist, other domains' requests). `wrong_action`: the share of them
  the parser acts on (an intent comes back), typed text as served (no repair),
  and `wrong_action_repaired` with near-miss repair on, as speech and the daemon
  parse.
- `paraphrases/DOMAIN.yaml`: commands of the domain in people's words.
  `paraphrase_accepted`: the share acted on; `paraphrase_correct`: acted on as
  the intent the set names.

Writes docs/benchmarks/trust.json.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

import yaml
from benchlib import ROOT, arguments, log_progress, machine

from assistant.config import load_settings
from assistant.nlu.runtime import Parser

DATA = ROOT / "tests" / "data"
SUITE = ROOT.parent / "shared" / "datasets" / "ha_intents" / "tests" / "en"


def near_misses(domain: str) -> dict[str, list[str]]:
    return yaml.safe_load((DATA / "near_misses" / f"{domain}.yaml").read_text(encoding="utf-8"))


def paraphrases(domain: str) -> list[dict]:
    return yaml.safe_load((DATA / "paraphrases" / f"{domain}.yaml").read_text(encoding="utf-8"))


def score(parser: Parser, domain: str) -> dict:
    """The figures of one domain's model on its two sets."""
    sets = near_misses(domain)
    texts = [t for category in sets.values() for t in category]
    category_of = [c for c, category in sets.items() for _ in category]
    typed = parser.parse_batch(texts, repair=False)
    repaired = parser.parse_batch(texts, repair=True)
    acted = [r.intent is not None for r in typed]
    acted_repaired = [r.intent is not None for r in repaired]
    by_category = {c: {"n": len(sets[c]), "acted": sum(a for a, k in zip(acted, category_of) if k == c),
                       "acted_repaired": sum(a for a, k in zip(acted_repaired, category_of) if k == c)} for c in sets}
    wrong = [{"text": t, "category": c, "intent": r.intent.name, "confidence": r.intent.confidence, "source": r.source,
              "repaired": rr.intent is not None}
             for t, c, r, rr in zip(texts, category_of, typed, repaired) if r.intent is not None] + \
            [{"text": t, "category": c, "intent": rr.intent.name, "confidence": rr.intent.confidence, "source": rr.source,
              "repaired": True, "typed": False}
             for t, c, r, rr in zip(texts, category_of, typed, repaired) if r.intent is None and rr.intent is not None]
    wanted = paraphrases(domain)
    said = parser.parse_batch([p["text"] for p in wanted], repair=False)
    accepted = [r.intent is not None for r in said]
    correct = [r.intent is not None and r.intent.name == p["intent"] for p, r in zip(wanted, said)]
    declined = Counter(r.rejected_by or "none" for r in said if r.intent is None)
    started = time.perf_counter()
    for text in texts[:200]:
        parser.parse(text)
    return {
        "near_misses": len(texts),
        "wrong_action": round(100 * sum(acted) / len(texts), 2),
        "wrong_action_repaired": round(100 * sum(acted_repaired) / len(texts), 2),
        "paraphrases": len(wanted),
        "paraphrase_accepted": round(100 * sum(accepted) / len(wanted), 2),
        "paraphrase_correct": round(100 * sum(correct) / len(wanted), 2),
        "paraphrases_declined_by": dict(declined),
        "near_miss_parse_ms_mean": round(1000 * (time.perf_counter() - started) / min(200, len(texts)), 3),
        "by_category": by_category,
        "acted_on": wrong[:60],
        "paraphrases_missed": [{"text": p["text"], "intent": p["intent"], "got": r.intent.name if r.intent else None,
                                "why": r.warnings[-1] if r.warnings else r.rejected_by}
                               for p, r, ok in zip(wanted, said, correct) if not ok][:60],
    }


def train_models(work: Path, threads: int | None) -> dict[str, Path]:
    from assistant.intents.ha_tests import load_suite
    from assistant.nlu.train import train

    config = load_settings(str(ROOT / "config.toml")).train.updated(threads=threads, max_minutes=0)
    train(ROOT / "intents", work / "bundled", config=config)
    _, home = load_suite(str(SUITE))
    (work / "home.json").write_text(home.model_dump_json())  # JSON is YAML
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "ha.yaml").write_text(json.dumps({"homeassistant": {"language": "en", "home": str(work / "home.json")}}))
        train(Path(folder), work / "ha", config=config)
    return {"bundled": work / "bundled", "ha": work / "ha"}


def main() -> int:
    parser = arguments(__doc__, "trust.json")
    parser.add_argument("--bundled-model", help="a model trained on intents/ (default: train one, config.toml's recipe)")
    parser.add_argument("--ha-model", help="a model trained with --ha en on the test suite's home (default: train one)")
    parser.add_argument("--label", default="", help="a note stored with the figures (e.g. which code was measured)")
    parser.add_argument("--domains", nargs="+", choices=["bundled", "ha"], default=["bundled", "ha"], help="which domains to score")
    args = parser.parse_args()
    log_progress()
    given = {"bundled": args.bundled_model, "ha": args.ha_model}
    if all(given[d] for d in args.domains):
        models = {d: Path(given[d]) for d in args.domains}
    else:
        models = {d: m for d, m in train_models(Path(tempfile.mkdtemp(prefix="bench-trust-")), args.threads).items() if d in args.domains}
    out = {"benchmark": "wrong actions on near misses, and paraphrases accepted, for the bundled and the Home Assistant domain",
           "command": "python " + " ".join([Path(sys.argv[0]).as_posix().split("/")[-2] + "/" + Path(sys.argv[0]).name, *sys.argv[1:]]),
           "date": date.today().isoformat(), "machine": machine(), "label": args.label, "domains": {}}
    for domain, folder in models.items():
        figures = score(Parser(folder), domain)
        figures["model"] = {"folder": str(folder), **{k: v for k, v in json.loads((folder / "metadata.json").read_text()).items()
                                                      if k in ("created", "n_train", "epochs_run", "steps_run", "train_seconds")}}
        out["domains"][domain] = figures
        print(f"{domain}: wrong_action {figures['wrong_action']} % (repaired {figures['wrong_action_repaired']} %) of "
              f"{figures['near_misses']}; paraphrases accepted {figures['paraphrase_accepted']} %, correct "
              f"{figures['paraphrase_correct']} % of {figures['paraphrases']}", file=sys.stderr)
    Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
