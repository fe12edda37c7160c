"""`assistant parse --input`: a corpus parsed in batches, one JSON line out for every line in, in order."""

from __future__ import annotations

import json

import pytest

from test_cli import assistant

from assistant.nlu.corpus import parse_corpus


def test_a_corpus_gives_one_result_a_line_in_order_with_its_fields(tiny_model, tmp_path):
    lines = []
    for i in range(600):
        kind = i % 6
        if kind == 0:
            lines.append(json.dumps({"text": f"turn on the kitchen lights number {i}", "id": i, "user": "u1"}))
        elif kind == 1:
            lines.append("{not json")
        elif kind == 2:
            lines.append(json.dumps({"id": i}))
        elif kind == 3:
            lines.append("")
        else:
            lines.append(["switch off the bedroom lights", "set a timer for ten minutes", "what is the meaning of life"][i % 3])
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n")
    out = assistant("parse", "--model", str(tiny_model), "--input", str(corpus), "--output", str(tmp_path / "out.jsonl"),
                    "--batch-size", "64")
    assert out.returncode == 0, out.stderr
    results = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(results) == len(lines)
    for i, (line, result) in enumerate(zip(lines, results)):
        kind = i % 6
        if kind == 0:
            assert result["input"] == {"id": i, "user": "u1"} and result["text"] == json.loads(line)["text"]
        elif kind in (1, 2):
            assert "error" in result and result["line"] == line
        elif kind == 3:
            assert result["intent"] is None and result["warnings"]
        else:
            assert result["text"] == line


@pytest.mark.parametrize("jobs", [1, 2])
def test_batched_results_are_the_single_parse_results(tiny_model, tiny_parser, tmp_path, jobs):
    texts = ["switch off the bedroom lights", "lights on in the lounge", "set a timer for ten minutes", "tell me a joke",
             "turn the office light on please", "start a five minute timer"] * 20
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n")
    counts = parse_corpus(tiny_model, tmp_path / "in.txt", tmp_path / "out.jsonl", batch_size=32, progress=False, jobs=jobs)
    assert counts.parsed == len(texts) and counts.skipped == 0
    for text, line in zip(texts, (tmp_path / "out.jsonl").read_text().splitlines()):
        got, single = json.loads(line), json.loads(tiny_parser.parse(text).model_dump_json())
        assert (got["intent"] or {}).get("name") == (single["intent"] or {}).get("name")
        if got["intent"]:  # a batch moves int8 confidences in the third decimal at most
            assert abs(got["intent"]["confidence"] - single["intent"]["confidence"]) < 0.01
        assert [e["value"] for e in got["entities"]] == [e["value"] for e in single["entities"]]
