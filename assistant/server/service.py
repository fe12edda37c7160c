"""The model a server process answers with, and how it is swapped without a failed request.

Each worker process holds one `Loaded` (parser, recogniser, version) and hands
it to a request whole; a request keeps the one it started with to the end.
A new version is loaded beside the old one, in a background thread, and only
then replaces it: one reference assignment, so no request ever waits on a
load or sees half a model. The worker notices a new version when the store's
`current` pointer names another folder (a watcher thread reads the link
every `POLL_SECONDS`), when this worker activated it, or on SIGHUP.
A version that fails to load is logged with its reason and not retried until
the pointer moves again; the old model keeps serving.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from assistant.nlu import store
from assistant.nlu.bundle import ModelLoadError

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5


class NotReady(Exception):
    """No model is loaded (yet): requests get 503."""


class SpeechUnavailable(Exception):
    """The speech front end cannot serve: not installed, disabled, or no engine loads."""


@dataclass
class Loaded:
    """One model version, ready: the parser and, when speech is on, a recogniser biased to its domain."""

    version: str
    folder: Path
    parser: object
    pipeline: object | None = None
    speech: str | None = None
    """The engine and model serving speech, or why there is none."""
    loaded_at: float = field(default_factory=time.time)

    def need_pipeline(self):
        if self.pipeline is None or self.pipeline.recognizer is None:
            raise SpeechUnavailable(f"speech recognition is not available: {self.speech}")
        return self.pipeline


class Service:
    """The model in service in this process: follows the store, swaps whole, never serves a broken one."""

    def __init__(self, settings, speech: bool = True, on_swap=None):
        self.settings = settings
        self.speech = speech and settings.server.speech
        self.store = settings.path(settings.nlu.models)
        self.pinned = settings.path(settings.nlu.model)
        self.on_swap = on_swap or (lambda old, new: None)
        """Told (old `Loaded` or None, new `Loaded`) after each swap, e.g. for metrics."""
        self.loaded: Loaded | None = None
        self.error: str | None = None
        """Why the last load failed, until one succeeds."""
        self._failed: str | None = None
        self._loading = threading.Lock()

    def current(self) -> Loaded:
        """The model to answer a request with: a reference read, never a wait on a load."""
        loaded = self.loaded
        if loaded is None:
            raise NotReady(self.error or "no model loaded yet")
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

    # Loading: in a thread of its own, or at start-up.
    def reload(self) -> bool:
        """Load what the config names now (pinned folder or the store's current version); swap it in when it loads."""
        with self._loading:
            folder = (self.pinned or self.store / store.CURRENT).resolve()
            if self.loaded is not None and self.loaded.folder == folder:
                return True
            try:
                loaded = self.load(folder)
            except ModelLoadError as e:
                self._failed, self.error = folder.name, str(e)
                log.error("model %s rejected, %s: %s", folder.name, "keeping " + self.loaded.version if self.loaded else "no model in service", e)
                return False
            self.install(loaded)
            return True

    def load(self, folder: Path) -> Loaded:
        """Parser and recogniser of a resolved model folder; `ModelLoadError` (from the one loader) when it cannot serve."""
        from assistant.nlu.runtime import Parser

        parser = Parser(folder, threads=self.settings.nlu.threads or 1, threshold=self.settings.nlu.oos_threshold)
        loaded = Loaded(version=parser.version, folder=folder, parser=parser)
        if self.speech:
            loaded.pipeline, loaded.speech = _speech(self.settings, parser)
        else:
            loaded.speech = "disabled (server.speech = false)"
        return loaded

    def install(self, loaded: Loaded) -> None:
        old, self.loaded = self.loaded, loaded
        self._failed, self.error = None, None
        log.info("serving model %s%s", loaded.version, f" (was {old.version})" if old else "")
        self.on_swap(old, loaded)

    def activate(self, version: str) -> Loaded:
        """Check a version loads, point `current` at it and serve it here at once (other workers follow the pointer)."""
        if self.pinned is not None:
            raise ModelLoadError(f"this server serves the pinned folder {self.pinned} (nlu.model): unset it to serve the store")
        with self._loading:
            holder: list[Loaded] = []
            store.activate(self.store, version, check=lambda f: holder.append(self.load(f.resolve())))
            self.install(holder[0])
            return holder[0]


def _speech(settings, parser):
    """A pipeline with a recogniser biased to the parser's domain, or (None, why not)."""
    from assistant.speech.engines import SpeechError, load_recognizer
    from assistant.speech.pipeline import Pipeline

    try:
        recognizer = load_recognizer(settings, parser.domain)
    except SpeechError as e:
        log.warning("speech disabled: %s", e)
        return None, str(e)
    return Pipeline(recognizer, parser, settings.speech.mode), f"{recognizer.engine} {recognizer.model} ({recognizer.language})"
