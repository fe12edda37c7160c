"""Vosk: any Vosk model folder, streaming, with the domain's sentences as a runtime grammar.

Vosk's native code does not check what it is given: a grammar that is not a
JSON list of strings, `SetGrammar` after audio, a sample rate of zero or a
grammar with escaped non-ASCII make it crash, abort or hang the whole process.
So every value is checked here before it crosses into native code, and the
calls that are unsafe at some moments (changing the grammar mid-utterance) are
refused at those moments. `vosk.Model()` is only ever called with a folder:
without one it goes to the network.

Kaldi adds random dither to the features by default, so the same audio would
not always give the same transcript; the model is loaded through a shadow
folder whose `mfcc.conf` says `--dither=0.0` (links to everything else, so no
copy of the model is made).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import unicodedata
from pathlib import Path

from assistant.speech.audio import NoiseFloor, check_rate
from assistant.intents.spoken import keep_known, sample_phrases
from assistant.speech.recognizer import Mode, SpeechError, Trust, check_chunk, check_mode
from assistant.speech.result import Transcript, WordTiming

log = logging.getLogger(__name__)

MAX_PHRASES = 5000
"""Vosk compiles its grammar for every utterance; past a few thousand phrases that shows in the latency."""
MAX_PHRASE_CHARS = 1000
KALDI_DITHER = 1.0
"""Kaldi's default dither (one sample unit of noise), added by `NoiseFloor` instead: the same, but repeatable."""


def is_vosk_model(folder: Path) -> bool:
    return (folder / "am" / "final.mdl").is_file() and (folder / "conf" / "mfcc.conf").is_file()


def model_modes(folder: Path) -> list[Mode]:
    """Domain-biased decoding needs a model with a dynamic graph (HCLr.fst + Gr.fst); big models have a fixed HCLG.fst."""
    graph = Path(folder) / "graph"
    if (graph / "HCLr.fst").is_file() and (graph / "Gr.fst").is_file():
        return ["domain", "free"]
    return ["free"]


def check_grammar(phrases) -> list[str]:
    """A grammar as Vosk can take it: a non-empty list of non-empty strings (or that list as JSON text).

    Anything else makes Vosk's native code crash, so it is refused here with a message.
    """
    if isinstance(phrases, (bytes, bytearray)):
        try:
            phrases = phrases.decode("utf-8")
        except UnicodeDecodeError:
            raise SpeechError("grammar: not UTF-8 text") from None
    if isinstance(phrases, str):
        try:
            phrases = json.loads(phrases)
        except ValueError as e:
            raise SpeechError(f"grammar: not valid JSON ({e})") from None
    if not isinstance(phrases, (list, tuple)):
        raise SpeechError(f"grammar: must be a list of phrases (strings), not {type(phrases).__name__}")
    if not phrases:
        raise SpeechError("grammar: the list of phrases is empty")
    checked = []
    for i, phrase in enumerate(phrases):
        if not isinstance(phrase, str):
            raise SpeechError(f"grammar: phrase {i} must be a string, not {type(phrase).__name__}")
        if len(phrase) > MAX_PHRASE_CHARS:
            raise SpeechError(f"grammar: phrase {i} is longer than {MAX_PHRASE_CHARS} characters")
        if any(unicodedata.category(c)[0] == "C" for c in phrase.replace("\t", " ")):
            raise SpeechError(f"grammar: phrase {i} holds control characters")
        words = phrase.split()
        if not words:
            raise SpeechError(f"grammar: phrase {i} is empty")
        checked.append(" ".join(words))
    return checked


def grammar_json(phrases: list[str]) -> str:
    """JSON for Vosk: non-ASCII as itself, since Vosk's JSON reader does not undo `\\uXXXX` escapes."""
    return json.dumps(phrases, ensure_ascii=False)


def deterministic_folder(folder: Path) -> Path:
    """The model folder itself if its features are undithered, else a shadow folder whose mfcc.conf sets --dither=0.0."""
    mfcc = folder / "conf" / "mfcc.conf"
    lines = mfcc.read_text(encoding="utf-8").splitlines()
    if any(line.strip().replace(" ", "") in ("--dither=0", "--dither=0.0") for line in lines):
        return folder
    key = hashlib.sha1(f"{folder.resolve()}:{mfcc.stat().st_mtime_ns}".encode()).hexdigest()[:12]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "assistant" / "vosk"
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError:
        base = Path(tempfile.gettempdir()) / "assistant-vosk"
        base.mkdir(parents=True, exist_ok=True)
    shadow = base / f"{folder.name}-{key}"
    if (shadow / "conf" / "mfcc.conf").is_file():
        return shadow
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=base))
    for entry in folder.resolve().iterdir():
        if entry.name != "conf":
            (staging / entry.name).symlink_to(entry)
    (staging / "conf").mkdir()
    for entry in (folder / "conf").resolve().iterdir():
        if entry.name != "mfcc.conf":
            (staging / "conf" / entry.name).symlink_to(entry)
    kept = [line for line in lines if not line.strip().startswith("--dither")]
    (staging / "conf" / "mfcc.conf").write_text("\n".join(kept + ["--dither=0.0"]) + "\n", encoding="utf-8")
    try:
        staging.rename(shadow)
    except OSError:  # another process made it first
        pass
    return shadow if (shadow / "conf" / "mfcc.conf").is_file() else staging


class VoskRecognizer:
    """A loaded Vosk model; domain-biased mode when the model has a dynamic graph and a domain is given."""

    engine = "vosk"
    trust = Trust(grammar=0.55, repaired=0.6, max_cost=1.5, model=0.9, model_intent=0.9, action=0.3)
    """Not calibrated (no English Vosk model on the benchmark machine): about pocketsphinx's."""

    def __init__(self, folder: Path, domain=None, rate: int = 16000, max_phrases: int = MAX_PHRASES, name: str | None = None,
                 language: str = "unknown", max_seconds: float = 31.0, phrases: list[str] | None = None):
        """`phrases`: the domain's spoken sentences sampled at training (else sampled from `domain` now)."""
        import vosk

        folder = Path(folder)
        if not is_vosk_model(folder):
            raise SpeechError(f"{folder}: not a Vosk model folder (it needs am/final.mdl and conf/mfcc.conf)")
        self.rate = check_rate(rate)
        self.folder = folder
        self.model = name or folder.name
        self.language = language
        self.max_seconds = max_seconds
        self._vosk = vosk
        vosk.SetLogLevel(-1)
        try:
            self._model = vosk.Model(str(deterministic_folder(folder)))
        except Exception as e:  # vosk raises a bare Exception when the model does not load
            raise SpeechError(f"{folder}: Vosk cannot load this model ({e})") from None
        self._modes = model_modes(folder)
        self.phrases: list[str] | None = None
        if (domain is not None or phrases is not None) and "domain" in self._modes:
            limit = min(max_phrases, MAX_PHRASES)
            said = keep_known(phrases, self.known, limit) if phrases is not None else sample_phrases(domain, self.known, limit)
            if said:
                phrases = said
                self.phrases = phrases + (["[unk]"] if self.known("[unk]") else [])
                log.info("Vosk grammar of %d domain sentences", len(phrases))
            else:
                log.warning("no sentence of the domain is in the vocabulary of Vosk model %s: free-form only", self.model)
        if self.phrases is None and self._modes[0] == "domain":
            self._modes = ["free"]

    def known(self, word: str) -> bool:
        if not isinstance(word, str) or not word or "\x00" in word:
            return False
        return self._model.vosk_model_find_word(word) >= 0

    def modes(self) -> list[Mode]:
        return list(self._modes)

    def stream(self, mode: Mode | None = None, partials: bool = True, grammar=None) -> "VoskStream":
        """A new utterance; `grammar` (a list of phrases) replaces the domain's for it, in domain mode."""
        mode = check_mode(self, mode)
        phrases = self.phrases if mode == "domain" else None
        if grammar is not None:
            if "domain" not in model_modes(self.folder):
                raise SpeechError(f"Vosk model {self.model} has no dynamic graph, so it cannot take a grammar")
            phrases, mode = self.usable(check_grammar(grammar)), "domain"
        return VoskStream(self, mode, phrases, partials)

    def usable(self, phrases: list[str]) -> list[str]:
        """Phrases whose every word the model knows; Vosk would drop the others' unknown words silently."""
        kept = [p for p in phrases if all(self.known(w) for w in p.split())]
        if not kept:
            raise SpeechError(f"grammar: no phrase is made only of words Vosk model {self.model} knows")
        if len(kept) < len(phrases):
            log.info("grammar: %d of %d phrases have words the model does not know and are left out", len(phrases) - len(kept), len(phrases))
        return kept


class VoskStream:
    """One utterance: a fresh KaldiRecognizer, fed as audio comes; Vosk's own endpointing splits segments."""

    def __init__(self, recognizer: VoskRecognizer, mode: Mode, phrases: list[str] | None, partials: bool = True):
        self.recognizer = recognizer
        self.mode = mode
        self.partials = partials
        self.endpoint = False
        vosk = recognizer._vosk
        rate = float(check_rate(recognizer.rate))
        if phrases is not None:
            self._native = vosk.KaldiRecognizer(recognizer._model, rate, grammar_json(check_grammar(phrases)))
        else:
            self._native = vosk.KaldiRecognizer(recognizer._model, rate)
        self._native.SetWords(True)
        self._native.SetPartialWords(True)
        self._fed = 0
        self._floor = NoiseFloor(KALDI_DITHER)
        self._segments: list[dict] = []
        self._partial = ""

    def set_grammar(self, phrases) -> None:
        """Change the phrase list; only before any audio (Vosk crashes if its grammar changes mid-utterance)."""
        if self._native is None:
            raise SpeechError("this utterance is finished; start a new stream")
        if self._fed:
            raise SpeechError("the grammar cannot change once audio has been fed; start a new stream")
        if "domain" not in model_modes(self.recognizer.folder):
            raise SpeechError(f"Vosk model {self.recognizer.model} has no dynamic graph, so it cannot take a grammar")
        self._native.SetGrammar(grammar_json(self.recognizer.usable(check_grammar(phrases))))
        self.mode = "domain"

    def feed(self, pcm: bytes) -> str | None:
        check_chunk(pcm, self._fed, self.recognizer.rate, self.recognizer.max_seconds, finished=self._native is None)
        if not pcm:
            return None
        self._fed += len(pcm)
        if self._native.AcceptWaveform(self._floor.add(bytes(pcm))):
            self._segments.append(json.loads(self._native.Result()))
            self.endpoint = any(s.get("text") for s in self._segments)
            partial = ""
        elif self.partials:
            partial = json.loads(self._native.PartialResult()).get("partial", "")
        else:
            return None
        text = " ".join(t for t in [*(s.get("text", "") for s in self._segments), partial] if t)
        if text != self._partial:
            self._partial = text
            return text
        return None

    def finish(self) -> Transcript:
        if self._native is None:
            raise SpeechError("this utterance is already finished")
        self._segments.append(json.loads(self._native.FinalResult()))
        self._native = None
        words = [WordTiming(word=w["word"], start=round(w["start"], 2), end=round(w["end"], 2),
                            confidence=round(float(w.get("conf", 1.0)), 4))
                 for segment in self._segments for w in segment.get("result", []) if w.get("word") != "[unk]"]
        text = None if words else " ".join(s.get("text", "") for s in self._segments).strip()
        return Transcript.of_words(words, "vosk", self.recognizer.model, self.mode, text)

    def close(self) -> None:
        self._native = None
