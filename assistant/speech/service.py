"""The model in service, for the REST server and the daemon alike: followed from the store, swapped whole.

A `Service` holds one `Loaded` model version (the parser and, when speech is
on, a recogniser biased to its domain) and hands it to a request whole; a
request keeps the one it started with to the end. A new version is loaded
beside the old one and only then replaces it: one reference assignment, so no
request ever waits on a load or sees half a model. The service notices a new
version when the store's `current` pointer names another folder (a watcher
thread reads the link every `POLL_SECONDS`), when it activated the version
itself, or when told to reload (SIGHUP). The pointer is resolved once per load,
so the version a service reports is the one whose weights it serves. A version
that fails to load is logged with its reason and not retried until the pointer
moves again; the old one keeps serving.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.config import Settings
from assistant.errors import AssistantError
from assistant.nlu import store
from assistant.nlu.batching import Batcher
from assistant.nlu.errors import ModelLoadError
from assistant.nlu.runtime import Parser
from assistant.speech.engines import load_recognizer, load_second
from assistant.speech.pipeline import Pipeline
from assistant.speech.recognizer import Mode, SpeechError

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5


class NotReady(AssistantError):
    """No model is loaded (yet)."""


class SpeechUnavailable(AssistantError):
    """The speech front end cannot serve: not installed, disabled, or no engine loads."""


@dataclass
class Loaded:
    """One model version, ready: its pipeline (parser, and a recogniser when speech is on)."""

    version: str
    folder: Path
    pipeline: Pipeline
    batcher: Batcher
    """Text parses of concurrent requests, run through the model together."""
    speech: str
    """The engine and model serving speech, or why there is none."""
    loaded_at: float = field(default_factory=time.time)

    @property
    def parser(self) -> Parser:
        return self.pipeline.parser

    def need_speech(self) -> Pipeline:
        """The pipeline, when it can hear; `SpeechUnavailable` otherwise."""
        if self.pipeline.recognizer is None:
            raise SpeechUnavailable(f"speech recognition is not available: {self.speech}")
        return self.pipeline


@dataclass
class SpeechOptions:
    """How a service hears: off, or an engine (default: the settings') that may be required to load."""

    enabled: bool = True
    required: bool = False
    """A recogniser that does not load fails the load (the daemon); else the version serves text only (the REST API)."""
    engine: str | None = None
    vosk_model: str | None = None
    mode: Mode | None = None
    second: str | None = None
    """The engine that hears a command again when the first is too unsure (default: the settings')."""


class Service:
    """The model in service in this process: follows the store, swaps whole, never serves a broken one."""

    def __init__(self, settings: Settings, speech: SpeechOptions | None = None, threads: int | None = None,
                 on_swap: Callable[[Loaded | None, Loaded], None] | None = None):
        self.settings = settings
        self.speech = speech or SpeechOptions()
        self.threads = threads
        """onnxruntime threads per parse (default: `nlu.threads`, else onnxruntime decides)."""
        self.on_swap = on_swap or (lambda old, new: None)
        """Told (old `Loaded` or None, new `Loaded`) after each swap, e.g. for metrics."""
        self.loaded: Loaded | None = None
        self.error: str | None = None
        """Why the last load failed, until one succeeds."""
        self._failed: str | None = None
        self._loading = threading.Lock()

    @property
    def store(self) -> Path:
        return self.settings.path(self.settings.nlu.models)

    @property
    def pinned(self) -> Path | None:
        """The folder `nlu.model` pins (no hot swap), or None to follow the store."""
        return self.settings.path(self.settings.nlu.model)

    def target(self) -> Path:
        """The folder to serve now: the pinned one, or where `current` points, resolved once (`store.current_folder`)."""
        return self.pinned.resolve() if self.pinned is not None else store.current_folder(self.store)

    def current(self) -> Loaded:
        """The model to answer a request with: a reference read, never a wait on a load."""
        loaded = self.loaded
        if loaded is None:
            raise NotReady(self.error or "no model loaded yet")
        return loaded

    def start(self) -> Loaded:
        """Load what the settings name (training the default model on first use) and serve it; errors propagate."""
        store.ensure_model(self.settings)
        with self._loading:
            loaded = self.load(self.target())
            self.install(loaded)
        return loaded

    def watch(self) -> None:
        """Follow the store's pointer from a daemon thread of this process (a no-op for a pinned folder)."""
        if self.pinned is None:
            threading.Thread(target=self._watch, name="model-watch", daemon=True).start()

    def _watch(self) -> None:
        while True:
            time.sleep(POLL_SECONDS)
            target = store.current_version(self.store)
            if target is None or target == self._failed or (self.loaded is not None and target == self.loaded.version):
                continue
            try:
                self.reload()
            except Exception:  # the watcher must outlive any surprise; the old model keeps serving
                log.exception("loading model %s failed", target)
                self._failed = target

    def reload(self, settings: Settings | None = None, force: bool = False) -> bool:
        """Load what the settings name now (pinned folder or the store's current version) and swap it in when it loads.

        `settings` replaces the service's own (a config file read again on SIGHUP); `force` loads the
        version again even when it is the one in service (its engine or settings may have changed).
        """
        with self._loading:
            if settings is not None:
                self.settings = settings
            folder = self.target()
            if not force and self.loaded is not None and self.loaded.folder == folder:
                return True
            try:
                loaded = self.load(folder)
            except AssistantError as e:
                self._failed, self.error = folder.name, str(e)
                log.error("model %s rejected, %s: %s", folder.name, "keeping " + self.loaded.version if self.loaded else "no model in service", e)
                return False
            self.install(loaded)
            return True

    def load(self, folder: Path) -> Loaded:
        """The pipeline of a resolved model folder; `ModelLoadError` (from the one loader) when it cannot serve."""
        parser = Parser(folder, threads=self.threads or self.settings.nlu.threads or None, threshold=self.settings.nlu.oos_threshold,
                        repair=self.settings.nlu.repair)
        recognizer, second, speech = None, None, "disabled"
        if self.speech.enabled:
            try:
                recognizer = load_recognizer(self.settings, parser.domain, self.speech.engine, self.speech.vosk_model, parser.folder)
                speech = f"{recognizer.engine} {recognizer.model} ({recognizer.language})"
                second = load_second(self.settings, recognizer, parser.domain, self.speech.second, parser.folder)
                if second is not None:
                    speech += f", then {second.engine} {second.model} when unsure"
            except SpeechError as e:
                if self.speech.required:
                    raise
                log.warning("speech disabled: %s", e)
                speech = str(e)
        pipeline = Pipeline(recognizer, parser, self.speech.mode or self.settings.speech.mode, max_streams=self.settings.speech.max_streams,
                            second=second)
        batcher = Batcher(parser, self.settings.nlu.batch_wait_ms, self.settings.nlu.batch_size, self.settings.nlu.batch_runs)
        return Loaded(version=parser.version, folder=parser.folder, pipeline=pipeline, batcher=batcher, speech=speech)

    def install(self, loaded: Loaded) -> None:
        old, self.loaded = self.loaded, loaded
        self._failed, self.error = None, None
        log.info("serving model %s%s", loaded.version, f" (was {old.version})" if old else "")
        self.on_swap(old, loaded)

    def activate(self, version: str) -> Loaded:
        """Check a version loads, point `current` at it and serve it here at once (other processes follow the pointer)."""
        if self.pinned is not None:
            raise ModelLoadError(f"this server serves the pinned folder {self.pinned} (nlu.model): unset it to serve the store")
        with self._loading:
            holder: list[Loaded] = []
            store.activate(self.store, version, check=lambda f: holder.append(self.load(f.resolve())))
            self.install(holder[0])
            return holder[0]
