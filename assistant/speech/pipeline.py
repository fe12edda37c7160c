"""Audio in, understanding out: speech recognition then the NLU, with what each step cost.

One `Pipeline` serves the CLI, the microphone loop, the daemon, the REST API
and the benchmark, so they all measure and report the same thing. A spoken
command and a typed one give the same result schema, the NLU's `ParseResult`,
with the transcript and timings added (`result.RecognizeResult`).

What was heard is parsed with near-miss repair on (a recogniser's errors are
sound-alike words), and acted on only when the recogniser was sure enough of
it: a transcript heard with low confidence, or a word that decides the action
("on", "off", "up", "down") heard with low confidence, is answered as not
understood, never as a confident intent (`trust`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator

import numpy as np
from rapidfuzz.distance import Levenshtein

from assistant.intents.match import ACTION_WORDS
from assistant.intents.sounds import phrase_similarity
from assistant.nlu.result import ParseResult, Repair
from assistant.nlu.runtime import Parser
from assistant.speech.audio import Audio, AudioError, AudioTooLong, Resampler, resample
from assistant.speech.recognizer import Busy, Mode, Recognizer, SpeechError, Stream, Trust
from assistant.speech.result import RecognizeResult, Timings, Transcript

log = logging.getLogger(__name__)

PAD_SECONDS = 0.25
"""Silence put around a clip: decoders adapt to the background in the first frames, and a clip
cut right at the first word (as synthesised speech is) loses that word without it."""


def transcribe(recognizer: Recognizer, audio: Audio, mode: Mode | None = None, chunk_seconds: float = 0.1) -> Transcript:
    """A whole clip at once, fed in chunks as a microphone would (so results match streaming exactly)."""
    audio = resample(audio, recognizer.rate)
    pad = bytes(2 * int(recognizer.rate * PAD_SECONDS))
    stream = recognizer.stream(mode, partials=False)
    try:
        pcm = pad + audio.pcm + pad
        step = 2 * max(1, int(recognizer.rate * chunk_seconds))
        for start in range(0, len(pcm), step):
            stream.feed(pcm[start : start + step])
        transcript = stream.finish()
    except BaseException:
        stream.close()
        raise
    return transcript.shifted(-PAD_SECONDS, audio.seconds)


BUSY_WAIT = 1.0
"""Seconds a new utterance waits for a free stream before it is refused as busy."""


class Pipeline:
    """A recogniser (None: text only) and a parser, loaded once. Thread-safe, like both of them.

    At most `max_streams` utterances are decoded at once (streams and whole clips alike): each holds a
    decoder, CPU and memory, so one more is refused as `Busy` after `BUSY_WAIT` rather than queued
    without end behind clients that may never finish.
    """

    def __init__(self, recognizer: Recognizer | None, parser: Parser, mode: Mode | None = None, max_streams: int = 4,
                 second: Recognizer | None = None):
        self.recognizer = recognizer
        self.parser = parser
        self.second = second
        """The engine that hears a command again when `recognizer` was too unsure to act (`second_opinion`)."""
        self.mode = mode
        self.max_streams = max_streams
        self._slots = threading.BoundedSemaphore(max_streams)

    def _slot(self) -> Callable[[], None]:
        """Take a stream slot; returns its release (safe to call twice)."""
        if not self._slots.acquire(timeout=BUSY_WAIT):
            raise Busy(f"all {self.max_streams} speech streams are in use (speech.max_streams); try again shortly")
        released = threading.Event()

        def release() -> None:
            if not released.is_set():
                released.set()
                self._slots.release()
        return release

    def _mode(self, mode: Mode | None) -> Mode | None:
        """The mode asked for (strict), else the configured default when the recogniser has it, else its own default."""
        if mode:
            return mode
        if self.recognizer is not None and self.mode in self.recognizer.modes():
            return self.mode
        return None

    def recognize_text(self, text: str, repair: bool | None = None) -> RecognizeResult:
        """Typed text (or another recogniser's transcript, with `repair`; None: as the parser repairs typed text), in
        the result schema of speech."""
        started = time.perf_counter()
        parsed = self.parser.parse(text, repair=repair)
        ms = (time.perf_counter() - started) * 1000
        return RecognizeResult(**parsed.model_dump(), timings=Timings(nlu_ms=round(ms, 2), latency_ms=round(ms, 2)))

    def transcribe(self, audio: Audio, mode: Mode | None = None) -> Transcript:
        recognizer = self._need_recognizer()
        release = self._slot()
        try:
            return transcribe(recognizer, audio, self._mode(mode))
        finally:
            release()

    def recognize_audio(self, audio: Audio, mode: Mode | None = None) -> RecognizeResult:
        """A whole clip: all of the work happens after the audio ends, so latency is ASR plus NLU."""
        started = time.perf_counter()
        transcript = self.transcribe(audio, mode)
        asr_ms = (time.perf_counter() - started) * 1000
        return self.understand(transcript, audio.seconds, asr_ms, started, audio)

    def understand(self, transcript: Transcript, audio_s: float | None, asr_ms: float | None, since: float,
                   audio: Audio | None = None) -> RecognizeResult:
        """Parse a transcript (near misses repaired) and decide whether to trust it; `since` is when the audio ended.
        With the `audio`, a command the recogniser was too unsure of is heard again by the second engine."""
        nlu_started = time.perf_counter()
        rules = getattr(self.recognizer, "trust", Trust())
        parsed = searched(self.parser, self.parser.parse(transcript.text, repair=True), transcript, rules)
        parsed = trust(parsed, transcript, self.recognizer, rules)
        if self.second is not None and audio is not None and parsed.rejected_by == "low_asr_confidence" and transcript.text:
            second_started = time.perf_counter()
            parsed, transcript = second_opinion(self.parser, parsed, transcript, self.second, audio)
            asr_ms = (asr_ms or 0.0) + (time.perf_counter() - second_started) * 1000
        done = time.perf_counter()
        timings = Timings(audio_s=None if audio_s is None else round(audio_s, 3), asr_ms=None if asr_ms is None else round(asr_ms, 2),
                          nlu_ms=round((done - nlu_started) * 1000, 2), latency_ms=round((done - since) * 1000, 2))
        return RecognizeResult(**parsed.model_dump(), asr=transcript, timings=timings)

    def stream(self, mode: Mode | None = None, partials: bool = True) -> PipelineStream:
        """A new utterance, holding one of the `max_streams` slots until it is finished or closed."""
        recognizer = self._need_recognizer()
        release = self._slot()
        try:
            return PipelineStream(self, recognizer.stream(self._mode(mode), partials), release)
        except BaseException:
            release()
            raise

    def _need_recognizer(self) -> Recognizer:
        if self.recognizer is None:
            raise SpeechError("this pipeline has no speech recogniser (text only)")
        return self.recognizer




def heard_exactly(parsed: ParseResult) -> bool:
    """Whether what was heard is a sentence of one intent's templates word for word: the search's sentence is
    not consulted for it (`searched`)."""
    return parsed.source == "grammar" and parsed.repair is None and not parsed.ambiguous


def searched(parser: Parser, parsed: ParseResult, transcript: Transcript, rules: Trust) -> ParseResult:
    """`parsed`, or the sentence of the templates the engine found in the audio (`Transcript.domain_sentence`) when
    the transcript is no sentence of the templates word for word (or one of several intents' templates) and the
    audio supports that sentence well enough (`search_doubt`). The result then reads the sentence, and its
    `repair` says how it differs from what was heard; otherwise what was heard is parsed as usual (a command the
    templates do not say goes to the model), unless the audio overrules its repair (`overruled`)."""
    sentence = transcript.domain_sentence
    if not sentence or rules.search is None or heard_exactly(parsed):
        return parsed
    scores = transcript.support([sentence, transcript.text])
    if scores is None:
        return parsed
    if search_doubt(sentence, transcript.text, scores[0], scores[1], rules, transcript.domain_margin) is not None:
        return overruled(parser, parsed, transcript, sentence, scores[0], rules, transcript.domain_margin)
    found = parser.parse(sentence)
    if found.source != "grammar" or found.intent is None:
        return parsed
    heard, meant = transcript.text.split(), sentence.split()
    edits = [f"+{' '.join(meant[c:d])}" if a == b else f"-{' '.join(heard[a:b])}" if c == d else
             f"{' '.join(heard[a:b])}->{' '.join(meant[c:d])}" for kind, a, b, c, d in Levenshtein.opcodes(heard, meant).as_list() if kind != "equal"]
    return found.model_copy(update={"repair": Repair(cost=float(Levenshtein.distance(heard, meant)), edits=edits, sentence=sentence)})


def overruled(parser: Parser, parsed: ParseResult, transcript: Transcript, sentence: str, support: float, rules: Trust,
              margin: float | None = None) -> ParseResult:
    """`parsed`, or "not understood" when it is a near miss put right and `sentence`, the domain's sentence the
    search found (and did not act on), says the audio does not bear it out:
    - the repair means something else, and the audio supports `sentence` better than the sentence it was put right
      into. Whisper writes "in two sugars with no milk" where "and two sugars with whole milk" was said and the
      audio cannot tell "no" from "whole" well enough for the search to act: the repair must not act on "no milk";
    - the repair means what `sentence` means, and the search found a command of another meaning nearly as likely
      as `sentence` (`margin`): "and pause the video" put right into "pause the video" where "unpause" was said."""
    repaired = put_right(parsed)
    if repaired is None or parsed.intent is None:
        return parsed
    if meaning(parser.parse(sentence)) == meaning(parsed):
        if margin is not None and margin < rules.search_margin:
            return not_understood(parsed, f"another command sounds nearly as likely as \"{repaired}\" (margin {margin:.2f})")
        return parsed
    if transcript.support([repaired])[0] >= support:
        return parsed
    return not_understood(parsed, f"the audio supports \"{sentence}\" better than \"{repaired}\", which means something else")


def second_opinion(parser: Parser, parsed: ParseResult, transcript: Transcript, second: Recognizer, audio: Audio
                   ) -> tuple[ParseResult, Transcript]:
    """`parsed` (a command the first engine was too unsure of to act on) and its transcript, or the second engine's
    answer to the same audio and its transcript, when that engine's bars as a second engine trust what it heard
    (`second_trust`) and the first engine's audio does not contradict it (`contradicted`).

    Two recognisers of different kinds err apart: Whisper writes "for ender lights off" for "veranda lights off",
    which pocketsphinx, held to the domain's language model, hears; pocketsphinx garbles in noise what Whisper
    keeps. The second acts only where the first declined, and a sentence it heard that the first engine's audio
    supports less well than the command the first found (of another meaning) is not acted on: "thermostat to forty
    two" where Whisper's search found "... fourteen"."""
    try:
        other, heard = hear_again(parser, transcript, second, audio)
    except SpeechError as e:  # busy, or a fault of the second engine: the first answer stands
        log.warning("the second engine did not hear the command: %s", e)
        return parsed, transcript
    answer = trust(heard, other, second, second_trust(second))
    if answer.intent is None:
        return parsed, transcript
    why = contradicted(parser, answer, parsed, transcript)
    if why is not None:
        return parsed.model_copy(update={"warnings": [*parsed.warnings, f"{other.engine} heard \"{other.text}\", but {why}"]}), transcript
    note = f"{transcript.engine} was unsure of \"{transcript.text}\"; {other.engine} heard \"{other.text}\""
    return answer.model_copy(update={"warnings": [*answer.warnings, note]}), other


def hear_again(parser: Parser, transcript: Transcript, second: Recognizer, audio: Audio) -> tuple[Transcript, ParseResult]:
    """What the second engine hears in the audio of `transcript` (in its mode, where the engine has it), parsed
    with near-miss repair as any transcript is: before its bars are applied."""
    other = transcribe(second, audio, transcript.mode if transcript.mode in second.modes() else None)
    return other, parser.parse(other.text, repair=True)


def second_trust(second: Recognizer) -> Trust:
    """The bars of an engine hearing again what another declined: its own `second_trust` where it has them (fitted
    with the first engine's, `bench_speech.py --calibrate`), else its usual ones."""
    return getattr(second, "second_trust", None) or getattr(second, "trust", Trust())


def contradicted(parser: Parser, answer: ParseResult, first: ParseResult, transcript: Transcript) -> str | None:
    """Why the first engine's audio contradicts the second engine's `answer`, or None: the first
    engine found a sentence of the templates of another meaning (its search's, its repair's, or what it heard
    word for word), and its audio supports that sentence better than the one the answer reads."""
    rival = transcript.domain_sentence or put_right(first) or (transcript.text if first.source == "grammar" else None)
    if rival is None or meaning(parser.parse(rival)) == meaning(answer):
        return None
    said = put_right(answer) or answer.text
    scores = transcript.support([said, rival])
    if scores is None or scores[0] >= scores[1]:
        return None
    return f"{transcript.engine}'s audio supports \"{rival}\" better than \"{said}\""


def put_right(parsed: ParseResult) -> str | None:
    """The sentence of the templates a near miss was put right into, for an answer of the grammar that is one;
    None for a sentence heard word for word or the model's answer."""
    if parsed.source != "grammar" or parsed.repair is None:
        return None
    return parsed.repair.sentence or None


def meaning(result: ParseResult) -> tuple:
    """What a result would have done: its intent and each slot's value."""
    return result.intent.name if result.intent else None, frozenset((e.slot, repr(e.value)) for e in result.entities)


def search_doubt(sentence: str, heard: str, support: float, heard_support: float, rules: Trust, margin: float | None = None) -> str | None:
    """Why not to act on the domain's sentence found in the audio, or None: the audio supports it too little, or
    much less than what was heard, or a command of another meaning nearly as well (`margin`), or its words are too
    unlike what was heard (a free transcript misspells a command it heard; it does not write another one), or it
    says an action word that was not heard and the audio does not prefer it ("pause" for "impose"; an action word
    heard but not in the sentence is a misheard word of it: "off" for "office")."""
    if rules.search is None or support < rules.search:
        return f"the audio supports \"{sentence}\" too little ({support:.2f})"
    if margin is not None and margin < rules.search_margin:
        return f"another command sounds nearly as likely as \"{sentence}\" (margin {margin:.2f})"
    gap = support - heard_support
    if gap < -rules.search_gap:
        return f"what was heard does not sound like \"{sentence}\" (it scores {-gap:.2f} below the transcript)"
    likeness = phrase_similarity(sentence, heard)
    if likeness < rules.search_likeness:
        return f"what was heard is too unlike \"{sentence}\" (likeness {likeness:.2f})"
    if (set(sentence.split()) - set(heard.split())) & ACTION_WORDS and gap < 0:
        return f"\"{sentence}\" says another action than was heard"
    return None


def support_gap(parsed: ParseResult, transcript: Transcript) -> float | None:
    """For a near miss put right: how much worse the audio supports the sentence it was taken for than what the
    recogniser heard (0: as well; negative: worse), when the engine can score sentences; else None."""
    repaired = put_right(parsed)
    if repaired is None:
        return None
    scores = transcript.support([repaired, transcript.text])
    return None if scores is None else scores[0] - scores[1]


def trust(parsed: ParseResult, transcript: Transcript, recognizer: Recognizer | None, rules: Trust | None = None) -> ParseResult:
    """`parsed`, or "not understood" when the recogniser was too unsure of what it heard to act on it (by `rules`,
    default the recogniser's own)."""
    if parsed.intent is None or recognizer is None or not transcript.words:
        return parsed
    why = doubt(parsed, transcript, rules or getattr(recognizer, "trust", Trust()))
    return parsed if why is None else not_understood(parsed, why)


def not_understood(parsed: ParseResult, why: str) -> ParseResult:
    """`parsed` answered "didn't catch that", saying why: the recogniser's hearing was too unsure to act on."""
    return parsed.model_copy(update={"intent": None, "entities": [], "in_scope": False, "rejected_by": "low_asr_confidence",
                                     "warnings": [*parsed.warnings, f"didn't catch that: {why}"]})


def doubt(parsed: ParseResult, transcript: Transcript, rules: Trust) -> str | None:
    """Why not to act on what was heard, or None. A near miss is judged by the audio where the engine can score
    sentences, else by the transcript's confidence and the repair's cost; every answer by its action words. A
    sentence the templates of several intents say ("turn the living room land with each": a colour, or a device
    switched on?) is the model's answer, since the model chose among them, and is judged as one."""
    cost = parsed.repair.cost if parsed.repair else 0.0
    by_model = parsed.source != "grammar" or parsed.ambiguous
    found = parsed.repair is not None and bool(parsed.repair.sentence) and parsed.repair.sentence == transcript.domain_sentence
    gap = support_gap(parsed, transcript) if rules.support_gap is not None and not found else None
    if found:  # the domain's sentence found in the audio: judged by its own bars
        scores = transcript.support([parsed.repair.sentence, transcript.text])
        why = search_doubt(parsed.repair.sentence, transcript.text, *scores, rules, transcript.domain_margin) if scores else "no support"
        if why is not None:
            return why
    elif gap is not None:
        if gap < -rules.support_gap:
            return f"what was heard does not sound like \"{parsed.repair.sentence}\" (it scores {-gap:.2f} below the transcript)"
    elif transcript.confidence < (rules.model if by_model else rules.repaired if cost else rules.grammar):
        return f"the recogniser was unsure of what it heard (confidence {transcript.confidence:.2f})"
    elif parsed.source == "grammar" and cost > rules.max_cost:
        return f"what was heard is too far from any command (repair cost {cost:.2f}: {', '.join(parsed.repair.edits)})"
    if by_model and parsed.intent.confidence < rules.model_intent:
        return f"what was heard is no clear command (intent confidence {parsed.intent.confidence:.2f})"
    unsure = [w for w in transcript.words if w.word in ACTION_WORDS and w.confidence < rules.action]
    if unsure:
        return f"the recogniser was unsure it heard \"{unsure[0].word}\" ({unsure[0].confidence:.2f})"
    return None


class PipelineStream:
    """An utterance as it is spoken: feed audio (any rate, resampled), read partials, finish for the result.

    A chunk is checked against the utterance's length limit before any work is done on it, and the
    audio goes through one streaming resampler for the whole utterance: a filter designed per chunk
    costs seconds of CPU at odd rates (and clicks at every chunk boundary).
    """

    def __init__(self, pipeline: Pipeline, stream: Stream, release: Callable[[], None] = lambda: None):
        self.pipeline = pipeline
        self.stream = stream
        self.seconds = 0.0
        self.asr_ms = 0.0
        self.padded = False
        self._release = release
        self._resampler: Resampler | None = None
        self.kept: list[bytes] | None = [] if pipeline.second is not None else None
        """The audio fed (at the recogniser's rate), for the second engine to hear again; kept only when there is one."""

    @property
    def endpoint(self) -> bool:
        return self.stream.endpoint

    def feed(self, audio: Audio) -> str | None:
        """Feed a chunk; the partial transcript when it changed."""
        recognizer = self.pipeline.recognizer
        if self.seconds + audio.seconds > recognizer.max_seconds:
            raise AudioTooLong(f"utterance longer than the {recognizer.max_seconds:g} s allowed")
        if self._resampler is None:
            self._resampler = Resampler(audio.rate, recognizer.rate)
        elif self._resampler.rate_in != audio.rate:
            raise AudioError(f"audio at {audio.rate} Hz in an utterance that started at {self._resampler.rate_in} Hz")
        started = time.perf_counter()
        if not self.padded:
            self.stream.feed(bytes(2 * int(recognizer.rate * PAD_SECONDS)))
            self.padded = True
        partial = self._pass(self._resampler.feed(audio.samples))
        self.asr_ms += (time.perf_counter() - started) * 1000
        self.seconds += audio.seconds
        return partial

    def _pass(self, samples: bytes) -> str | None:
        """Resampled audio to the engine, and kept for the second engine where there is one."""
        if self.kept is not None:
            self.kept.append(samples)
        return self.stream.feed(samples)

    def finish(self) -> RecognizeResult:
        """The final transcript, parsed; latency counts from this call, when the audio has ended."""
        try:
            started = time.perf_counter()
            rate = self.pipeline.recognizer.rate
            if self._resampler is not None:
                self._pass(self._resampler.feed(np.zeros(0, np.int16), last=True))
            if self.padded:
                self.stream.feed(bytes(2 * int(rate * PAD_SECONDS)))
            transcript = self.stream.finish()
        finally:
            self._release()
        if self.padded:
            transcript = transcript.shifted(-PAD_SECONDS, self.seconds)
        self.asr_ms += (time.perf_counter() - started) * 1000
        audio = None if not self.kept else Audio(np.frombuffer(b"".join(self.kept), dtype="<i2"), rate)
        return self.pipeline.understand(transcript, self.seconds, self.asr_ms, started, audio)

    def close(self) -> None:
        try:
            self.stream.close()
        finally:
            self._release()


def listen(pipeline: Pipeline | Callable[[], Pipeline], blocks: Iterable[bytes], max_seconds: float = 30.0,
           on_partial: Callable[[str], None] | None = None, rate: int | None = None) -> Iterator[RecognizeResult]:
    """Utterances from a stream of 16-bit mono PCM blocks at the recogniser's rate (the microphone), one result each.

    `rate` is the blocks' sample rate (default: the recogniser's).
    `pipeline` is a `Pipeline` or a function returning the current one (the
    daemon swaps its pipeline when the model changes; each utterance starts on the newest).
    An utterance ends when the engine hears its end (trailing silence) or at
    `max_seconds`; silence alone yields nothing.
    """
    current = pipeline if callable(pipeline) else (lambda: pipeline)
    stream = current().stream()
    for block in blocks:
        partial = stream.feed(Audio(np.frombuffer(block, dtype="<i2"), rate or stream.pipeline.recognizer.rate))
        if partial and on_partial is not None:
            on_partial(partial)
        if stream.endpoint or stream.seconds >= max_seconds - 1:
            result = stream.finish()
            stream = current().stream()
            if result.text:
                yield result
