"""Audio in, understanding out: speech recognition then the NLU, with what each step cost.

One `Pipeline` serves the CLI, the microphone loop, the daemon and the
benchmark, so they all measure and report the same thing. A spoken command and
a typed one give the same result schema, the NLU's `ParseResult`, with the
transcript and timings added.
"""

from __future__ import annotations

import logging
import time

from pydantic import BaseModel, Field

from assistant.nlu.result import ParseResult
from assistant.speech.audio import Audio, resample
from assistant.speech.engines import PAD_SECONDS, Mode, Recognizer, Stream, Transcript, shift_words, transcribe

log = logging.getLogger(__name__)


class Timings(BaseModel):
    audio_s: float | None = Field(None, description="Length of the audio; null for text input.")
    asr_ms: float | None = Field(None, description="Speech recognition time; null for text input.")
    nlu_ms: float = Field(description="Parse time of the transcript.")
    latency_ms: float = Field(description="From the end of the audio (or the text) to the result: what a user waits.")


class RecognizeResult(ParseResult):
    """A `ParseResult` of what was said, with the transcript it was parsed from and the time it took."""

    asr: Transcript | None = Field(None, description="The transcript, its confidence, word timings and the mode that produced it; null for text input.")
    timings: Timings


class Pipeline:
    """A recogniser and a parser, loaded once. Thread-safe, like both of them."""

    def __init__(self, recognizer: Recognizer | None, parser, mode: Mode | None = None):
        self.recognizer = recognizer
        self.parser = parser
        self.mode = mode

    def _mode(self, mode: Mode | None) -> Mode | None:
        """The mode asked for (strict), else the configured default when the recogniser has it, else its own default."""
        if mode:
            return mode
        if self.recognizer is not None and self.mode in self.recognizer.modes():
            return self.mode
        return None

    def recognize_text(self, text: str) -> RecognizeResult:
        started = time.perf_counter()
        parsed = self.parser.parse(text)
        ms = (time.perf_counter() - started) * 1000
        return RecognizeResult(**parsed.model_dump(), timings=Timings(nlu_ms=round(ms, 2), latency_ms=round(ms, 2)))

    def transcribe(self, audio: Audio, mode: Mode | None = None) -> Transcript:
        return transcribe(self._need_recognizer(), audio, self._mode(mode))

    def recognize_audio(self, audio: Audio, mode: Mode | None = None) -> RecognizeResult:
        """A whole clip: all of the work happens after the audio ends, so latency is ASR plus NLU."""
        started = time.perf_counter()
        transcript = self.transcribe(audio, mode)
        asr_ms = (time.perf_counter() - started) * 1000
        return self.understand(transcript, audio.seconds, asr_ms, started)

    def understand(self, transcript: Transcript, audio_s: float | None, asr_ms: float | None, since: float) -> RecognizeResult:
        """Parse a transcript; `since` is the perf_counter time the audio ended."""
        nlu_started = time.perf_counter()
        parsed = self.parser.parse(transcript.text)
        done = time.perf_counter()
        timings = Timings(audio_s=None if audio_s is None else round(audio_s, 3), asr_ms=None if asr_ms is None else round(asr_ms, 2),
                          nlu_ms=round((done - nlu_started) * 1000, 2), latency_ms=round((done - since) * 1000, 2))
        return RecognizeResult(**parsed.model_dump(), asr=transcript, timings=timings)

    def stream(self, mode: Mode | None = None, partials: bool = True) -> "PipelineStream":
        return PipelineStream(self, self._need_recognizer().stream(self._mode(mode), partials))

    def _need_recognizer(self) -> Recognizer:
        if self.recognizer is None:
            raise ValueError("this pipeline has no speech recogniser (text only)")
        return self.recognizer


class PipelineStream:
    """An utterance as it is spoken: feed audio (any rate, resampled), read partials, finish for the result."""

    def __init__(self, pipeline: Pipeline, stream: Stream):
        self.pipeline = pipeline
        self.stream = stream
        self.seconds = 0.0
        self.asr_ms = 0.0
        self.padded = False

    @property
    def endpoint(self) -> bool:
        return self.stream.endpoint

    def feed(self, audio: Audio) -> str | None:
        """Feed a chunk; the partial transcript when it changed."""
        rate = self.pipeline.recognizer.rate
        started = time.perf_counter()
        if not self.padded:
            self.stream.feed(bytes(2 * int(rate * PAD_SECONDS)))
            self.padded = True
        partial = self.stream.feed(resample(audio, rate).pcm)
        self.asr_ms += (time.perf_counter() - started) * 1000
        self.seconds += audio.seconds
        return partial

    def finish(self) -> RecognizeResult:
        """The final transcript, parsed; latency counts from this call, when the audio has ended."""
        started = time.perf_counter()
        rate = self.pipeline.recognizer.rate
        if self.padded:
            self.stream.feed(bytes(2 * int(rate * PAD_SECONDS)))
        transcript = self.stream.finish()
        if self.padded:
            transcript = shift_words(transcript, -PAD_SECONDS, self.seconds)
        self.asr_ms += (time.perf_counter() - started) * 1000
        return self.pipeline.understand(transcript, self.seconds, self.asr_ms, started)

    def close(self) -> None:
        self.stream.close()


def load_pipeline(settings, engine: str | None = None, vosk_model: str | None = None, model: str | None = None,
                  mode: Mode | None = None, speech: bool = True) -> Pipeline:
    """The NLU model of the settings (trained on first use) and, with `speech`, the chosen engine biased to its domain."""
    from pathlib import Path

    from assistant.cli import ensure_model
    from assistant.nlu.runtime import Parser
    from assistant.speech.engines import load_recognizer

    folder = Path(model) if model else ensure_model(settings)
    parser = Parser(folder, threads=settings.nlu.threads or None)
    recognizer = load_recognizer(settings, parser.domain, engine, vosk_model) if speech else None
    return Pipeline(recognizer, parser, mode or settings.speech.mode)


def listen(pipeline, blocks, max_seconds: float = 30.0, on_partial=None, rate: int | None = None):
    """Utterances from a stream of 16-bit mono PCM blocks at the recogniser's rate (the microphone), one result each.

    `rate` is the blocks' sample rate (default: the recogniser's).
    `pipeline` is a `Pipeline` or a function returning the current one (the
    daemon swaps its pipeline on reload; each utterance starts on the newest).
    An utterance ends when the engine hears its end (trailing silence) or at
    `max_seconds`; silence alone yields nothing.
    """
    import numpy as np

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
