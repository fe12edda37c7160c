"""The `assistant` command: JSON out, one line per utterance from stdin, one clear line for every error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def assistant(*args, stdin: str | None = None, cwd=ROOT, env: dict | None = None):
    env = dict(os.environ, PYTHONPATH=str(ROOT)) | (env or {})
    return subprocess.run([sys.executable, "-m", "assistant", *args], input=stdin, capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def on_a_terminal(*args, env: dict | None = None) -> list[str]:
    """The command's output lines as a person at a terminal sees them (stdout is a pseudo-terminal)."""
    import pty

    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "assistant", *args], stdout=follower, stderr=subprocess.PIPE, cwd=ROOT,
                               env=dict(os.environ, PYTHONPATH=str(ROOT)) | (env or {}))
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the command exited and closed its end
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    assert process.wait(timeout=600) == 0, process.stderr.read()
    return out.decode().splitlines()


def test_parse_piped_prints_the_result_as_one_json_line(tiny_model):
    out = assistant("parse", "--model", str(tiny_model), "turn off the kitchen lights")
    assert out.returncode == 0, out.stderr
    [line] = out.stdout.splitlines()
    result = json.loads(line)
    assert result["intent"]["name"] == "LightsOff"
    assert result["entities"][0]["value"] == "kitchen"


def test_parse_on_a_terminal_prints_a_line_a_person_reads(tiny_model):
    lines = on_a_terminal("parse", "--model", str(tiny_model), "turn off the kitchen lights")
    assert len(lines) <= 3
    assert lines[0].startswith("LightsOff ") and "room=kitchen" in lines[0]
    ranked = on_a_terminal("parse", "--model", str(tiny_model), "--top", "2", "turn off the kitchen lights")
    assert ranked[0] == lines[0] and ranked[1].strip().startswith("1. LightsOff") and ranked[2].strip().startswith("2. ")
    assert json.loads(on_a_terminal("parse", "--model", str(tiny_model), "--json", "turn off the kitchen lights")[0])["intent"]


def test_parse_repairs_typos_when_asked_or_configured(tiny_model):
    """Typed text is read word for word unless asked (`--repair`, or `nlu.repair` in config.toml / the environment)."""
    typo = "swich off the bathrom light"
    asked = [json.loads(assistant("parse", "--model", str(tiny_model), *flags, typo, env=env).stdout)
             for flags, env in [(["--repair"], {}), ([], {"ASSISTANT_NLU_REPAIR": "true"}), ([], {})]]
    for result in asked[:2]:
        assert result["intent"]["name"] == "LightsOff" and result["source"] == "grammar"
        assert [(e["slot"], e["value"]) for e in result["entities"]] == [("room", "bathroom")]
        assert result["repair"]["sentence"] == "switch off the bathroom light"
    assert asked[2]["repair"] is None and asked[2]["source"] == "model"


def test_parse_dash_reads_one_utterance_a_line(tiny_model):
    lines = ["turn on the bedroom lights", "", "set a timer for 10 minutes", "é" * 20_000]
    out = assistant("parse", "--model", str(tiny_model), "-", stdin="\n".join(lines) + "\n")
    assert out.returncode == 0, out.stderr
    results = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(results) == 4
    assert results[0]["intent"]["name"] == "LightsOn"
    assert results[1]["intent"] is None and results[1]["warnings"]
    assert results[2]["entities"][0]["value"] == 600
    assert "Traceback" not in out.stderr


def test_malformed_yaml_is_one_line_naming_file_and_line(tmp_path):
    intents = tmp_path / "intents"
    intents.mkdir()
    (intents / "lights.yaml").write_text("intents:\n  LightsOn:\n    sentences:\n      - 'turn on [the light'\n")
    out = assistant("train", str(intents), "--out", str(tmp_path / "model"))
    assert out.returncode == 2
    [line] = out.stderr.strip().splitlines()
    assert f"{intents / 'lights.yaml'}:4:" in line
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "model").exists()


def test_a_missing_model_is_a_clear_error(tmp_path):
    out = assistant("parse", "--model", str(tmp_path / "nope"), "hello", cwd=tmp_path)
    assert out.returncode == 2
    assert "no model at" in out.stderr and "Traceback" not in out.stderr


def test_evaluate_writes_json_and_plot(tiny_model, tiny_domain, tmp_path):
    out = assistant("evaluate", str(tiny_model), str(tiny_domain), "--split", "dev", "--out", str(tmp_path / "eval"))
    assert out.returncode == 0, out.stderr
    metrics = json.loads(out.stdout)
    assert {"intent_acc", "slot_f1", "sentence_acc", "per_intent", "per_slot", "confusion"} <= metrics.keys()
    assert metrics["intent_acc"] >= 90 and metrics["slot_f1"] >= 85  # the tiny domain's dev split is easy: a broken model fails
    assert sum(n for row in metrics["confusion"].values() for n in row.values()) > 0
    png = (tmp_path / "eval" / "confusion.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_train_with_home_assistants_intents_beside_ours(tiny_domain, tmp_path):
    """`assistant train INTENTS --ha en --home FILE` trains on both; what it trains on is checked first."""
    import argparse

    pytest.importorskip("home_assistant_intents")
    from assistant.cli.nlu import training_source
    from assistant.intents import load_domain

    home = tmp_path / "home.yaml"
    home.write_text("areas:\n  - name: Den\n    aliases: [study room]\n")
    with training_source(argparse.Namespace(data=str(tiny_domain), ha="en", home=str(home))) as folder:
        domain = load_domain(folder)
    names = {i.reports or i.name for i in domain.intents.values()}
    assert {"LightsOn", "SetTimer", "HassTurnOn", "HassLightSet"} <= names
    assert domain.slot_types["area"].values[0].synonyms == ["study room"]
    out = assistant("train", "--ha", "xx", "--out", str(tmp_path / "m"))
    assert out.returncode == 2 and "no intents in language 'xx'" in out.stderr and "Traceback" not in out.stderr
    out = assistant("train", "--ha", "en", "--home", str(tmp_path / "absent.yaml"), "--out", str(tmp_path / "m"))
    assert out.returncode == 2 and "absent.yaml: no such file" in out.stderr


def test_version_and_empty_input():
    out = assistant("--version")
    assert out.returncode == 0 and out.stdout.startswith("assistant ")
    out = assistant("parse", "  ")
    assert out.returncode == 2 and "empty" in out.stderr and not out.stdout


def test_evaluate_on_intent_files_scores_their_dev_split_and_ends_with_a_summary(tiny_model, tiny_domain, tmp_path):
    [line] = on_a_terminal("evaluate", str(tiny_model), str(tiny_domain), "--out", str(tmp_path / "eval"))
    assert "(dev, " in line and "intent " in line and "slot F1 " in line and str(tmp_path / "eval") in line
    piped = assistant("evaluate", str(tiny_model), str(tiny_domain), "--out", str(tmp_path / "eval"))
    assert piped.returncode == 0 and json.loads(piped.stdout)["n"] > 0


def test_recognize_typed_text_on_a_terminal_and_piped(tiny_model):
    lines = on_a_terminal("recognize", "--model", str(tiny_model), "--text", "turn off the kitchen lights")
    assert lines[0].startswith("LightsOff ") and "room=kitchen" in lines[0] and 'typed "turn off the kitchen lights"' in lines[1]
    piped = assistant("recognize", "--model", str(tiny_model), "--text", "turn off the kitchen lights")
    assert json.loads(piped.stdout)["intent"]["name"] == "LightsOff" and len(piped.stdout.splitlines()) == 1


UNTRAINED = {"ASSISTANT_TRAIN_LR": "1e-9", "ASSISTANT_TRAIN_HEAD_LR": "1e-9", "ASSISTANT_TRAIN_CRF_LR": "1e-9",
             "ASSISTANT_TRAIN_MAX_PER_INTENT": "20", "ASSISTANT_TRAIN_MIN_STEPS": "0"}
"""A recipe that leaves the model as it was initialised (what a training cut short too early makes)."""


def test_train_says_on_its_last_line_whether_the_new_version_serves(tiny_domain, tmp_path):
    env = {"ASSISTANT_NLU_MODELS": str(tmp_path / "models")}
    lines = on_a_terminal("train", str(tiny_domain), "--epochs", "1", env=env | UNTRAINED)
    assert lines[-1].startswith("not serving ") and "kept inactive: dev intent accuracy" in lines[-1] and "assistant activate" in lines[-1]
    version = lines[-1].split()[2].rstrip(":")
    piped = assistant("train", str(tiny_domain), "--epochs", "1", "--activate", env=env | UNTRAINED)
    report = json.loads(piped.stdout)
    assert report["current"] and report["gate"]["forced"] and report["steps_run"] == report["steps_planned"] and not report["cut_short"]
    out = assistant("activate", version, env=env)
    assert out.returncode == 0 and json.loads(out.stdout) == {"version": version, "current": True}


def test_a_busy_port_names_the_flag(tiny_model):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        out = assistant("serve", "--model", str(tiny_model), "--port", str(taken.getsockname()[1]))
    assert out.returncode == 2 and "--port" in out.stderr and "Traceback" not in out.stderr


def test_a_corpus_shows_its_progress_in_lines_on_stderr(tiny_model, tmp_path):
    corpus = tmp_path / "in.txt"
    corpus.write_text("turn on the kitchen lights\nset a timer for five minutes\n")
    out = assistant("parse", "--model", str(tiny_model), "--input", str(corpus), "--jobs", "1")
    assert out.returncode == 0 and len(out.stdout.splitlines()) == 2 and "2/2" in out.stderr and "lines" in out.stderr
