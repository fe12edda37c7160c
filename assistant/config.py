"""Settings: `config.toml`, overridden by `ASSISTANT_<SECTION>_<KEY>` environment
variables, overridden by command-line flags.

The file is looked up as `--config`, then `$ASSISTANT_CONFIG`, then
`./config.toml`; without one the defaults below hold. Relative paths in it are
read from the folder that holds it, so the service behaves the same whatever
the working directory.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ConfigError(Exception):
    """A config file or override that cannot be used; the message names it."""


class NluSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    models: Path = Path("models")
    """The model store: one folder per version and a `current` pointer (see `assistant.nlu.store`)."""
    model: Path | None = None
    """A model folder to serve instead of the store's current version (pinned: no hot swap)."""
    intents: Path = Path("intents")
    encoder: Path | None = None
    threads: int = 0
    oos_threshold: float | None = None
    """Out-of-scope threshold overriding the one the trainer chose on dev (None: the model's)."""


class TrainSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    epochs: int = 5
    batch_size: int = 32
    lr: float = 1e-4
    patience: int = 3
    seed: int = 0
    crf: bool = True
    max_per_intent: int = 150
    max_minutes: float = 4
    max_false_reject: float = 0.002


class SpeechSettings(BaseModel):
    """Speech front end and daemon (`[speech]`); see config.toml for what each key does."""

    model_config = ConfigDict(extra="forbid")
    engine: Literal["auto", "vosk", "pocketsphinx"] = "auto"
    vosk_model: Path | None = None
    mode: Literal["domain", "free"] = "domain"
    sample_rate: int = Field(16000, ge=8000, le=48000)
    max_seconds: float = Field(30.0, gt=0)
    endpoint_silence: float = Field(0.8, gt=0)
    max_phrases: int = Field(30000, ge=1)
    input_device: str = ""
    uri: str = "tcp://127.0.0.1:10700"


class ServerSettings(BaseModel):
    """REST API (`[server]`); see config.toml for what each key does."""

    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(2, ge=1)
    threads: int = Field(4, ge=1)
    tokens: list[str] = Field(default_factory=list, repr=False)
    cors_origins: list[str] = Field(default_factory=list)
    max_text_chars: int = Field(1000, ge=1)
    max_batch: int = Field(256, ge=1)
    max_body_mb: float = Field(16, gt=0)
    speech: bool = True


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nlu: NluSettings = NluSettings()
    train: TrainSettings = TrainSettings()
    speech: SpeechSettings = SpeechSettings()
    server: ServerSettings = ServerSettings()
    root: Path = Path(".")
    """Folder relative paths are read from."""

    def path(self, p: Path | None) -> Path | None:
        if p is None or str(p) == "":
            return None
        p = Path(os.path.expanduser(p))
        return p if p.is_absolute() else self.root / p

    def model_folder(self) -> Path:
        """The model folder parse and the services use: `nlu.model` when pinned, else the store's `current`."""
        from assistant.nlu.store import CURRENT

        return self.path(self.nlu.model) or self.path(self.nlu.models) / CURRENT


def find_config(explicit: str | None = None) -> Path | None:
    for candidate in (explicit, os.environ.get("ASSISTANT_CONFIG"), "config.toml"):
        if candidate:
            path = Path(candidate)
            if path.is_file():
                return path
            if candidate is not None and candidate != "config.toml":
                raise ConfigError(f"{candidate}: config file not found")
    return None


def load_settings(explicit: str | None = None, environ: dict | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    path = find_config(explicit)
    raw: dict = {}
    if path:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: {e}") from None
    for section, fields in (("nlu", NluSettings.model_fields), ("train", TrainSettings.model_fields),
                            ("speech", SpeechSettings.model_fields), ("server", ServerSettings.model_fields)):
        for key, field in fields.items():
            value = environ.get(f"ASSISTANT_{section.upper()}_{key.upper()}")
            if value is not None:  # lists come comma-separated: ASSISTANT_SERVER_TOKENS=a,b
                raw.setdefault(section, {})[key] = [v.strip() for v in value.split(",") if v.strip()] if field.annotation == list[str] else value
    for section, key in (("nlu", "encoder"), ("nlu", "oos_threshold"), ("nlu", "model"), ("speech", "vosk_model")):
        if isinstance(raw.get(section), dict) and raw[section].get(key) == "":  # an empty string means "not set"
            raw[section][key] = None
    raw["root"] = path.parent.resolve() if path else Path.cwd()
    try:
        return Settings.model_validate(raw)
    except ValidationError as e:
        error = e.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise ConfigError(f"{path or 'settings'}: {where}: {error['msg']}") from None
