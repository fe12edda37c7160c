"""What crosses the REST API: every request and response body, defined once.

The server validates requests with these models and builds its OpenAPI
document from them; `assistant.client` parses responses with the same ones, so
server and client cannot drift apart. Importing this module needs neither
Flask nor a model.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.nlu.gate import Decision
from assistant.nlu.result import ParseResult
from assistant.nlu.store import ModelVersion
from assistant.speech.result import RecognizeResult


class Request(BaseModel):
    """A request body: strict (no `false` for a number, no `"1"` for an int) and no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ParseRequest(Request):
    text: str = Field(description="The utterance; longer than `server.max_text_chars` characters: 413.")
    threshold: float | None = Field(None, allow_inf_nan=False,
                                    description="Out-of-scope threshold for this request (higher accepts more); default: the server's.")
    repair: bool | None = Field(None, description="Repair near misses of the templates, typos included (\"turn of the light\"), "
                                                  "as speech is; the result's `repair` says how. Default: the server's (`nlu.repair`).")


class BatchRequest(Request):
    texts: list[str] = Field(description="Utterances, at most `server.max_batch`; results come back in the same order.")
    threshold: float | None = Field(None, allow_inf_nan=False)
    repair: bool | None = Field(None, description="As in `/v1/parse`.")


class Parsed(ParseResult):
    """A parse result and the model version that produced it."""

    model: str = Field(description="Version of the model that answered.")


class BatchParsed(BaseModel):
    model: str
    results: list[ParseResult]


class Recognized(RecognizeResult):
    """What was said, understood, and the model version that answered."""

    model: str


class RasaParseRequest(BaseModel):
    """Rasa's `POST /model/parse` body; unknown fields are ignored as Rasa does."""

    model_config = ConfigDict(strict=True)

    text: str
    message_id: str | None = None
    repair: bool | None = Field(None, description="Not Rasa's: as in `/v1/parse`.")


class RasaIntent(BaseModel):
    name: str | None = Field(description="Intent name; `nlu_fallback` when the utterance is out of scope (Rasa's FallbackClassifier name); null for empty text.")
    confidence: float


class RasaEntity(BaseModel):
    entity: str
    value: Any
    start: int
    end: int
    confidence_entity: float
    extractor: str = "JointBERT"
    text: str | None = Field(None, description="The words as written (Rasa clients ignore it).")


class RasaParseResponse(BaseModel):
    text: str
    intent: RasaIntent
    entities: list[RasaEntity]
    intent_ranking: list[RasaIntent]


class SlotInfo(BaseModel):
    name: str
    type: str
    values: list[str] | None = Field(None, description="Canonical values of a list type; null for built-in types.")
    synonyms: dict[str, list[str]] = Field(default_factory=dict, description="Other ways to say a value: value -> words.")


class IntentInfo(BaseModel):
    name: str
    slots: list[SlotInfo]
    sentences: list[str] = Field(description="The intent's templates as written in its file (shared rules by `<name>`).")
    annotated: list[str] = Field(default_factory=list, description="Its free examples, slot values marked `[words](slot)`.")
    examples: list[str] = Field(description="A few sentences generated from the templates.")


class IntentsResponse(BaseModel):
    model: str
    intents: list[IntentInfo]
    rules: dict[str, str] = Field(default_factory=dict, description="The shared template fragments the sentences name as `<rule>`.")


class ModelsResponse(BaseModel):
    current: str | None = Field(description="Version the store's `current` pointer names.")
    serving: str | None = Field(description="Version this server process answers with (the same once a swap is done).")
    pinned: bool = Field(description="The server serves a fixed folder (`nlu.model`): activation is refused.")
    models: list[ModelVersion]


class TrainRequest(Request):
    files: dict[str, str] = Field(default_factory=dict, description="Intent files: file name (`*.yaml`) -> its YAML text; at "
                                                                    "least one unless `base` gives the rest.")
    base: Literal["served"] | None = Field(None, description="`served`: start from the intent files the served version was trained "
                                                             "from (kept in its folder) and add `files` beside them (one of the "
                                                             "same name replaces theirs): the console's retrain with corrections.")
    activate: bool | Literal["force"] = Field(True, description="true: make the new version current once trained and checked, when "
                                                                "the gate lets it (not worse than the served version on the same dev "
                                                                "sentences, see `gate` in the job); \"force\": whatever the gate "
                                                                "says; false: leave it inactive.")
    epochs: int | None = Field(None, ge=1, le=50, description="Taken as given. Default: train.epochs of the server's config (more for a "
                                                                 "small set: at least train.min_steps optimiser steps).")
    max_minutes: float | None = Field(None, gt=0, le=240, description="A time budget: the schedule shortened to the steps that fit "
                                                                     "(default: train.max_minutes, 0 in the shipped config: none).")
    seed: int | None = Field(None, ge=0)
    max_per_intent: int | None = Field(None, ge=1, le=5000)


class Scores(BaseModel):
    version: str
    intent_acc: float
    slot_f1: float
    sentence_acc: float


class Comparison(BaseModel):
    """The new version and the one in service on the same held-out sentences (the new one's dev split, neural model alone)."""

    sentences: int
    new: Scores
    served: Scores | None = Field(None, description="Null when nothing was in service or it could not be scored.")


class TrainJob(BaseModel):
    """A training started by `POST /v1/train`."""

    id: str
    state: Literal["queued", "running", "succeeded", "failed"]
    stage: str = Field(description="queued, preparing, training, exporting, calibrating, measuring, comparing, preparing speech, activating, "
                                   "done or failed.")
    progress: float = Field(description="Fraction of the training steps done, 0 to 1.")
    detail: dict[str, Any] = Field(default_factory=dict, description="Epoch, loss, dev scores as they come.")
    activate: bool | Literal["force"]
    version: str | None = Field(None, description="The new model version, once written.")
    gate: Decision | None = Field(None, description="The gate's decision on the new version (once trained): whether it may serve, "
                                                    "and why; with `activate: true` it is made current only when it may.")
    comparison: Comparison | None = Field(None, description="Once compared; the plots are in the version's report.")
    error: str | None = None
    created: datetime
    finished: datetime | None = None


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    worker: int = Field(default_factory=os.getpid, description="The process id of the worker that answered.")


class Ready(BaseModel):
    ready: bool
    model: str | None = None
    speech: str | None = Field(None, description="Speech engine and model, or why speech is unavailable.")
    reason: str | None = None


class ErrorBody(BaseModel):
    status: int
    code: str = Field(description="Stable, machine-readable: bad_request, unauthorized, not_found, too_large, unsupported_media_type, invalid, conflict, not_ready, ...")
    message: str
    details: list[dict[str, Any]] | None = None


class Error(BaseModel):
    """Every failure has this shape, whatever the status."""

    error: ErrorBody
