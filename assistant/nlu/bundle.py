"""The model folder: one self-contained directory per trained model.

Everything the runtime needs lives in it (ONNX graph, tokenizer, labels,
domain, metadata), so a folder can be copied to another device, versioned, or
rejected whole when any part is missing or corrupt. This is the one loader.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from assistant.nlu import scope
from assistant.nlu.errors import ModelLoadError
from assistant.nlu.scope import ScopeParams

FORMAT_VERSION = 1
ONNX_INT8 = "model.onnx"
ONNX_FP32 = "model.fp32.onnx"
TOKENIZER = "tokenizer.json"
LABELS = "labels.json"
DOMAIN = "domain.json"
METADATA = "metadata.json"
PHRASES = "phrases.txt"
"""Spoken sentences of the domain, one a line, sampled at training for the speech engines' domain biasing."""
SPEECH = "speech"
"""A folder for what speech engines build from the phrases once (pocketsphinx's language model), written on first load."""
SCOPE = scope.FILE
INTENTS = "intents"
"""The intent files the model was trained from, kept so that a retrain can start from them (the console's)."""
REPORT = "report"
"""An evaluation written after training when asked (metrics.json, confusion.png, reliability.png, comparison.json)."""


class Labels(BaseModel):
    intents: list[str]
    tags: list[str]
    start: list[float] = Field(description="Viterbi start score per tag.")
    transitions: list[list[float]] = Field(description="Viterbi score from tag i to tag j.")
    end: list[float] | None = None
    word_pool: Literal["first", "mean"] = Field("first", description="A word's tag scores: its first sub-token's, or the "
                                                "mean over its sub-tokens (as the model was trained).")
    scope: ScopeParams | None = Field(None, description="Calibration and out-of-scope rejection; matrices in scope.npz.")


class Metadata(BaseModel):
    format_version: int = FORMAT_VERSION
    created: datetime
    base_model: str = Field(description="Encoder folder or package the model was fine-tuned from.")
    data_source: str
    data_hash: str = Field(description="sha256 of the training and dev examples.")
    n_train: int
    n_dev: int
    crf: bool
    seed: int
    epochs_run: int
    best_epoch: int
    train_seconds: float
    steps_planned: int | None = Field(None, description="Optimiser steps the schedule planned (None: a folder from before it was recorded).")
    steps_run: int | None = None
    cut_short: str | None = Field(None, description="Why training ran fewer steps than planned (a time budget ran out); None: it did not.")
    hyperparameters: dict
    metrics: dict = Field(default_factory=dict, description="`dev` and, when the data has one, `test` Metrics (int8 ONNX).")
    export: dict = Field(default_factory=dict, description="Parity of the ONNX graphs against torch at export.")
    sizes_mb: dict[str, float] = Field(default_factory=dict)


def write_json(path: Path, model: BaseModel) -> None:
    path.write_text(model.model_dump_json(indent=2) + "\n", encoding="utf-8")


def read_json(folder: Path, name: str, schema: type[BaseModel]) -> BaseModel:
    path = folder / name
    try:
        return schema.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise ModelLoadError(f"{folder}: missing {name}") from None
    except (ValidationError, ValueError) as e:
        first = str(e).splitlines()[0]
        raise ModelLoadError(f"{folder}: {name} is not valid: {first}") from None


def check_folder(folder: Path) -> tuple[Metadata, Labels]:
    """Validate a model folder and return its metadata and labels, or raise `ModelLoadError`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelLoadError(f"{folder}: no such model folder")
    metadata = read_json(folder, METADATA, Metadata)
    if metadata.format_version != FORMAT_VERSION:
        raise ModelLoadError(f"{folder}: model format {metadata.format_version}, this runtime reads {FORMAT_VERSION}; retrain it")
    labels = read_json(folder, LABELS, Labels)
    n = len(labels.tags)
    if len(labels.start) != n or len(labels.transitions) != n or any(len(r) != n for r in labels.transitions):
        raise ModelLoadError(f"{folder}: {LABELS} transition scores do not match its {n} tags")
    for name in (ONNX_INT8, TOKENIZER, DOMAIN) + ((SCOPE,) if labels.scope else ()):
        if not (folder / name).is_file():
            raise ModelLoadError(f"{folder}: missing {name}")
    return metadata, labels


def data_hash(examples) -> str:
    import hashlib

    digest = hashlib.sha256()
    for e in examples:
        digest.update(json.dumps([e.intent, e.tokens, e.tags]).encode())
    return digest.hexdigest()
