"""`assistant parse --input --ray`: the corpus job on a Ray cluster (here a local instance), the same results as here."""

from __future__ import annotations

import json
import random

import pytest

from test_cli import assistant

pytest.importorskip("ray")


def test_the_ray_job_gives_the_local_results_line_for_line(tiny_model, tmp_path):
    rng = random.Random(3)
    words = "turn switch on off the kitchen bedroom lounge office lights lamp set a timer for ten five minutes please now what is it".split()
    fixed = ["switch off the bedroom lights", "set a timer for ten minutes", "what is the meaning of life", ""]
    lines = [rng.choice(fixed) if i % 3 == 0 else " ".join(rng.choices(words, k=rng.randint(1, 9))) for i in range(10_000)]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n")

    here = assistant("parse", "--model", str(tiny_model), "--input", str(corpus), "--output", str(tmp_path / "here.jsonl"))
    assert here.returncode == 0, here.stderr
    there = assistant("parse", "--model", str(tiny_model), "--input", str(corpus), "--output", str(tmp_path / "ray"), "--ray", "--jobs", "2")
    assert there.returncode == 0, there.stderr

    local = [json.loads(line) for line in (tmp_path / "here.jsonl").read_text().splitlines()]
    rows = [json.loads(line) for path in sorted((tmp_path / "ray").glob("*.json")) for line in path.read_text().splitlines()]
    assert len(rows) == len(local) == len(lines)
    # Each row keeps its text, the flat columns agree with the whole result, and the results are the local ones:
    # compared as (text, result) pairs, since Ray names its output files by task, not by position.
    for row in rows:
        result = json.loads(row["result"])
        assert row["text"] == result["text"] and row["in_scope"] == result["in_scope"] and row["source"] == result["source"]
        assert row["intent"] == (result["intent"]["name"] if result["intent"] else None)
    assert sorted(json.dumps(json.loads(r["result"]), sort_keys=True) for r in rows) == sorted(json.dumps(r, sort_keys=True) for r in local)
    assert sum(r["in_scope"] for r in local) > 1000  # the corpus exercises the grammar and the model, not only rejections
