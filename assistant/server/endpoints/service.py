"""The pages (web console, API docs), the OpenAPI document, and the probes and metrics an operator points at."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Response, send_from_directory

from assistant.server import metrics
from assistant.server.api import Endpoints, state
from assistant.server.schemas import Health, Ready

STATIC = Path(__file__).resolve().parents[1] / "static"

endpoints = Endpoints("service")


@endpoints.blueprint.get("/")
def console():
    return send_from_directory(STATIC, "index.html")


@endpoints.blueprint.get("/docs")
def docs():
    return send_from_directory(STATIC, "docs.html")


@endpoints.blueprint.get("/openapi.json")
def openapi():
    return Response(json.dumps(state().openapi), mimetype="application/json")


@endpoints.operation("/health", "GET", "Liveness: the process answers.", response=Health, auth=False)
def health():
    return Health()


@endpoints.operation("/ready", "GET", "Readiness: a model is loaded and serving (503 until then).", response=Ready, auth=False, errors=(503,))
def ready():
    loaded = state().service.current()  # NotReady: 503
    return Ready(ready=True, model=loaded.version, speech=loaded.speech)


@endpoints.operation("/metrics", "GET", "Prometheus metrics: requests and latencies by endpoint, the model version.",
                     response_content={"text/plain": {"schema": {"type": "string"}}})
def prometheus():
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)
