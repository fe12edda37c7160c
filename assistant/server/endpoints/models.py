"""The domain of the model in service, the versions in the store, activating one, and retraining in the background."""

from __future__ import annotations

from flask import send_from_directory

from assistant.intents.expand import expand
from assistant.intents.schema import Domain
from assistant.nlu import bundle, store
from assistant.nlu.errors import ModelLoadError
from assistant.server import jobs
from assistant.server.api import Endpoints, json_response, state
from assistant.server.errors import ApiError
from assistant.server.schemas import IntentInfo, IntentsResponse, ModelsResponse, SlotInfo, TrainJob, TrainRequest

EXAMPLES_PER_INTENT = 5
REPORT_FILES = ("metrics.json", "comparison.json", "confusion.png", "reliability.png")
MAX_FILE_BYTES = 2**20

endpoints = Endpoints("models")


@endpoints.operation("/v1/intents", "GET", "The domain of the model in service: intents, slots, example sentences.",
                     response=IntentsResponse, errors=(503,))
def intents():
    loaded, described = state().service.current(), state().intents
    if loaded.version not in described:
        described.clear()
        described[loaded.version] = describe_domain(loaded.parser.domain, loaded.version)
    return described[loaded.version]


@endpoints.operation("/v1/models", "GET", "The versions in the model store and which one serves.", response=ModelsResponse)
def models():
    return models_response()


@endpoints.operation("/v1/models/<version>/activate", "POST", "Check a version loads, make it current and serve it (no failed request).",
                     response=ModelsResponse, errors=(404, 409, 422),
                     parameters=[{"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}])
def activate(version: str):
    service = state().service
    try:
        folder = store.folder_of(service.store, version)
    except ModelLoadError as e:
        raise ApiError(404, str(e)) from None
    if service.pinned is not None:
        raise ApiError(409, f"this server serves the pinned folder nlu.model = {service.pinned}; unset it to serve the store")
    if not folder.is_dir():
        raise ApiError(404, f"no model version {version!r}")
    try:
        service.activate(version)
    except ModelLoadError as e:
        serving = service.loaded.version if service.loaded else "nothing"
        raise ApiError(422, f"model {version} rejected, still serving {serving}: {e}", "model_rejected") from None
    return models_response()


@endpoints.operation("/v1/train", "POST", "Train a new version from intent YAML files, in the background.",
                     body=TrainRequest, response=TrainJob, errors=(409, 503),
                     description="Returns at once with a job; poll GET /v1/train/{job}. Files are checked first: a malformed "
                                 "one is a 422 that names the file and line. The served model is untouched until the new "
                                 "version is trained and loads.")
def train(body: TrainRequest):
    for name, text in body.files.items():
        if len(text) > MAX_FILE_BYTES:
            raise ApiError(413, f"{name}: intent files are limited to 1 MB each")
    loaded = state().service.loaded
    return json_response(jobs.submit(state().jobs, state().settings, body, loaded.parser.folder if loaded else None), 202)


@endpoints.operation("/v1/models/<version>/report/<name>", "GET", "A file of a version's evaluation report: metrics.json, "
                     "comparison.json, confusion.png or reliability.png (written when it was trained through the API).",
                     response_content={"image/png": {"schema": {"type": "string", "format": "binary"}},
                                       "application/json": {"schema": {"type": "object"}}}, errors=(404,),
                     parameters=[{"name": "version", "in": "path", "required": True, "schema": {"type": "string"}},
                                 {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "enum": list(REPORT_FILES)}}])
def report(version: str, name: str):
    if name not in REPORT_FILES:
        raise ApiError(404, f"no report file {name!r} (one of {', '.join(REPORT_FILES)})")
    try:
        folder = store.folder_of(state().service.store, version)
    except ModelLoadError as e:
        raise ApiError(404, str(e)) from None
    if not (folder / bundle.REPORT / name).is_file():
        raise ApiError(404, f"model version {version!r} has no {name} (only versions trained through the API are evaluated)")
    return send_from_directory(folder / bundle.REPORT, name, max_age=0)


@endpoints.operation("/v1/train/<job>", "GET", "A training job's state and progress.", response=TrainJob, errors=(404,),
                     parameters=[{"name": "job", "in": "path", "required": True, "schema": {"type": "string"}}])
def train_status(job: str):
    return jobs.read(state().jobs, job)


def models_response() -> ModelsResponse:
    service = state().service
    return ModelsResponse(current=store.current_version(service.store), serving=service.loaded.version if service.loaded else None,
                          pinned=service.pinned is not None, models=store.versions(service.store))


def describe_domain(domain: Domain, version: str) -> IntentsResponse:
    """The domain as people read it: templates as written (rules by name), values with their synonyms, a few
    sentences the templates say."""
    examples: dict[str, list[str]] = {}
    for example in expand(domain, seed=0, max_per_intent=EXAMPLES_PER_INTENT):
        examples.setdefault(example.intent, []).append(example.text)
    out = []
    for name, intent in sorted(domain.intents.items()):
        slots = []
        for slot_name, slot in sorted(intent.slots.items()):
            listed = domain.slot_types.get(slot.type)
            slots.append(SlotInfo(name=slot_name, type=slot.type, values=[v.value for v in listed.values] if listed else None,
                                  synonyms={v.value: v.synonyms for v in listed.values if v.synonyms} if listed else {}))
        out.append(IntentInfo(name=name, slots=slots, sentences=intent.written or intent.sentences, annotated=intent.examples,
                              examples=examples.get(name, [])[:EXAMPLES_PER_INTENT]))
    return IntentsResponse(model=version, intents=out, rules=domain.rules)
