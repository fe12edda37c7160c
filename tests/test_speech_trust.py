"""Knowing when not to act: what a recogniser heard unsure is answered "not understood", never as a confident intent."""

from __future__ import annotations

import pytest

from speech_fixtures import needs_espeak, speak

pytest.importorskip("pocketsphinx")

from assistant.speech.audio import load_audio  # noqa: E402
from assistant.speech.pipeline import Pipeline, trust  # noqa: E402
from assistant.speech.result import Transcript, WordTiming  # noqa: E402
from assistant.speech.sphinx_engine import SphinxRecognizer  # noqa: E402


@pytest.fixture(scope="module")
def pipeline(tiny_parser):
    return Pipeline(SphinxRecognizer(tiny_parser.domain), tiny_parser)


def heard(text: str, confidence: float, confidences: dict | None = None) -> Transcript:
    words = [WordTiming(word=w, start=i * 0.3, end=i * 0.3 + 0.3, confidence=(confidences or {}).get(w, confidence))
             for i, w in enumerate(text.split())]
    return Transcript.of_words(words, "pocketsphinx", "en-us", "domain")


@pytest.mark.parametrize("text", ["tumble flick you to lights", "turn on the kitchen lights", "lights off in the bedroom",
                                  "set a timer for five minutes", "turn on the bathroom light on"])
def test_a_transcript_heard_unsure_is_not_acted_on(pipeline, text):
    result = pipeline.understand(heard(text, 0.05), 2.0, 100.0, 0.0)
    assert result.intent is None and result.entities == [] and result.rejected_by == "low_asr_confidence"
    assert any(w.startswith("didn't catch that") for w in result.warnings)


def test_the_same_transcript_heard_sure_is_acted_on(pipeline):
    result = pipeline.understand(heard("turn on the kitchen lights", 0.99), 2.0, 100.0, 0.0)
    assert result.intent.name == "LightsOn" and result.entities[0].value == "kitchen" and result.rejected_by is None


def test_an_action_word_heard_unsure_never_flips_the_action(pipeline):
    sure_but_off = heard("turn off the kitchen lights", 0.97, {"off": 0.02})
    result = pipeline.understand(sure_but_off, 2.0, 100.0, 0.0)
    assert result.intent is None and result.rejected_by == "low_asr_confidence" and '"off"' in result.warnings[-1]


def test_text_is_trusted_as_typed(pipeline):
    assert trust(pipeline.parser.parse("turn on the kitchen lights"), Transcript.of_words([], "x", "y", "free"), None).intent is not None


@needs_espeak
def test_a_garbled_hearing_of_turn_off_never_turns_the_lights_on(pipeline, tmp_path):
    """espeak-ng's default voice, which pocketsphinx mishears: the answer is off, or not understood; never on."""
    result = pipeline.recognize_audio(load_audio(speak("turn off the kitchen lights", tmp_path / "off.wav", voice="en")))
    assert result.intent is None or result.intent.name == "LightsOff", (result.asr.text, result.asr.confidence)


def test_a_near_miss_repaired_at_great_cost_is_not_acted_on(pipeline):
    """Each engine bounds what a repair may cost (fitted on the calibration clips): garbled speech repairs dearly."""
    from types import SimpleNamespace

    from assistant.speech.recognizer import Trust

    near = pipeline.parser.parse("turn on the kitchen light please now", repair=True)
    assert near.intent.name == "LightsOn" and near.repair is not None and near.repair.cost > 0.5
    strict, lenient = SimpleNamespace(trust=Trust(max_cost=0.5)), SimpleNamespace(trust=Trust(max_cost=2.0))
    sure = heard("turn on the kitchen light please now", 0.99)
    refused = trust(near, sure, strict)
    assert refused.intent is None and refused.rejected_by == "low_asr_confidence" and "repair cost" in refused.warnings[-1]
    assert trust(near, sure, lenient).intent.name == "LightsOn"
    assert trust(pipeline.parser.parse("turn on the kitchen light", repair=True), sure, strict).intent.name == "LightsOn"


def test_a_sentence_of_several_intents_is_judged_as_the_model_s_answer(pipeline):
    """A sentence the templates of several intents say is settled by the model: "turn the living room land with
    each" (a colour, or a device switched on?) must meet the model's bars, not those of a sentence of one meaning."""
    from types import SimpleNamespace

    from assistant.speech.recognizer import Trust

    engine = SimpleNamespace(trust=Trust(grammar=0.0, model=0.9, model_intent=0.9))
    sure_of_the_words = heard("turn on the kitchen lights", 0.6)
    one_meaning = pipeline.parser.parse("turn on the kitchen lights")
    assert one_meaning.source == "grammar" and trust(one_meaning, sure_of_the_words, engine).intent.name == "LightsOn"
    chosen = one_meaning.intent.model_copy(update={"confidence": 0.45})
    several = one_meaning.model_copy(update={"ambiguous": True, "intent": chosen})
    refused = trust(several, sure_of_the_words, engine)
    assert refused.intent is None and refused.rejected_by == "low_asr_confidence"
    assert trust(several, heard("turn on the kitchen lights", 0.95), engine).intent is None  # the model was torn
    assert trust(several.model_copy(update={"intent": one_meaning.intent}), heard("turn on the kitchen lights", 0.95), engine).intent.name == "LightsOn"
