"""pocketsphinx: English speech out of the box, free-form or biased to the domain.

The `pocketsphinx` wheel ships a US English acoustic model, a general language
model and the CMU dictionary, so the assistant hears English before any Vosk
model is downloaded. Domain-biased decoding swaps the general language model for
a trigram model estimated on sentences sampled from the intents (see
`assistant.intents.spoken` for why not a JSGF grammar).

A pocketsphinx decoder holds one utterance at a time, so the recogniser keeps a small pool of decoders that streams borrow; each
utterance starts from the same cepstral mean, so the same audio always gives
the same transcript whatever was decoded before it.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import queue
import tempfile
import threading
import unicodedata
import weakref
from pathlib import Path

from assistant.files import write_atomic
from assistant.speech.audio import NoiseFloor, check_rate, raised
from assistant.intents.spoken import keep_known, sample_phrases
from assistant.speech.recognizer import Busy, Mode, SpeechError, Trust, check_chunk, check_mode
from assistant.speech.result import Transcript, WordTiming

log = logging.getLogger(__name__)

FRAMES_PER_SECOND = 100
SPEECH_MARGIN = 0.5
DOMAIN_LW = 9.0
BORROW_WAIT = 2.0
"""Seconds a stream waits for a decoder of the pool before it is refused as busy (never forever)."""
_SPELLINGS = [("our", "or"), ("ise", "ize"), ("isation", "ization"), ("yse", "yze"), ("tre", "ter"), ("ogue", "og"),
              ("oghurt", "ogurt"), ("ae", "e"), ("ll", "l"), ("mme", "m")]
_VOICELESS = {"P", "T", "K", "F", "TH"}


def guess_phones(word: str, lookup) -> str | None:
    """A pronunciation for a word the dictionary lacks: another spelling ("favourites"), a plural,
    a compound of known words ("unmute" = "un" + "mute"), or its letters ("bts")."""
    plain = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode()
    if plain and plain != word and lookup(plain):
        return lookup(plain)
    for old, new in _SPELLINGS:
        if old in plain and lookup(plain.replace(old, new)):
            return lookup(plain.replace(old, new))
    if plain.endswith("s") and len(plain) > 3:
        stem = lookup(plain[:-1]) or _compound(plain[:-1], lookup)
        if stem:
            return stem + (" S" if stem.split()[-1] in _VOICELESS else " Z")
    compound = _compound(plain, lookup)
    if compound:
        return compound
    if 1 < len(plain) <= 4 and plain.isalpha():
        letters = [lookup(f"{c}.") or lookup(c) for c in plain]
        if all(letters):
            return " ".join(letters)
    return None


def _compound(word: str, lookup) -> str | None:
    for cut in range(len(word) - 2, 1, -1):
        left, right = lookup(word[:cut]), lookup(word[cut:])
        if left and right and len(word[cut:]) >= 2:
            return f"{left} {right}"
    return None


def _write_lm(phrases: list[str]) -> str:
    """An ARPA trigram model of the phrases, in a temporary file (pocketsphinx loads models from files only)."""
    from pocketsphinx.lm import ArpaBoLM

    lm = ArpaBoLM(text="\n".join(phrases), add_start=True)
    lm.compute()
    out = io.StringIO()
    lm.write(out)
    handle, path = tempfile.mkstemp(prefix="assistant-domain-", suffix=".arpa")
    with os.fdopen(handle, "w", encoding="utf-8") as f:
        f.write(out.getvalue())
    return path


def _cache_key(phrases: list[str] | None, max_phrases: int) -> str | None:
    if phrases is None:
        return None
    import pocketsphinx

    digest = hashlib.sha256("\n".join(phrases).encode())
    digest.update(f"{max_phrases}:{DOMAIN_LW}:{getattr(pocketsphinx, '__version__', '')}".encode())
    return digest.hexdigest()[:16]


def _cached(cache: Path | None, phrases: list[str] | None, max_phrases: int) -> tuple[str, str] | None:
    """The domain's language model and dictionary kept in the model's cache folder for these phrases, if any."""
    key = _cache_key(phrases, max_phrases)
    if cache is None or key is None:
        return None
    lm, words = Path(cache) / f"pocketsphinx-{key}.arpa", Path(cache) / f"pocketsphinx-{key}.dict"
    return (str(lm), str(words)) if lm.is_file() and words.is_file() else None


def _keep(cache: Path, phrases: list[str], max_phrases: int, files: tuple[str, str]) -> tuple[str, str] | None:
    """Keep the language model and dictionary in the cache folder (atomically; a read-only folder keeps nothing)."""
    key = _cache_key(phrases, max_phrases)
    kept = []
    try:
        cache = Path(cache)
        cache.mkdir(exist_ok=True)
        for suffix, source in zip((".arpa", ".dict"), files):
            kept.append(str(write_atomic(cache / f"pocketsphinx-{key}{suffix}", Path(source).read_bytes())))
    except OSError as e:
        log.debug("cannot keep the language model in %s: %s", cache, e)
        return None
    return kept[0], kept[1]


def _write_dict(pronunciations: dict[str, str]) -> str:
    """A pronunciation dictionary of just these words, in a temporary file."""
    handle, path = tempfile.mkstemp(prefix="assistant-domain-", suffix=".dict")
    with os.fdopen(handle, "w", encoding="utf-8") as f:
        f.write("".join(f"{word} {phones}\n" for word, phones in sorted(pronunciations.items())))
    return path


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class SphinxRecognizer:
    """The bundled English model; domain-biased mode when a domain is given.

    Decoders come in two kinds, each loaded when its mode is first asked for: a
    domain decoder reads a dictionary of just the domain's words and the
    domain's language model (a twentieth of a second to load), a free decoder
    the whole CMU dictionary and the general model (half a second).
    """

    engine = "pocketsphinx"
    trust = Trust(grammar=0.55, repaired=0.6, max_cost=1.5, model=0.9, model_intent=0.9, action=0.3)
    """Fitted on the speech benchmark's calibration set (`bench_speech.py --n 150 --seed 2 --calibrate`, 750 clips of pocketsphinx):
    the most right answers for at most 2 % acted on wrongly (290 right, 15 wrong). Synthetic voices in noise are heard
    wrong with confidence, so the bars are high; a model's guess at words the templates do not say needs a surer hearing
    and a sure model."""
    second_trust = Trust(grammar=0.0, repaired=0.0, max_cost=2.0, model=0.9, model_intent=0.0, action=0.3)
    """Its bars as the second engine behind Whisper (`pipeline.second_opinion`), where it hears only what Whisper
    declined and Whisper's audio must not contradict what it heard (`pipeline.contradicted`): fitted together with
    Whisper's (`bench_speech.py --n 150 --seed 2 --calibrate --engines whisper`, 750 clips: 527 right, 15 wrong, all
    15 Whisper's; 162 commands heard again). That check of the audio does the work of the high bars above."""
    language = "en"

    def __init__(self, domain=None, rate: int = 16000, endpoint_silence: float = 0.8, max_phrases: int = 30000,
                 max_seconds: float = 30.0, pool_size: int = 4, phrases: list[str] | None = None, cache: Path | None = None):
        """`phrases`: the domain's spoken sentences sampled at training (else sampled from `domain` now, seconds);
        `cache`: a folder of the model where the language model built from them is kept for the next load."""
        import pocketsphinx

        self.rate = check_rate(rate)
        if self.rate != 16000:
            log.info("pocketsphinx's English model is 16 kHz: audio is resampled to 16000 Hz, not %d", self.rate)
            self.rate = 16000
        self.model = "en-us"
        self.endpoint_silence = endpoint_silence
        self.max_seconds = max_seconds
        self._pocketsphinx = pocketsphinx
        self._pools: dict[str, queue.LifoQueue] = {"domain": queue.LifoQueue(), "free": queue.LifoQueue()}
        self._made = {"domain": 0, "free": 0}
        self._pool_size = pool_size
        self._lock = threading.Lock()
        self._lm_file: str | None = None
        self._dict_file: str | None = None
        cached = _cached(cache, phrases, max_phrases)
        if cached is not None:
            self._lm_file, self._dict_file = cached
        elif domain is not None or phrases is not None:
            self._build(domain, phrases, max_phrases, cache)
        first = self._borrow(self.modes()[0])
        self._cmn = first.get_cmn(False)
        self._warm_up(first, self.modes()[0])
        self._release(first, self.modes()[0])

    def _build(self, domain, phrases: list[str] | None, max_phrases: int, cache: Path | None) -> None:
        """The domain's language model and dictionary, from the sentences whose words the CMU dictionary (or a guess) can say."""
        full = self._decoder("free")
        pronunciations: dict[str, str] = {}

        def known(word: str) -> bool:
            phones = full.lookup_word(word) or guess_phones(word, full.lookup_word)
            if phones is not None:
                pronunciations[word] = phones
            return phones is not None

        said = keep_known(phrases, known, max_phrases) if phrases is not None else sample_phrases(domain, known, max_phrases)
        self._release(full, "free", made=True)
        if not said:
            log.warning("no sentence of the domain can be said with pocketsphinx's dictionary: free-form only")
            return
        used = {w for phrase in said for w in phrase.split()}
        files = (_write_lm(said), _write_dict({w: p for w, p in pronunciations.items() if w in used}))
        for path in files:
            weakref.finalize(self, _remove, path)  # new decoders of the pool read them; gone with the recogniser
        kept = _keep(cache, phrases, max_phrases, files) if phrases is not None and cache is not None else None
        self._lm_file, self._dict_file = kept or files
        log.debug("domain language model from %d sentences, %d words", len(said), len(used))

    def _warm_up(self, decoder, mode: Mode) -> None:
        """Decode a moment of faint noise: the first utterance of a decoder pays for setting up its search, and that
        should be at load time, not in the first user's latency."""
        decoder.start_utt()
        decoder.process_raw(NoiseFloor().add(bytes(2 * self.rate // 2)), full_utt=True)
        decoder.end_utt()

    def _decoder(self, mode: Mode):
        # No flat-lexicon second pass: a third less decoding time (it is all latency in the final pass), same accuracy
        # on the speech benchmark's commands.
        options = {"samprate": self.rate, "loglevel": "FATAL", "dither": False, "fwdflat": False}
        if mode == "free":
            return self._pocketsphinx.Decoder(**options)
        # The domain's language model weighted higher than the general model's default (`lw` 9, not 6.5): on commands
        # it knows, the domain model is worth trusting over the acoustics (see docs/benchmarks.md).
        return self._pocketsphinx.Decoder(**options, lm=self._lm_file, dict=self._dict_file, lw=DOMAIN_LW)

    def modes(self) -> list[Mode]:
        return ["domain", "free"] if self._lm_file is not None else ["free"]

    def _borrow(self, mode: Mode):
        pool = self._pools[mode]
        try:
            return pool.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._made[mode] < self._pool_size:
                self._made[mode] += 1
                decoder = self._decoder(mode)
                if self._made[mode] > 1:
                    self._warm_up(decoder, mode)
                return decoder
        try:
            return pool.get(timeout=BORROW_WAIT)
        except queue.Empty:
            raise Busy(f"all {self._pool_size} pocketsphinx decoders ({mode}) are in use; try again shortly") from None

    def _release(self, decoder, mode: Mode, made: bool = False) -> None:
        if made:  # a decoder made outside `_borrow`
            with self._lock:
                self._made[mode] += 1
        self._pools[mode].put(decoder)

    def stream(self, mode: Mode | None = None, partials: bool = True) -> "SphinxStream":
        return SphinxStream(self, check_mode(self, mode), partials)


class SphinxStream:
    """One utterance on a borrowed decoder: live partial results, VAD endpointing, and a final pass.

    The final transcript comes from decoding the whole utterance again with its
    own cepstral mean (`full_utt`): the same audio then always gives the same
    transcript, and it is more accurate than the live pass, whose mean has to be
    guessed before the speech is heard. On a 3-second command that pass takes
    about a tenth of a second.
    """

    def __init__(self, recognizer: SphinxRecognizer, mode: Mode, partials: bool = True):
        self.recognizer = recognizer
        self.mode = mode
        self.partials = partials
        self.endpoint = False
        self._decoder = recognizer._borrow(mode)
        if partials:
            self._decoder.set_cmn(recognizer._cmn)
            self._decoder.start_utt()
        self._vad = recognizer._pocketsphinx.Vad(recognizer._pocketsphinx.Vad.LOOSE, recognizer.rate)
        self._floor = NoiseFloor()
        self._audio = bytearray()
        """The audio as it came; the decoders and the voice detector get it with the noise floor (`_floor`)."""
        self._pending = b""
        self._heard = 0.0
        self._silence = 0.0
        self._partial = ""
        self._trimmed = 0
        self._speech: list[int] | None = None
        """Byte offsets in the audio of the first and last frames the VAD took for speech."""

    def feed(self, pcm: bytes) -> str | None:
        check_chunk(pcm, len(self._audio), self.recognizer.rate, self.recognizer.max_seconds, finished=self._decoder is None)
        if not pcm:
            return None
        self._audio += pcm
        pcm = self._floor.add(pcm)
        self._track_speech(pcm)
        if not self.partials:
            return None
        self._decoder.process_raw(pcm)
        hyp = self._decoder.hyp()
        text = hyp.hypstr if hyp is not None else ""
        if text != self._partial:
            self._partial = text
            return text
        return None

    def _track_speech(self, pcm: bytes) -> None:
        """Trailing silence after speech ends the utterance (WebRTC VAD, 30 ms frames)."""
        self._pending += pcm
        size = self._vad.frame_bytes
        seconds = self._vad.frame_length
        while len(self._pending) >= size:
            frame, self._pending = self._pending[:size], self._pending[size:]
            if self._vad.is_speech(frame):
                end = len(self._audio) - len(self._pending)
                if self._speech is None:
                    self._speech = [end - size, end]
                self._speech[1] = end
                self._heard += seconds
                self._silence = 0.0
            elif self._heard == 0 and len(self._audio) > 4 * self.recognizer.rate:
                cut = len(self._audio) - self.recognizer.rate  # keep 0.5 s of the silence before speech
                del self._audio[:cut]
                self._trimmed += cut
            elif self._heard >= 0.15:
                self._silence += seconds
                if self._silence >= self.recognizer.endpoint_silence:
                    self.endpoint = True

    def finish(self) -> Transcript:
        if self._decoder is None:
            raise SpeechError("this utterance is already finished")
        decoder = self._decoder
        try:
            if self.partials:
                decoder.end_utt()
            words = []
            if self._audio:
                start, end, audio = self._final_audio()
                decoder.set_cmn(self.recognizer._cmn)  # every final pass starts from the same cepstral mean
                decoder.start_utt()
                decoder.process_raw(audio, full_utt=True)
                decoder.end_utt()
                if decoder.hyp() is not None:
                    offset = (start + self._trimmed) / 2 / self.recognizer.rate
                    words = [_timing(seg, offset) for seg in decoder.seg() if not seg.word.startswith(("<", "[", "+"))]
        finally:
            self._release()
        return Transcript.of_words(words, "pocketsphinx", self.recognizer.model, self.mode)

    def _final_audio(self) -> tuple[int, int, bytes]:
        """Where the audio the final pass decodes starts and ends (byte offsets), and that audio with the noise
        floor it was fed with: the speech (`_speech_span`), or when the recording is quiet all of it, raised first
        (`raised`). The voice detector judged quiet audio under the floor, so its span may have cut words."""
        audio = bytes(self._audio)
        louder = raised(audio)
        start, end = self._speech_span() if louder is audio else (0, len(audio))
        return start, end, NoiseFloor(at=(self._trimmed + start) // 2).add(louder[start:end])

    def _speech_span(self) -> tuple[int, int]:
        """The part of the audio the final pass decodes: speech and half a second around it.

        Long silences before or after a command pull the utterance's cepstral
        mean towards silence, which costs words; a missed VAD decision costs nothing, as the whole audio is then decoded.
        """
        if self._speech is None:
            return 0, len(self._audio)
        margin = 2 * int(SPEECH_MARGIN * self.recognizer.rate)
        return max(0, self._speech[0] - margin), min(len(self._audio), self._speech[1] + margin)

    def _release(self) -> None:
        if self._decoder is not None:
            self.recognizer._release(self._decoder, self.mode)
            self._decoder = None

    def close(self) -> None:
        if self._decoder is not None:
            if self.partials:
                try:
                    self._decoder.end_utt()
                except RuntimeError:
                    pass
            self._release()

    def __del__(self):
        self.close()


def _timing(seg, offset: float) -> WordTiming:
    return WordTiming(word=seg.word.split("(")[0], start=round(offset + seg.start_frame / FRAMES_PER_SECOND, 2),
                      end=round(offset + (seg.end_frame + 1) / FRAMES_PER_SECOND, 2),
                      confidence=round(min(1.0, max(0.0, seg.prob)), 4))
