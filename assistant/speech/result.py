"""What speech recognition returns: the transcript, and the understanding of a spoken (or typed) command.

Schemas only (pydantic and the NLU's `ParseResult`): the REST API, the daemon
and the Python client share them without loading an engine or audio code.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, Field, PrivateAttr

from assistant.nlu.result import ParseResult
from assistant.speech.recognizer import Mode


class WordTiming(BaseModel):
    word: str
    start: float = Field(description="Seconds from the start of the audio.")
    end: float = Field(description="Seconds from the start of the audio.")
    confidence: float = Field(description="Posterior probability of the word, 0 to 1.")


class Transcript(BaseModel):
    """What was said, as one engine heard it."""

    text: str = Field(description="Lower-case words, numbers spelled out (\"set a timer for ten minutes\"); empty when nothing was heard.")
    confidence: float = Field(description="Mean word confidence, 0 to 1; 0 when nothing was heard.")
    words: list[WordTiming] = Field(default_factory=list)
    engine: str = Field(description="`vosk`, `whisper` or `pocketsphinx`.")
    model: str = Field(description="Model name (folder or package).")
    mode: Mode = Field(description="`domain`: biased to the domain's sentences; `free`: the engine's general language model.")
    _scorer: Callable[[list[str]], list[float]] | None = PrivateAttr(None)
    _scores: dict[str, float] = PrivateAttr(default_factory=dict)
    _domain_sentence: str | None = PrivateAttr(None)
    _domain_margin: float | None = PrivateAttr(None)

    def support(self, sentences: list[str]) -> list[float] | None:
        """How well the audio supports each sentence (mean token log-probability, the engine's scale), when the
        engine can score sentences it did not choose (Whisper); None otherwise, or for a transcript sent by a client.
        Each sentence is scored once."""
        if self._scorer is None:
            return None
        new = [s for s in dict.fromkeys(sentences) if s not in self._scores]
        if new:
            self._scores.update(zip(new, self._scorer(new)))
        return [self._scores[s] for s in sentences]

    @property
    def domain_sentence(self) -> str | None:
        """The sentence of the domain's templates the audio supports best, when the engine searched for it and it
        differs from the text (Whisper in domain mode): what a grammar engine would have heard."""
        return self._domain_sentence

    @property
    def domain_margin(self) -> float | None:
        """How much better the audio supports `domain_sentence` than the best sentence of another meaning the search
        found (the search's own scale); None when it found no other."""
        return self._domain_margin

    @classmethod
    def of_words(cls, words: list[WordTiming], engine: str, model: str, mode: Mode, text: str | None = None) -> Transcript:
        """The transcript of timed words: their text (unless the engine says it otherwise) and their mean confidence."""
        confidence = sum(w.confidence for w in words) / len(words) if words else 0.0
        return cls(text=" ".join(w.word for w in words) if text is None else text, confidence=round(confidence, 4), words=words,
                   engine=engine, model=model, mode=mode)

    def shifted(self, seconds: float, limit: float) -> Transcript:
        """Word times moved by `seconds` and kept within [0, limit]."""
        words = [w.model_copy(update={"start": round(min(limit, max(0.0, w.start + seconds)), 2),
                                      "end": round(min(limit, max(0.0, w.end + seconds)), 2)}) for w in self.words]
        return self.model_copy(update={"words": words})


class Timings(BaseModel):
    audio_s: float | None = Field(None, description="Length of the audio; null for text input.")
    asr_ms: float | None = Field(None, description="Speech recognition time; null for text input.")
    nlu_ms: float = Field(description="Parse time of the transcript.")
    latency_ms: float = Field(description="From the end of the audio (or the text) to the result: what a user waits.")


class RecognizeResult(ParseResult):
    """A `ParseResult` of what was said, with the transcript it was parsed from and the time it took."""

    asr: Transcript | None = Field(None, description="The transcript, its confidence, word timings and the mode that produced it; null for text input.")
    timings: Timings
