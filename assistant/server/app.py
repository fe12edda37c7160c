"""The REST API and web console: `create_app(settings)` builds the Flask app a WSGI server runs.

The endpoints live in `endpoints/`, one blueprint per area, each declared
with its pydantic body and responses (`api.py`), so validation, the OpenAPI
document and the client agree. Understanding goes through the model in
service (`speech.service.Service`), which a swap replaces whole between
requests. What is left here is what cuts across every endpoint: timing and
metrics, CORS, and JSON errors (`errors.py`).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from flask import Flask, Response, g, request
from flask_sock import Sock

from assistant import __version__
from assistant.config import Settings
from assistant.server import errors, metrics
from assistant.server.api import AppState, openapi
from assistant.server.endpoints import AREAS
from assistant.server.endpoints.speech import add_stream
from assistant.speech.service import Service, SpeechOptions


def create_app(settings: Settings, service: Service | None = None, runtime: Path | None = None) -> Flask:
    """The app for `settings`; `service` defaults to one following the configured store, loaded now.

    `runtime` is the server's private folder (training jobs and their uploads);
    `assistant serve` shares one between its workers.
    """
    if service is None:
        service = Service(settings, SpeechOptions(enabled=settings.server.speech), threads=settings.nlu.threads or 1)
        service.reload()
        service.watch()
    service.on_swap = lambda old, new: metrics.model_swapped(old.version if old else None, new.version)
    if service.loaded is not None:
        metrics.model_swapped(None, service.loaded.version)
    jobs = Path(runtime or tempfile.mkdtemp(prefix="assistant-server-")) / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)

    app = Flask("assistant.server", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = int(settings.server.max_body_mb * 2**20)
    add_stream(Sock(app))
    for area in AREAS:
        app.register_blueprint(area.blueprint)
    operations = [op for area in AREAS for op in area.operations]
    app.extensions["assistant"] = AppState(settings=settings, service=service, jobs=jobs, tokens=[t.encode() for t in settings.server.tokens],
                                           openapi=openapi(operations, bool(settings.server.tokens), "assistant intent API", __version__))
    errors.install(app, settings.server.max_body_mb)

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

    return app
