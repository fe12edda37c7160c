"""Corpus parsing: 100,000 utterances through `assistant parse --input`, throughput and peak memory.

    python scripts/bench_corpus.py --model DIR       # a model of the bundled domain

The corpus is what a month of logs of the bundled domain looks like: 85 % sentences of its templates (a
quarter of them with typing slips), 8 % commands with slot values no list holds, 7 % out of scope, drawn
with a fixed seed. The command runs as a user runs it, in a process of its own (which starts one parsing
process per core); peak RSS is the largest sum of the resident memory of that process tree, sampled from
/proc every 50 ms. Writes docs/benchmarks/corpus.json.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import yaml
from benchlib import ROOT, arguments, machine

from assistant.intents import load_training_data


def corpus(path: Path, n: int, seed: int) -> None:
    data = load_training_data(ROOT / "intents", seed=seed + 1, max_per_intent=300, slips=0.25)
    said = [" ".join(e.tokens) for e in data.train + data.dev if e.intent != "out_of_scope"]
    unseen = [u["text"] for u in yaml.safe_load((ROOT / "tests" / "data" / "default_domain_unseen.yaml").read_text())]
    oos = [line for line in (ROOT / "tests" / "data" / "out_of_scope_heldout.txt").read_text().splitlines() if line.strip()]
    rng = random.Random(seed)
    with path.open("w") as f:
        for _ in range(n):
            roll = rng.random()
            f.write(rng.choice(said if roll < 0.85 else unseen if roll < 0.93 else oos) + "\n")


def sample_rss(process: subprocess.Popen, peak: list[int]) -> None:
    """The largest total resident memory (kB) of `process` and its descendants while it runs, into `peak[0]`."""
    while process.poll() is None:
        parents, rss = {}, {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                rss[int(entry.name)] = next(int(line.split()[1]) for line in (entry / "status").read_text().splitlines()
                                            if line.startswith("VmRSS:"))
            except (OSError, StopIteration, ValueError, IndexError):  # gone meanwhile, or a kernel thread
                continue
        tree, grew = {process.pid}, True
        while grew:
            more = {pid for pid, parent in parents.items() if parent in tree} - tree
            tree |= more
            grew = bool(more)
        peak[0] = max(peak[0], sum(rss.get(pid, 0) for pid in tree))
        time.sleep(0.05)


def main() -> int:
    parser = arguments(__doc__, "corpus.json")
    parser.add_argument("--model", required=True, help="model folder")
    parser.add_argument("--n", type=int, default=100_000, help="utterances")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--jobs", type=int, default=0, help="parsing processes (0: one per core, the command's default)")
    args = parser.parse_args()
    work = Path("/tmp") / f"bench-corpus-{args.seed}"
    work.mkdir(exist_ok=True)
    source, target = work / "corpus.txt", work / "parsed.jsonl"
    corpus(source, args.n, args.seed)
    started = time.perf_counter()
    run = subprocess.Popen([sys.executable, "-m", "assistant", "parse", "--model", args.model, "--input", str(source),
                            "--output", str(target), "--batch-size", str(args.batch_size), "--jobs", str(args.jobs)],
                           cwd=ROOT, stderr=subprocess.PIPE, text=True)
    peak: list[int] = [0]
    sampler = threading.Thread(target=sample_rss, args=(run, peak), daemon=True)
    sampler.start()
    stderr = run.communicate()[1]
    seconds = time.perf_counter() - started
    sampler.join()
    if run.returncode:
        print(stderr, file=sys.stderr)
        return run.returncode
    peak_mb = peak[0] / 1024
    results = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(results) == args.n
    figures = {
        "benchmark": "corpus parsing: assistant parse --input FILE --output FILE",
        "command": " ".join(["python scripts/bench_corpus.py", *sys.argv[1:]]),
        "date": date.today().isoformat(),
        "machine": machine(),
        "utterances": args.n,
        "batch_size": args.batch_size,
        "jobs": args.jobs or os.cpu_count(),
        "seconds": round(seconds, 1),
        "utterances_per_second": round(args.n / seconds),
        "peak_rss_mb": round(peak_mb),
        "answered_by_grammar": round(100 * sum(r.get("source") == "grammar" for r in results) / args.n, 1),
        "in_scope": round(100 * sum(bool(r.get("in_scope")) for r in results) / args.n, 1),
        "note": "wall clock of the whole command (start-up, model load, reading, parsing, writing JSON lines)",
    }
    Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
