"""The runtime: text in, intent and slots out, from the int8 ONNX model alone."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from assistant.nlu import bundle
from assistant.nlu.runtime import Parser


def test_parses_intent_and_slot_with_offsets_and_canonical_value(tiny_parser):
    result = tiny_parser.parse("please turn on the lounge lights")
    assert result.intent.name == "LightsOn"
    assert 0.5 < result.intent.confidence <= 1.0
    [room] = result.entities
    assert (room.slot, room.text, room.value) == ("room", "lounge", "living room")
    assert result.text[room.start : room.end] == "lounge"


def test_durations_resolve_to_seconds(tiny_parser):
    result = tiny_parser.parse("set a timer for an hour and a half")
    assert result.intent.name == "SetTimer"
    [duration] = result.entities
    assert duration.type == "duration"
    assert duration.value == 5400


def test_ranking_is_sorted_and_covers_every_intent(tiny_parser):
    result = tiny_parser.parse("switch the kitchen light off")
    names = [r.name for r in result.intent_ranking]
    confidences = [r.confidence for r in result.intent_ranking]
    assert sorted(names) == ["LightsOff", "LightsOn", "SetTimer"]
    assert confidences == sorted(confidences, reverse=True)
    assert abs(sum(confidences) - 1.0) < 1e-2


def test_batch_gives_the_same_results_as_one_by_one(tiny_parser):
    texts = ["turn on the kitchen lights", "set a 5 minute timer", "", "lights off in the study please"]
    batch = tiny_parser.parse_batch(texts)
    single = [tiny_parser.parse(t) for t in texts]
    assert [r.text for r in batch] == texts

    def key(r):
        return (r.intent and r.intent.name, [(e.slot, e.start, e.end, e.value) for e in r.entities])

    assert [key(r) for r in batch] == [key(r) for r in single]
    # int8 activations are quantised per batch, so confidences may move a little with batch-mates
    for b, s in zip(batch, single):
        if s.intent:
            assert abs(b.intent.confidence - s.intent.confidence) < 0.03


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "?!."])
def test_input_without_words_gets_an_answer_not_an_error(tiny_parser, text):
    result = tiny_parser.parse(text)
    assert result.intent is None and result.entities == [] and not result.in_scope
    if not text.strip():
        assert result.warnings == ["empty input: no words to understand"]
    else:  # punctuation alone reaches the model, which finds nothing in it
        assert result.source == "model" and result.rejected_by is not None


def test_very_long_input_is_truncated_with_a_warning(tiny_parser):
    text = "turn on the kitchen lights " * 400  # over 10,000 characters
    assert len(text) > 10_000
    result = tiny_parser.parse(text)
    # four hundred commands in a row are unlike anything trained: rejecting them is a fine answer too
    assert result.intent is None or result.intent.name == "LightsOn"
    assert any("truncated" in w for w in result.warnings)
    assert all(e.end <= len(text) for e in result.entities)


@pytest.mark.parametrize("text", ["allume la lumière de la cuisine", "台所の電気をつけて", "turn on the café lights ☕", "\u0301\u200b"])
def test_non_ascii_input_gets_an_answer(tiny_parser, text):
    result = tiny_parser.parse(text)
    assert result.text == text
    for e in result.entities:
        assert text[e.start : e.end] == e.text


def test_parsing_never_imports_torch_or_transformers(tiny_model):
    code = (
        "import sys, json\n"
        "from assistant import Parser\n"
        f"r = Parser({str(tiny_model)!r}).parse('turn off the bedroom lights')\n"
        "print(json.dumps([r.intent.name, 'torch' in sys.modules, 'transformers' in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == ["LightsOff", False, False]


def test_model_folder_is_self_contained(tiny_model):
    names = {p.name for p in tiny_model.iterdir()}
    assert {bundle.ONNX_INT8, bundle.TOKENIZER, bundle.LABELS, bundle.DOMAIN, bundle.METADATA} <= names
    metadata = json.loads((tiny_model / bundle.METADATA).read_text())
    assert metadata["data_hash"] and metadata["base_model"] and metadata["created"]
    assert metadata["metrics"]["dev"]["intent_acc"] > 90
    assert metadata["export"]["fp32"]["max_abs_diff_intent_logits"] < 1e-3


@pytest.mark.parametrize("damage", ["missing onnx", "corrupt onnx", "bad labels", "missing folder"])
def test_a_broken_model_folder_is_rejected_with_the_reason(tiny_model, tmp_path, damage):
    import shutil

    folder = tmp_path / "broken"
    shutil.copytree(tiny_model, folder)
    if damage == "missing onnx":
        (folder / bundle.ONNX_INT8).unlink()
    elif damage == "corrupt onnx":
        (folder / bundle.ONNX_INT8).write_bytes(b"not a model")
    elif damage == "bad labels":
        (folder / bundle.LABELS).write_text('{"intents": []}')
    else:
        shutil.rmtree(folder)
    with pytest.raises(bundle.ModelLoadError) as error:
        Parser(folder)
    assert str(folder) in str(error.value)
