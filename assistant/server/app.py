"""The REST API and web console: `create_app(settings)` builds the Flask app a WSGI server runs.

Every endpoint is declared with its pydantic body and responses (`api.py`),
so validation, the OpenAPI document and the client agree. Understanding goes
through the one `Parser`/`Pipeline` of the model in service (`service.py`),
which a swap replaces whole between requests.
"""

from __future__ import annotations

import io
import json
import logging
import os
import tempfile
import time
from pathlib import Path

from flask import Flask, Response, g, request, send_from_directory
from werkzeug.exceptions import HTTPException

from assistant.nlu.bundle import ModelLoadError
from assistant.server import jobs, metrics
from assistant.server.api import Api, ApiError, error_response, json_response
from assistant.server.schemas import (BatchParsed, BatchRequest, Health, IntentInfo, IntentsResponse, ModelsResponse, Parsed, ParseRequest,
                                      RasaEntity, RasaIntent, RasaParseRequest, RasaParseResponse, Ready, Recognized, SlotInfo, TrainJob,
                                      TrainRequest)
from assistant.server.service import NotReady, Service, SpeechUnavailable

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
AUDIO_TYPES = {"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "audio/flac", "audio/x-flac", "audio/ogg", "application/ogg"}
RAW_TYPES = {"audio/l16", "audio/pcm", "application/octet-stream"}
EXAMPLES_PER_INTENT = 3


def create_app(settings, service: Service | None = None, runtime: Path | None = None) -> Flask:
    """The app for `settings`; `service` defaults to one following the configured store, loaded now.

    `runtime` is the server's private temporary folder (training jobs and
    their uploads); `assistant serve` shares one between its workers.
    """
    app = Flask("assistant.server", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = int(settings.server.max_body_mb * 2**20)
    limits = settings.server
    if service is None:
        service = Service(settings)
        service.reload()
        service.watch()
    service.on_swap = lambda old, new: metrics.model_swapped(old.version if old else None, new.version)
    if service.loaded is not None:
        metrics.model_swapped(None, service.loaded.version)
    runtime = Path(runtime or os.environ.get("ASSISTANT_SERVER_RUNTIME") or tempfile.mkdtemp(prefix="assistant-server-"))
    job_folder = runtime / "jobs"
    job_folder.mkdir(parents=True, exist_ok=True)
    api = Api(app, settings.server.tokens)
    app.extensions["assistant"] = {"service": service, "api": api, "settings": settings}

    # Cross-cutting: timing and metrics, CORS, JSON errors.
    @app.before_request
    def started() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def finished(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        metrics.observe(endpoint, request.method, response.status_code, time.perf_counter() - g.get("started", time.perf_counter()))
        origin = request.headers.get("Origin")
        allowed = settings.server.cors_origins
        if origin and (origin in allowed or "*" in allowed):
            response.headers["Access-Control-Allow-Origin"] = "*" if "*" in allowed else origin
            response.headers["Vary"] = "Origin"
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Max-Age"] = "600"
        return response

    @app.errorhandler(ApiError)
    def api_error(e: ApiError):
        return error_response(e.status, str(e), e.code, e.details)

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        messages = {404: f"no such endpoint: {request.method} {request.path}", 405: f"{request.method} is not allowed on {request.path}",
                    413: f"request body over the {settings.server.max_body_mb:g} MB allowed (server.max_body_mb)"}
        return error_response(e.code or 500, messages.get(e.code, e.description or e.name))

    @app.errorhandler(NotReady)
    def not_ready(e):
        return error_response(503, f"no model in service: {e}", headers={"Retry-After": "5"})

    @app.errorhandler(SpeechUnavailable)
    def no_speech(e):
        return error_response(503, str(e), "speech_unavailable")

    @app.errorhandler(Exception)
    def crashed(e: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal error; the server log has the details")

    # Pages.
    @app.get("/")
    def console():
        return send_from_directory(STATIC, "index.html")

    @app.get("/docs")
    def docs():
        return send_from_directory(STATIC, "docs.html")

    @app.get("/openapi.json")
    def openapi():
        from assistant import __version__

        return Response(json.dumps(api.openapi("assistant intent API", __version__)), mimetype="application/json")

    # Probes and metrics.
    @api.operation("/health", "GET", "Liveness: the process answers.", "service", response=Health, auth=False)
    def health():
        return Health()

    @api.operation("/ready", "GET", "Readiness: a model is loaded and serving (503 until then).", "service", response=Ready, auth=False,
                   errors=(503,))
    def ready():
        loaded = service.current()  # NotReady: 503
        return Ready(ready=True, model=loaded.version, speech=loaded.speech)

    @api.operation("/metrics", "GET", "Prometheus metrics: requests and latencies by endpoint, the model version.", "service",
                   response_content={"text/plain": {"schema": {"type": "string"}}})
    def prometheus():
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type)

    # Understanding text.
    def check_text(text: str, where: str = "text") -> None:
        if len(text) > limits.max_text_chars:
            raise ApiError(413, f"{where}: {len(text)} characters is over the {limits.max_text_chars} allowed (server.max_text_chars)")

    @api.operation("/v1/parse", "POST", "Understand one utterance: intent, slots, confidences, out-of-scope.", "nlu",
                   body=ParseRequest, response=Parsed, errors=(503,))
    def parse(body: ParseRequest):
        check_text(body.text)
        loaded = service.current()
        return Parsed(**loaded.parser.parse(body.text, threshold=body.threshold).model_dump(), model=loaded.version)

    @api.operation("/v1/parse/batch", "POST", "Understand many utterances at once (in order).", "nlu",
                   body=BatchRequest, response=BatchParsed, errors=(503,))
    def parse_batch(body: BatchRequest):
        if len(body.texts) > limits.max_batch:
            raise ApiError(413, f"{len(body.texts)} texts is over the {limits.max_batch} allowed in one batch (server.max_batch)")
        for i, text in enumerate(body.texts):
            check_text(text, f"texts.{i}")
        loaded = service.current()
        return BatchParsed(model=loaded.version, results=loaded.parser.parse_batch(body.texts, threshold=body.threshold))

    @api.operation("/model/parse", "POST", "Rasa-compatible parse: the shape Rasa's HTTP API returns.", "rasa",
                   body=RasaParseRequest, response=RasaParseResponse, errors=(503,))
    def rasa_parse(body: RasaParseRequest):
        check_text(body.text)
        return to_rasa(service.current().parser.parse(body.text))

    # Understanding speech.
    @api.operation("/v1/recognize", "POST", "Speech to intent: an audio upload in, transcript and intent out.", "speech",
                   response=Recognized, errors=(400, 413, 415, 422, 503),
                   description="The body is a WAV, FLAC or OGG file (Content-Type audio/wav, audio/flac, audio/ogg, or a "
                               "multipart form field `audio`), or headerless 16-bit little-endian PCM (audio/L16 or "
                               "application/octet-stream) with `rate` and `channels`. For chunked audio with partial transcripts "
                               "open the WebSocket /v1/recognize/stream.",
                   request_content={t: {"schema": {"type": "string", "format": "binary"}} for t in
                                    ("audio/wav", "audio/flac", "audio/ogg", "audio/L16", "application/octet-stream")} |
                                   {"multipart/form-data": {"schema": {"type": "object", "properties": {"audio": {"type": "string", "format": "binary"}}}}},
                   parameters=[{"name": "rate", "in": "query", "schema": {"type": "integer", "minimum": 1}, "description": "Sample rate of raw PCM."},
                               {"name": "channels", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 32}, "description": "Channels of raw PCM (default 1)."},
                               {"name": "mode", "in": "query", "schema": {"type": "string", "enum": ["domain", "free"]}, "description": "Domain-biased or free recognition."}])
    def recognize():
        audio = read_audio(settings)
        pipeline = service.current().need_pipeline()
        mode = request.args.get("mode") or None
        if mode not in (None, "domain", "free"):
            raise ApiError(422, f"mode must be domain or free, not {mode!r}")
        result = pipeline.recognize_audio(audio, mode)
        return Recognized(**result.model_dump(), model=pipeline.parser.version)

    from assistant.server.stream import add_stream_route

    add_stream_route(app, api, service, settings)

    # The domain and the models.
    described: dict[str, IntentsResponse] = {}  # per version, computed on first ask

    @api.operation("/v1/intents", "GET", "The domain of the model in service: intents, slots, example sentences.", "models",
                   response=IntentsResponse, errors=(503,))
    def intents():
        loaded = service.current()
        if loaded.version not in described:
            described.clear()
            described[loaded.version] = IntentsResponse(model=loaded.version, intents=describe_domain(loaded.parser.domain))
        return described[loaded.version]

    def models_response() -> ModelsResponse:
        from assistant.nlu import store

        return ModelsResponse(current=store.current_version(service.store), serving=service.loaded.version if service.loaded else None,
                              pinned=service.pinned is not None, models=store.versions(service.store))

    @api.operation("/v1/models", "GET", "The versions in the model store and which one serves.", "models", response=ModelsResponse)
    def models():
        return models_response()

    @api.operation("/v1/models/<version>/activate", "POST", "Check a version loads, make it current and serve it (no failed request).",
                   "models", response=ModelsResponse, errors=(404, 409, 422),
                   parameters=[{"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}])
    def activate(version: str):
        from assistant.nlu import store

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
            raise ApiError(422, f"model {version} rejected, still serving {service.loaded.version if service.loaded else 'nothing'}: {e}",
                           "model_rejected") from None
        return models_response()

    # Retraining.
    @api.operation("/v1/train", "POST", "Train a new version from intent YAML files, in the background.", "models",
                   body=TrainRequest, response=TrainJob, errors=(409, 503),
                   description="Returns at once with a job; poll GET /v1/train/{job}. Files are checked first: a malformed "
                               "one is a 422 that names the file and line. The served model is untouched until the new "
                               "version is trained and loads.")
    def train(body: TrainRequest):
        for name, text in body.files.items():
            if len(text) > 2**20:
                raise ApiError(413, f"{name}: intent files are limited to 1 MB each")
        try:
            return json_response(jobs.submit(job_folder, settings, body), 202)
        except jobs.JobError as e:
            raise ApiError(e.status, str(e)) from None

    @api.operation("/v1/train/<job>", "GET", "A training job's state and progress.", "models", response=TrainJob, errors=(404,),
                   parameters=[{"name": "job", "in": "path", "required": True, "schema": {"type": "string"}}])
    def train_status(job: str):
        try:
            return jobs.read(job_folder, job)
        except jobs.JobError as e:
            raise ApiError(e.status, str(e)) from None

    return app


def read_audio(settings):
    """The request's audio, checked: 415 for a type that is not audio, 413 when too long, 422 when unreadable."""
    from assistant.speech.audio import AudioError, AudioTooLong, decode, from_pcm

    max_seconds = settings.speech.max_seconds
    mimetype = request.mimetype.lower()
    try:
        if mimetype == "multipart/form-data":
            upload = request.files.get("audio")
            if upload is None:
                raise ApiError(422, "the form has no `audio` file field")
            return decode(io.BytesIO(upload.read()), max_seconds, upload.filename or "audio")
        if mimetype in AUDIO_TYPES:
            return decode(io.BytesIO(request.get_data()), max_seconds, "the uploaded audio")
        if mimetype in RAW_TYPES:
            rate = request.mimetype_params.get("rate") or request.args.get("rate")
            channels = request.mimetype_params.get("channels") or request.args.get("channels") or "1"
            if rate is None:
                raise ApiError(422, "raw PCM has no header: give its sample rate (?rate=16000 or Content-Type: audio/L16;rate=16000)")
            if not (rate.isdigit() and channels.isdigit()):
                raise ApiError(422, f"rate and channels must be whole numbers, not {rate!r} and {channels!r}")
            return from_pcm(request.get_data(), int(rate), int(channels), max_seconds=max_seconds, what="the uploaded PCM")
    except AudioTooLong as e:
        raise ApiError(413, f"{e} (speech.max_seconds)") from None
    except AudioError as e:
        raise ApiError(422, str(e), "bad_audio") from None
    raise ApiError(415, f"send audio as audio/wav, audio/flac, audio/ogg, audio/L16 or a multipart `audio` field, not {mimetype or 'no content type'}")


def to_rasa(result) -> RasaParseResponse:
    """A `ParseResult` in Rasa's shape; out of scope becomes Rasa's `nlu_fallback` intent."""
    ranking = [RasaIntent(name=s.name, confidence=s.confidence) for s in result.intent_ranking]
    if result.intent is not None:
        intent = RasaIntent(name=result.intent.name, confidence=result.intent.confidence)
    elif ranking:
        intent = RasaIntent(name="nlu_fallback", confidence=round(1.0 - ranking[0].confidence, 4))
        ranking = [intent] + ranking
    else:
        intent = RasaIntent(name=None, confidence=0.0)
    entities = [RasaEntity(entity=e.slot, value=e.value, start=e.start, end=e.end, confidence_entity=e.confidence, text=e.text)
                for e in result.entities]
    return RasaParseResponse(text=result.text, intent=intent, entities=entities, intent_ranking=ranking)


def describe_domain(domain) -> list[IntentInfo]:
    from assistant.intents.expand import expand

    examples: dict[str, list[str]] = {}
    for example in expand(domain, seed=0, max_per_intent=EXAMPLES_PER_INTENT):
        examples.setdefault(example.intent, []).append(example.text)
    out = []
    for name, intent in sorted(domain.intents.items()):
        slots = []
        for slot_name, slot in sorted(intent.slots.items()):
            listed = domain.slot_types.get(slot.type)
            slots.append(SlotInfo(name=slot_name, type=slot.type, values=[v.value for v in listed.values] if listed else None))
        out.append(IntentInfo(name=name, slots=slots, sentences=intent.sentences, examples=examples.get(name, [])[:EXAMPLES_PER_INTENT]))
    return out
