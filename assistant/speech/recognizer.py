"""What a speech engine is: the `Recognizer` and `Stream` protocols every engine implements, and the checks
they share before audio reaches native code.

An engine module (`vosk_engine`, `sphinx_engine`) imports this module, the
result types (`result`) and the audio helpers, nothing else of the package;
`engines` finds and loads them, `pipeline` drives them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from assistant.errors import AssistantError
from assistant.speech.audio import AudioError

Mode = Literal["domain", "free"]
MODES = ("domain", "free")


class SpeechError(AssistantError):
    """A speech engine, model or request that cannot be used; the message says which and why."""


class Busy(SpeechError):
    """Every decoder is in use: the request may be tried again in a moment (the REST API answers 503, the daemon `busy`)."""

    code = "busy"


@dataclass(frozen=True)
class Trust:
    """When an engine's hearing is sure enough to act on: its confidences are its own scale, so each engine has its
    own thresholds, fitted on the speech benchmark's calibration set (`scripts/bench_speech.py --calibrate`)."""

    grammar: float = 0.0
    """Least transcript confidence to act on a sentence the templates say word for word."""
    repaired: float = 0.0
    """Least transcript confidence to act on a near miss of the templates, put right (`Parser.parse(repair=True)`)."""
    max_cost: float = float("inf")
    """Most a near miss's repair may cost (about 1 a word wrong, missing or extra): garbled speech repairs dearly."""
    support_gap: float | None = None
    """Engines that score sentences against the audio (`Transcript.support`): how far below what was heard the
    sentence a near miss was taken for may score and still be acted on (mean token log-probability). The audio
    decides, rather than `repaired` and `max_cost`: "turn of the light" taken for "turn off the light" scores
    close to it when "off" was said, far below it when something else was."""
    search: float | None = None
    """Engines that search the audio for the domain's best sentence (`Transcript.domain_sentence`, Whisper): the
    least support (mean token log-probability) that sentence needs to be acted on; None: never acted on."""
    search_gap: float = 0.0
    """How far below what was heard freely the domain's sentence may score and still be acted on. A sentence that
    says another action word ("pause" for "impose") must score at least as well as what was heard."""
    search_margin: float = 0.0
    """How much better than any sentence of another meaning the search found the domain's sentence must score."""
    search_likeness: float = 0.0
    """How alike in spelling or sound (`intents.sounds.phrase_similarity`, 0 to 1) the domain's sentence and what
    was heard freely must be: "decoveate the cellar buttled" stands for "deactivate the cellar bulb", "verandable
    buyer now please" for no command of the domain, however the audio scores it."""
    model: float = 0.0
    """Least transcript confidence to act on the model's answer (words the templates do not say)."""
    model_intent: float = 0.0
    """Least intent confidence of the model's answer to a transcript: a garbled one often still gets an intent."""
    action: float = 0.0
    """Least confidence of a word that decides the action ("on", "off", "up", "down")."""


class Stream(Protocol):
    """One utterance being decoded: feed audio as it arrives, then finish."""

    endpoint: bool
    """True once the engine has heard the end of an utterance (trailing silence after speech)."""

    def feed(self, pcm: bytes) -> str | None:
        """Decode 16-bit mono PCM at the recogniser's rate; return the partial transcript when it changed."""

    def finish(self):
        """The final `Transcript`; the stream cannot be fed after this."""

    def close(self) -> None:
        """Give the decoder back without a result (client went away)."""


class Recognizer(Protocol):
    """A loaded engine and model; makes a stream per utterance. Safe to share between threads."""

    engine: str
    model: str
    language: str
    rate: int
    max_seconds: float
    """The longest utterance a stream takes."""
    trust: Trust
    """When its hearing is sure enough to act on."""

    def modes(self) -> list[Mode]: ...

    def stream(self, mode: Mode | None = None, partials: bool = True) -> Stream:
        """A new utterance; `partials=False` skips live decoding when only the final transcript is wanted."""


def check_mode(recognizer: Recognizer, mode: str | None) -> Mode:
    """The mode to decode in: the one asked for if the recogniser has it, else its first (domain-biased when it can)."""
    modes = recognizer.modes()
    if mode is None:
        return modes[0]
    if mode not in MODES:
        raise SpeechError(f"mode must be 'domain' or 'free', not {mode!r}")
    if mode not in modes:
        raise SpeechError(f"{recognizer.engine} model {recognizer.model} has no {mode} mode (it has: {', '.join(modes)})")
    return mode  # type: ignore[return-value]


def check_chunk(pcm, fed: int, rate: int, max_seconds: float, finished: bool) -> None:
    """What a stream checks before feeding a chunk to its decoder: native decoders crash on what fails here.

    `fed` is the bytes the utterance holds already; `finished` whether `finish` or `close` was called.
    """
    if finished:
        raise SpeechError("this utterance is finished; start a new stream")
    if not isinstance(pcm, (bytes, bytearray, memoryview)):
        raise AudioError(f"audio must be bytes of 16-bit PCM, not {type(pcm).__name__}")
    if len(pcm) % 2:
        raise AudioError(f"{len(pcm)} bytes is not a whole number of 16-bit samples")
    if fed + len(pcm) > 2 * rate * max_seconds:
        raise AudioError(f"utterance longer than the {max_seconds:g} s allowed")
