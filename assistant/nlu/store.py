"""Versioned model folders and the `current` pointer the services follow.

A store is a folder of model folders, one per version, and a symlink
`current` naming the one in service. Training writes a new version beside the
others and never touches the one in service; activating a version re-points
`current` with a single atomic rename, so a reader sees the old pointer or the
new one, never neither. A version is checked by loading it fully before the
pointer moves: a corrupt, incomplete or too-new folder is refused with its
reason while the served model stays as it was.

`ensure_model` is what every entry point calls to find the model it should
use: the pinned folder, else the current version, trained from the configured
intents on first use.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import uuid
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, Field

from assistant.config import Settings, TrainConfig
from assistant.nlu import bundle
from assistant.nlu.errors import ModelLoadError

log = logging.getLogger(__name__)

CURRENT = "current"
RESERVED = ".reserved"
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
"""What a version name may look like: one path component, no hidden or temporary folders."""


class ModelVersion(BaseModel):
    """One model folder of the store, as listed by `GET /v1/models`."""

    version: str = Field(description="Folder name, used to activate it.")
    current: bool = Field(description="The `current` pointer names this version.")
    valid: bool = Field(description="The folder passes the checks a server makes before serving it.")
    error: str | None = Field(None, description="Why the folder cannot serve, when it cannot.")
    created: datetime | None = None
    data_source: str | None = Field(None, description="What it was trained on.")
    n_train: int | None = None
    dev: dict[str, float] = Field(default_factory=dict, description="Headline dev scores: intent_acc, slot_f1, sentence_acc.")
    size_mb: float | None = None
    retrainable: bool = Field(False, description="The folder keeps the intent files it was trained from: a retrain can start from them.")
    report: list[str] = Field(default_factory=list, description="Files of its evaluation report (`GET /v1/models/{version}/report/{file}`).")


def current_version(store: Path) -> str | None:
    """The version `current` points at (one readlink: cheap enough to ask per request)."""
    try:
        return Path(os.readlink(Path(store) / CURRENT)).name
    except OSError:
        return None


def folder_of(store: Path, version: str) -> Path:
    """The folder of a version, or `ModelLoadError` for a name that is not one (no paths, no hidden folders)."""
    if not VERSION.match(version) or version == CURRENT:
        raise ModelLoadError(f"{version!r} is not a model version name")
    return Path(store) / version


def describe(store: Path, version: str) -> ModelVersion:
    folder = folder_of(store, version)
    current = current_version(store) == version
    try:
        metadata, _ = bundle.check_folder(folder)
    except ModelLoadError as e:
        return ModelVersion(version=version, current=current, valid=False, error=str(e))
    dev = metadata.metrics.get("dev") or {}
    return ModelVersion(version=version, current=current, valid=True, created=metadata.created, data_source=metadata.data_source,
                        n_train=metadata.n_train, dev={k: dev[k] for k in ("intent_acc", "slot_f1", "sentence_acc") if k in dev},
                        size_mb=metadata.sizes_mb.get(bundle.ONNX_INT8), retrainable=(folder / bundle.INTENTS).is_dir(),
                        report=sorted(p.name for p in (folder / bundle.REPORT).glob("*") if p.suffix in (".json", ".png")))


def versions(store: Path) -> list[ModelVersion]:
    """Every version in the store, newest first (by creation time, then name)."""
    store = Path(store)
    if not store.is_dir():
        return []
    found = [describe(store, p.name) for p in store.iterdir() if p.is_dir() and not p.is_symlink() and VERSION.match(p.name) and p.name != CURRENT]
    oldest = datetime.min.replace(tzinfo=timezone.utc)
    return sorted(found, key=lambda v: (v.created or oldest, v.version), reverse=True)


def new_version(store: Path) -> str:
    """A fresh version name, the UTC time made unique in the store, and reserved: two trainings started in the
    same second (two shells, two workers) never write the same folder. `release(store, name)` when written."""
    stem = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    name, n = stem, 1
    while True:
        if not (Path(store) / name).exists():
            try:
                os.mkdir(Path(store) / f".{name}{RESERVED}")  # atomic: exactly one caller creates it
                return name
            except FileExistsError:
                pass
        n += 1
        name = f"{stem}-{n}"


def release(store: Path, version: str) -> None:
    """Drop the reservation of a version name (its folder, if written, now holds it)."""
    with contextlib.suppress(OSError):
        os.rmdir(Path(store) / f".{version}{RESERVED}")


def current_folder(store: Path) -> Path:
    """The folder `current` names, resolved once, when it is a version of this store; else the newest valid
    version (logged), so a deleted or misdirected pointer never leaves a server with nothing to serve; the
    dangling pointer itself only when there is no valid version (loading it then says what is missing)."""
    store = Path(store).resolve()
    link = store / CURRENT
    target = link.resolve()
    if target.parent == store and target.is_dir() and VERSION.match(target.name):
        return target
    valid = [v for v in versions(store) if v.valid]
    if not valid:
        return target
    why = "outside the store" if target.parent != store else "to a missing folder"
    log.warning("%s points %s (%s): serving the newest valid version, %s", link, why, target, valid[0].version)
    return store / valid[0].version


def activate(store: Path, version: str, check=None) -> Path:
    """Point `current` at `version` after checking it loads; returns its folder.

    `check(folder)` must load the folder the way a server will (default: a
    `Parser`) and raise `ModelLoadError` when it cannot; the pointer moves only
    after it returned.
    """
    folder = folder_of(store, version)
    if check is None:
        from assistant.nlu.runtime import Parser

        check = Parser
    check(folder)
    point(store, version)
    log.info("model %s is now current in %s", version, store)
    return folder


def point(store: Path, version: str) -> None:
    """Re-point `current` atomically: a new symlink renamed over the old one."""
    store = Path(store)
    link = store / f".{CURRENT}.{uuid.uuid4().hex}"
    os.symlink(version, link)
    try:
        os.replace(link, store / CURRENT)
    except BaseException:
        link.unlink(missing_ok=True)
        raise


def train_version(store: Path, data: Path, encoder: Path | None = None, config: TrainConfig | None = None, make_current: bool | str = True,
                  progress=None):
    """Train a new version into the store from `data`; returns (version, `Trained`, the gate's `Decision`).

    `make_current`: True, activate it when the gate lets it (`nlu.gate`: not worse than the version in service on
    the same dev sentences, or the floors with nothing comparable in service); "force", activate it whatever the
    gate says; False, leave it inactive (the gate still reports). The version in service is untouched until the
    new one is complete and loads: a failed training leaves no version behind and the pointer where it was.
    """
    from assistant.nlu import gate
    from assistant.nlu.train import train

    config = config or TrainConfig()
    store = Path(store)
    store.mkdir(parents=True, exist_ok=True)
    version = new_version(store)
    try:
        trained = train(data, store / version, encoder, config, progress=progress)
    finally:
        release(store, version)
    if progress is not None:
        progress("comparing", 1.0, {})
    served = current_folder(store) if current_version(store) else None
    decision = gate.decide(store / version, served if served is not None and served.is_dir() else None, trained.dev, config)
    if trained.metadata.cut_short and decision.activate:
        decision = decision.model_copy(update={"reason": f"{decision.reason}; training was cut short: {trained.metadata.cut_short}"})
    if make_current == "force" and not decision.activate:
        decision = decision.model_copy(update={"forced": True})
    log.info("gate for %s: %s", version, decision.reason)
    if make_current == "force" or (make_current and decision.activate):
        activate(store, version)
    return version, trained, decision


def ensure_model(settings: Settings) -> Path:
    """The model folder to use: `nlu.model` when pinned, else the store's current version.

    On first use (an empty store) the model is trained from the configured
    intents and made current; a store with versions but no valid pointer gets
    its newest valid version activated. `ModelLoadError` when there is no model
    and none can be made.
    """
    folder = settings.model_folder()
    if folder.is_dir():
        return folder if settings.nlu.model else current_folder(settings.path(settings.nlu.models))
    if settings.nlu.model:
        raise ModelLoadError(f"no model at {folder}; train one with: assistant train INTENTS --out {folder}")
    models = settings.path(settings.nlu.models)
    valid = [v for v in versions(models) if v.valid]
    if valid:
        log.warning("%s does not point at a model: activating the newest valid version, %s", folder, valid[0].version)
        return activate(models, valid[0].version)
    intents = settings.path(settings.nlu.intents)
    if not intents or not intents.exists():
        raise ModelLoadError(f"no model in {models} and no intents at {intents} to train one from")
    log.warning("no model in %s yet: training one from %s (once; a few minutes)", models, intents)
    version, _, decision = train_version(models, intents, settings.path(settings.nlu.encoder), settings.train)
    if current_version(models) != version:
        raise ModelLoadError(f"the first model trained from {intents}, version {version}, was {decision.reason}; serve it anyway "
                             f"with: assistant activate {version}")
    return folder
