"""Endpoints declared once: the route, its pydantic body and responses, the errors it may answer.

Each area of the API (`endpoints/`) is an `Endpoints`: a Flask blueprint
whose `operation` decorator registers a view and, from the same declaration,
its OpenAPI entry, so the document at `/openapi.json` cannot disagree with
what the server checks. A declared body is read as JSON and validated before
the view runs (400 for bad JSON, 415 for another content type, 422 for a body
that does not match); a view returns a pydantic model and gets JSON back.
Views reach the app's settings and model service through `state()`.
"""

from __future__ import annotations

import functools
import hmac
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, request
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from assistant.config import Settings
from assistant.server.errors import DESCRIPTIONS, REASONS, ApiError
from assistant.server.schemas import Error, IntentsResponse
from assistant.speech.service import Service


@dataclass
class AppState:
    """What the views of one app share: its settings, the model in service, where training jobs live."""

    settings: Settings
    service: Service
    jobs: Path
    """Folder of the training jobs (shared by the workers of one `assistant serve`)."""
    tokens: list[bytes]
    openapi: dict
    """The OpenAPI document of every endpoint."""
    intents: dict[str, IntentsResponse] = field(default_factory=dict)
    """`GET /v1/intents` of the version in service, computed on first ask."""
    sockets: threading.BoundedSemaphore = field(default_factory=lambda: threading.BoundedSemaphore(1))
    """WebSockets open at once in this worker: fewer than its threads, so plain requests always find one."""


def state() -> AppState:
    return current_app.extensions["assistant"]


def authorized(token: str | None = None) -> bool:
    """No tokens configured, or the request's bearer token (else `token`, e.g. from a WebSocket message) is one of them."""
    tokens = state().tokens
    if not tokens:
        return True
    scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
    given = [g.encode() for g in (bearer.strip() if scheme.lower() == "bearer" else "", token or "") if g]
    return any(hmac.compare_digest(g, t) for g in given for t in tokens)  # constant time: no timing oracle


def same_origin(origin: str) -> bool:
    """A browser's `Origin` this server may act for: its own (the console) or one of `server.cors_origins`."""
    allowed = state().settings.server.cors_origins
    return origin in allowed or "*" in allowed or urlsplit(origin).netloc == request.host


def json_response(model: BaseModel, status: int = 200) -> Response:
    return Response(model.model_dump_json(), status=status, mimetype="application/json")


@dataclass
class Operation:
    rule: str
    method: str
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    auth: bool = True
    request_content: dict | None = None
    """OpenAPI `content` of a body that is not JSON (audio uploads)."""
    response_content: dict | None = None
    """OpenAPI `content` of a response that is not JSON."""
    parameters: list[dict] = field(default_factory=list)
    description: str = ""


class Endpoints:
    """One area of the API: a Flask blueprint and the declarations its OpenAPI entries come from."""

    def __init__(self, name: str):
        self.name = name
        self.blueprint = Blueprint(name, __name__)
        self.operations: list[Operation] = []

    def operation(self, rule: str, method: str, summary: str, tag: str | None = None, **options):
        """Register a view; its body model (if any) is validated and passed as the `body` argument."""
        op = Operation(rule, method, summary, tag or self.name, **options)
        self.operations.append(op)

        def wrap(view):
            @functools.wraps(view)
            def handler(**kwargs):
                if op.auth and not authorized():
                    raise ApiError(401, "a valid bearer token is required: Authorization: Bearer <token>")
                if op.body is not None:
                    kwargs["body"] = read_body(op.body)
                result = view(**kwargs)
                return json_response(result) if isinstance(result, BaseModel) else result

            self.blueprint.add_url_rule(rule, endpoint=f"{method.lower()}:{rule}", view_func=handler, methods=[method])
            return handler

        return wrap


def read_body(model: type[BaseModel]) -> BaseModel:
    """The request's JSON body as `model`: 415 unless JSON, 400 when malformed, 422 when it does not match."""
    if not request.is_json:
        raise ApiError(415, f"send JSON (Content-Type: application/json), not {request.mimetype or 'no content type'}")
    data = request.get_data(cache=True)  # over the size limit: werkzeug raises 413 here
    try:
        return model.model_validate_json(data or b"")
    except ValidationError as e:
        errors = e.errors(include_url=False, include_context=False, include_input=False)
        if any(err["type"] == "json_invalid" for err in errors):
            raise ApiError(400, f"the body is not valid JSON: {errors[0]['msg']}") from None
        details = [{"loc": [str(p) for p in err["loc"]], "msg": err["msg"], "type": err["type"]} for err in errors]
        where = ".".join(details[0]["loc"]) or "body"
        raise ApiError(422, f"{where}: {details[0]['msg']}", details=details) from None


def openapi(operations: list[Operation], secured: bool, title: str, version: str) -> dict:
    """The OpenAPI 3.1 document of `operations`; `secured`: the server requires bearer tokens."""
    models = {Error}
    for op in operations:
        models.update(m for m in (op.body, op.response) if m is not None)
    keys = [(m, "validation") for m in models if any(op.body is m for op in operations)]
    keys += [(m, "serialization") for m in models if m is Error or any(op.response is m for op in operations)]
    refs, defs = models_json_schema(keys, ref_template="#/components/schemas/{model}")
    paths: dict = {}
    for op in operations:
        entry: dict = {"summary": op.summary, "tags": [op.tag], "operationId": _operation_id(op), "responses": {}}
        if op.description:
            entry["description"] = op.description
        if op.parameters:
            entry["parameters"] = op.parameters
        if op.body is not None:
            entry["requestBody"] = {"required": True, "content": {"application/json": {"schema": refs[(op.body, "validation")]}}}
        elif op.request_content:
            entry["requestBody"] = {"required": True, "content": op.request_content}
        if op.response is not None:
            entry["responses"]["200"] = {"description": "OK", "content": {"application/json": {"schema": refs[(op.response, "serialization")]}}}
        else:
            entry["responses"]["200"] = {"description": "OK", "content": op.response_content or {}}
        statuses = set(op.errors) | ({401} if op.auth and secured else set())
        if op.body is not None:
            statuses |= {400, 413, 415, 422}
        for status in sorted(statuses):
            entry["responses"][str(status)] = {"description": DESCRIPTIONS.get(status, REASONS.get(status, "Error")),
                                               "content": {"application/json": {"schema": refs[(Error, "serialization")]}}}
        if op.auth and secured:
            entry["security"] = [{"bearer": []}]
        paths.setdefault(op.rule.replace("<", "{").replace(">", "}"), {})[op.method.lower()] = entry
    return {"openapi": "3.1.0", "info": {"title": title, "version": version}, "paths": paths,
            "components": {"schemas": defs.get("$defs", {}), "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}}


def _operation_id(op: Operation) -> str:
    words = [w.strip("<>{}") for w in op.rule.strip("/").replace("-", "_").split("/") if w]
    return op.method.lower() + "_" + "_".join(words or ["root"])
