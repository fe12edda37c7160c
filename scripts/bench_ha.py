"""Home Assistant's own English intent tests through our parser: its intents, trained as `assistant train --ha en`.

    python scripts/bench_ha.py                     # train on HA's intents + the suite's home, then score
    python scripts/bench_ha.py --model DIR         # score a model trained already

Each sentence of `tests/en` (1,110 of them) is understood when the parse has
Home Assistant's intent and every slot value the test expects
(`assistant.intents.ha_tests`). Three ways, on the same sentences:

- `exact_acc`: the parser as served (grammar-exact first, the model for the rest);
- `neural_only_acc`: the model alone, the grammar switched off;
- `repaired_acc`: each sentence with one ASR-like word error (a small word
  dropped, a filler put in, a word swapped for one that sounds alike), parsed
  as a transcript is, near-miss repair on.

Writes docs/benchmarks/ha_intents.json.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

from benchlib import ROOT, arguments, log_progress, machine

from assistant.config import load_settings
from assistant.intents.ha_tests import Case, load_suite, understood
from assistant.nlu.runtime import Parser

SUITE = ROOT.parent / "shared" / "datasets" / "ha_intents" / "tests" / "en"
SOUND_ALIKE = {"the": "a", "to": "two", "for": "four", "in": "and", "lights": "light", "light": "lights", "set": "sit",
               "turn": "tern", "what": "what's", "is": "as", "timer": "time", "minutes": "minute", "temperature": "temperatures",
               "kitchen": "kitchens", "bedroom": "bed room", "volume": "volumes", "cancel": "cancels", "open": "opened",
               "close": "closed", "start": "started", "pause": "paws", "weather": "whether", "add": "had", "my": "by"}
SMALL = {"the", "a", "to", "of", "in", "my", "is", "please", "on the", "at"}
FILLERS = ["uh", "um"]


def misheard(sentence: str, rng: random.Random) -> str:
    """The sentence with one error of the kinds recognisers make: a small word dropped, a filler put in, or a word
    heard as one that sounds alike (never a word that carries the action: "on", "off", "up", "down")."""
    words = sentence.split()
    kinds = ["filler"]
    if any(w.lower() in SMALL for w in words) and len(words) > 2:
        kinds.append("drop")
    if any(w.lower() in SOUND_ALIKE for w in words):
        kinds += ["swap", "swap"]
    kind = rng.choice(kinds)
    if kind == "drop":
        i = rng.choice([i for i, w in enumerate(words) if w.lower() in SMALL])
        return " ".join(words[:i] + words[i + 1:])
    if kind == "swap":
        i = rng.choice([i for i, w in enumerate(words) if w.lower() in SOUND_ALIKE])
        return " ".join(words[:i] + [SOUND_ALIKE[words[i].lower()]] + words[i + 1:])
    i = rng.randrange(len(words) + 1)
    return " ".join(words[:i] + [rng.choice(FILLERS)] + words[i:])


def score(parser: Parser, cases: list[Case], texts: list[str], **options) -> tuple[float, list, list]:
    results = parser.parse_batch(texts, **options)
    right = [understood(case, result) for case, result in zip(cases, results)]
    return round(100 * sum(right) / len(cases), 2), results, right


def train_model(home_file: Path, out: Path, threads: int | None) -> float:
    from assistant.nlu.train import train

    settings = load_settings(str(ROOT / "config.toml"))
    config = settings.train.updated(threads=threads)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "ha.yaml").write_text(json.dumps({"homeassistant": {"language": "en", "home": str(home_file)}}))
        started = time.monotonic()
        train(Path(folder), out, config=config)
    return time.monotonic() - started


def main() -> int:
    parser = arguments(__doc__, "ha_intents.json")
    parser.add_argument("--model", help="a model trained on Home Assistant's intents (default: train one, config.toml's recipe)")
    parser.add_argument("--suite", default=str(SUITE), help="Home Assistant's test folder for a language")
    parser.add_argument("--seed", type=int, default=0, help="seed of the word errors")
    args = parser.parse_args()
    log_progress()
    cases, home = load_suite(args.suite)
    work = Path(tempfile.mkdtemp(prefix="bench-ha-"))
    train_seconds = None
    if args.model:
        model = Path(args.model)
    else:
        home_file = work / "home.json"  # JSON is YAML
        home_file.write_text(home.model_dump_json())
        model = work / "model"
        train_seconds = round(train_model(home_file, model, args.threads), 1)
    parser_ = Parser(model)
    texts = [c.sentence for c in cases]
    exact, results, right = score(parser_, cases, texts)
    neural, _, _ = score(parser_, cases, texts, grammar=False)
    rng = random.Random(args.seed)
    heard = [misheard(t, rng) for t in texts]
    repaired, _, _ = score(parser_, cases, heard, repair=True)
    latencies = []
    for text in texts[:300]:
        started = time.perf_counter()
        parser_.parse(text)
        latencies.append((time.perf_counter() - started) * 1000)
    wrong = Counter(c.intent for c, ok in zip(cases, right) if not ok)
    examples = [{"sentence": c.sentence, "expected": {"intent": c.intent, "slots": c.slots},
                 "got": {"intent": r.intent.name if r.intent else None, "slots": {e.slot: e.value for e in r.entities}, "source": r.source}}
                for c, r, ok in zip(cases, results, right) if not ok][:20]
    figures = {
        "benchmark": "Home Assistant's English intent tests (OHF-Voice/intents tests/en) through the parser",
        "command": "python scripts/bench_ha.py" + (f" --model {args.model}" if args.model else ""),
        "date": date.today().isoformat(),
        "machine": machine(),
        "sentences": len(cases),
        "test_files": len({c.file for c in cases}),
        "exact_acc": exact,
        "neural_only_acc": neural,
        "repaired_acc": repaired,
        "grammar_share": round(100 * sum(r.source == "grammar" for r in results) / len(results), 2),
        "parse_ms_p50": round(statistics.median(latencies), 3),
        "train_seconds": train_seconds,
        "intents": len({c.intent for c in cases}),
        "wrong_by_intent": dict(wrong.most_common()),
        "wrong_examples": examples,
    }
    Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps({k: figures[k] for k in ("sentences", "exact_acc", "neural_only_acc", "repaired_acc", "grammar_share", "train_seconds")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
