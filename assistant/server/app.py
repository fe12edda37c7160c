"""The REST API and web console: `create_app(settings)` builds the Flask app a WSGI server runs.

The endpoints live in `endpoints/`, one blueprint per area, each declared
with its pydantic body and responses (`api.py`), so validation, the OpenAPI
document and the client agree. Understanding goes through the model in
service (`speech.service.Service`), which a swap replaces whole between
requests. What is left here is what cuts across every endpoint: timing and
metrics, CORS, and JSON errors (`errors.py`).
"""

from __future__ import annotations

import io
import tempfile
import threading
import time
from pathlib import Path

from flask import Flask, Response, g, request
from flask_sock import Sock

from assistant import __version__
from assistant.config import Settings
from assistant.server import errors, metrics
from assistant.server.api import AppState, authorized, openapi, same_origin
from assistant.server.endpoints import AREAS
from assistant.server.endpoints.speech import add_stream
from assistant.speech.service import Service, SpeechOptions

MAX_SOCKET_MESSAGE = 1 << 20
"""Largest WebSocket message, decompressed (32 s of 16 kHz audio): a small deflated message can inflate without end."""


def read_chunked(limit: int) -> Response | None:
    """A chunked body (it has no Content-Length) read whole here, up to `limit`: otherwise it would be cut at the
    limit without a word (a JSON error about the cut text, not 413), and a malformed chunk would surface in a view
    as an internal error, not 400."""
    environ = request.environ
    if environ.get("CONTENT_LENGTH") or "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return None
    try:
        data = environ["wsgi.input"].read(limit + 1)
    except Exception as e:  # gunicorn's parser errors (InvalidChunkSize, ...): the client's framing
        if type(e).__module__.startswith("gunicorn.http"):
            return errors.error_response(400, f"malformed chunked body: {e}")
        raise
    if len(data) > limit:
        return errors.error_response(413, f"request body over the {limit / 2**20:g} MB allowed (server.max_body_mb)")
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(data), str(len(data))
    return None


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
    app.url_map.merge_slashes = False  # `//v1//parse` is a 404 in JSON, not an HTML redirect
    app.config["MAX_CONTENT_LENGTH"] = int(settings.server.max_body_mb * 2**20)
    app.config["SOCK_SERVER_OPTIONS"] = {"max_message_size": MAX_SOCKET_MESSAGE}
    add_stream(Sock(app))
    for area in AREAS:
        app.register_blueprint(area.blueprint)
    operations = [op for area in AREAS for op in area.operations]
    app.extensions["assistant"] = AppState(settings=settings, service=service, jobs=jobs, tokens=[t.encode() for t in settings.server.tokens],
                                           openapi=openapi(operations, bool(settings.server.tokens), "assistant intent API", __version__),
                                           sockets=threading.BoundedSemaphore(max(1, settings.server.threads - 1)))
    errors.install(app, settings.server.max_body_mb)

    @app.before_request
    def started() -> Response | None:
        g.started = time.perf_counter()
        # A page on another site can make the user's browser send requests here (a form POST needs no CORS
        # pre-flight, a WebSocket none at all): a browser's request that changes state or opens a socket
        # must come from this server's own pages or an allowed origin.
        origin = request.headers.get("Origin")
        changes = request.method not in ("GET", "HEAD", "OPTIONS") or request.headers.get("Upgrade", "").lower() == "websocket"
        if origin and changes and not same_origin(origin):
            return errors.error_response(403, f"requests from origin {origin} are not allowed (server.cors_origins)")
        if request.headers.get("Upgrade", "").lower() == "websocket" and "Authorization" in request.headers and not authorized():
            return errors.error_response(401, "a valid bearer token is required")  # a client that can send it is checked at the upgrade
        return read_chunked(app.config["MAX_CONTENT_LENGTH"])

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
