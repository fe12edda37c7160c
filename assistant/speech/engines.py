"""The speech engines: one interface, the results they share, and finding and loading them.

Two engines implement the same small interface (`Recognizer` makes `Stream`s):
Vosk for any Vosk model folder, and pocketsphinx, whose wheel ships an English
model, so speech works before anything is downloaded. Vosk is chosen whenever a
Vosk model is configured; `assistant models` lists what was found.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pkgutil
import time
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from assistant.speech.audio import Audio, resample

log = logging.getLogger(__name__)

Mode = Literal["domain", "free"]
ENGINES = ("vosk", "pocketsphinx")
VOSK_DOWNLOAD = (
    "To use Vosk for English, on a machine with internet download a model such as "
    "https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip, unzip it, copy the folder here and set "
    "[speech] vosk_model = \"/path/to/vosk-model-small-en-us-0.15\" in config.toml "
    "(or ASSISTANT_SPEECH_VOSK_MODEL=/path/to/it)."
)


class SpeechError(Exception):
    """A speech engine, model or request that cannot be used; the message says which and why."""


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
    engine: str = Field(description="`vosk` or `pocketsphinx`.")
    model: str = Field(description="Model name (folder or package).")
    mode: Mode = Field(description="`domain`: biased to the domain's sentences; `free`: the engine's general language model.")


class EngineInfo(BaseModel):
    """An engine and model found on this machine, for `assistant models` and the daemon's `info`."""

    engine: str
    model: str
    path: str | None = None
    source: str = Field(description="Where it was found: config, environment, package, bundled.")
    language: str
    modes: list[Mode]
    default: bool = False


class Stream(Protocol):
    """One utterance being decoded: feed audio as it arrives, then finish."""

    endpoint: bool
    """True once the engine has heard the end of an utterance (trailing silence after speech)."""

    def feed(self, pcm: bytes) -> str | None:
        """Decode 16-bit mono PCM at the recogniser's rate; return the partial transcript when it changed."""

    def finish(self) -> Transcript:
        """The final transcript; the stream cannot be fed after this."""

    def close(self) -> None:
        """Give the decoder back without a result (client went away)."""


class Recognizer(Protocol):
    """A loaded engine and model; makes a stream per utterance. Safe to share between threads."""

    engine: str
    model: str
    language: str
    rate: int

    def modes(self) -> list[Mode]: ...

    def stream(self, mode: Mode | None = None, partials: bool = True) -> Stream:
        """A new utterance; `partials=False` skips live decoding when only the final transcript is wanted."""


def check_mode(recognizer: Recognizer, mode: str | None) -> Mode:
    """The mode to decode in: the one asked for if the recogniser has it, else domain-biased when it can."""
    modes = recognizer.modes()
    if mode is None:
        return modes[0]
    if mode not in ("domain", "free"):
        raise SpeechError(f"mode must be 'domain' or 'free', not {mode!r}")
    if mode not in modes:
        raise SpeechError(f"{recognizer.engine} model {recognizer.model} has no {mode} mode (it has: {', '.join(modes)})")
    return mode  # type: ignore[return-value]


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
    return shift_words(transcript, -PAD_SECONDS, audio.seconds)


def shift_words(transcript: Transcript, seconds: float, limit: float) -> Transcript:
    """Word times moved by `seconds` and kept within [0, limit]."""
    words = [w.model_copy(update={"start": round(min(limit, max(0.0, w.start + seconds)), 2),
                                  "end": round(min(limit, max(0.0, w.end + seconds)), 2)}) for w in transcript.words]
    return transcript.model_copy(update={"words": words})


# --- finding engines -------------------------------------------------------------------


def is_vosk_model(folder: Path) -> bool:
    return (folder / "am" / "final.mdl").is_file() and (folder / "conf" / "mfcc.conf").is_file()


def vosk_packages() -> list[tuple[str, Path]]:
    """Installed `vosk_model_*` packages and their model folders (the package folder or its `model/`)."""
    found = []
    for module in sorted(pkgutil.iter_modules(), key=lambda m: m.name):
        if not module.name.startswith("vosk_model_"):
            continue
        spec = importlib.util.find_spec(module.name)
        if spec is None or not spec.submodule_search_locations:
            continue
        root = Path(list(spec.submodule_search_locations)[0])
        for folder in (root / "model", root):
            if is_vosk_model(folder):
                found.append((module.name, folder))
                break
    return found


def _package_language(name: str) -> str:
    return name.removeprefix("vosk_model_").split("_")[0] or "unknown"


def configured_vosk_model(settings) -> tuple[Path, str] | None:
    """The Vosk model folder named by config or `$ASSISTANT_SPEECH_VOSK_MODEL`, checked."""
    if settings.speech.vosk_model is None:
        return None
    folder = settings.path(settings.speech.vosk_model)
    source = "environment" if os.environ.get("ASSISTANT_SPEECH_VOSK_MODEL") else "config"
    if not folder.is_dir():
        raise SpeechError(f"Vosk model {folder} (from {source}): no such folder. {VOSK_DOWNLOAD}")
    if not is_vosk_model(folder):
        raise SpeechError(f"{folder} (from {source}) is not a Vosk model folder: it needs am/final.mdl and conf/mfcc.conf")
    return folder, source


def find_engines(settings) -> list[EngineInfo]:
    """Every engine and model this machine has, the default first."""
    from assistant.speech import vosk_engine

    found: list[EngineInfo] = []
    configured = configured_vosk_model(settings)
    if configured:
        folder, source = configured
        found.append(EngineInfo(engine="vosk", model=folder.name, path=str(folder), source=source,
                                language="configured", modes=vosk_engine.model_modes(folder)))
    for name, folder in vosk_packages():
        if configured and folder.resolve() == configured[0].resolve():
            continue
        found.append(EngineInfo(engine="vosk", model=name, path=str(folder), source="package",
                                language=_package_language(name), modes=vosk_engine.model_modes(folder)))
    if importlib.util.find_spec("pocketsphinx") is not None:
        found.append(EngineInfo(engine="pocketsphinx", model="en-us", source="bundled with the pocketsphinx package",
                                language="en", modes=["domain", "free"]))
    choice = choose(settings, found)
    if choice is not None:
        choice.default = True
        found.remove(choice)
        found.insert(0, choice)
    return found


def choose(settings, found: list[EngineInfo], engine: str | None = None, vosk_model: str | None = None) -> EngineInfo | None:
    """Pick the engine: asked for, else a configured Vosk model, else an English Vosk package, else pocketsphinx."""
    engine = engine or settings.speech.engine
    if vosk_model:
        folder = Path(vosk_model)
        for info in found:
            if info.engine == "vosk" and (info.model == vosk_model or (info.path and Path(info.path) == folder)):
                return info
        if not is_vosk_model(folder):
            raise SpeechError(f"{vosk_model}: not a Vosk model folder or installed vosk_model_* package")
        from assistant.speech import vosk_engine

        return EngineInfo(engine="vosk", model=folder.name, path=str(folder), source="command line",
                          language="configured", modes=vosk_engine.model_modes(folder))
    candidates = [i for i in found if engine in ("auto", i.engine)]
    if engine == "auto":
        preferred = [i for i in candidates if i.engine == "vosk" and i.source in ("config", "environment")]
        preferred += [i for i in candidates if i.engine == "vosk" and i.language == "en"]
        preferred += [i for i in candidates if i.engine == "pocketsphinx"]
        candidates = preferred
    return candidates[0] if candidates else None


def load_recognizer(settings, domain=None, engine: str | None = None, vosk_model: str | None = None) -> Recognizer:
    """Load the chosen engine once (seconds); `domain` (the NLU model's) enables domain-biased mode."""
    info = choose(settings, find_engines(settings), engine, vosk_model)
    if info is None:
        wanted = engine or settings.speech.engine
        if wanted == "vosk":
            raise SpeechError(f"no Vosk model configured or installed. {VOSK_DOWNLOAD}")
        raise SpeechError("no speech engine installed: pip install 'assistant[speech]' (vosk, pocketsphinx)")
    started = time.perf_counter()
    import scipy.signal  # noqa: F401  resampling's dependency: a second to import, paid at load rather than by the first request

    s = settings.speech
    if info.engine == "vosk":
        from assistant.speech.vosk_engine import VoskRecognizer

        recognizer: Recognizer = VoskRecognizer(Path(info.path), domain, rate=s.sample_rate, max_phrases=s.max_phrases,
                                                name=info.model, language=info.language, max_seconds=s.max_seconds + 1)
    else:
        from assistant.speech.sphinx_engine import SphinxRecognizer

        recognizer = SphinxRecognizer(domain, rate=s.sample_rate, endpoint_silence=s.endpoint_silence,
                                      max_phrases=s.max_phrases, max_seconds=s.max_seconds + 1)
    log.info("loaded %s model %s in %.1f s (modes: %s)", info.engine, info.model, time.perf_counter() - started,
             ", ".join(recognizer.modes()))
    return recognizer
