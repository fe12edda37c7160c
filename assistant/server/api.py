"""Endpoints declared once: the route, its pydantic body and responses, the errors it may answer.

`Api.operation` registers a Flask view and, from the same declaration, its
OpenAPI entry, so the document at `/openapi.json` cannot disagree with what
the server checks. A declared body is read as JSON and validated before the
view runs (400 for bad JSON, 415 for another content type, 422 for a body
that does not match); a view returns a pydantic model and gets JSON back.
Every failure leaves as `schemas.Error`, whatever raised it.
"""

from __future__ import annotations

import functools
import hmac
from dataclasses import dataclass, field

from flask import Flask, Response, request
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from assistant.server.schemas import Error, ErrorBody

REASONS = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 409: "conflict",
           413: "too_large", 415: "unsupported_media_type", 422: "invalid", 500: "internal_error", 503: "not_ready"}
DESCRIPTIONS = {400: "Malformed request (e.g. invalid JSON).", 401: "Missing or wrong bearer token.", 404: "No such resource.",
                409: "Conflicts with work in progress.", 413: "Request too large (bytes, text length, batch size or audio seconds).",
                415: "Unsupported content type.", 422: "Well-formed, but not a valid request.", 503: "Not ready: no model loaded, or the feature is unavailable."}


class ApiError(Exception):
    """A failure to answer with `status` and a stable `code`; the message is for people."""

    def __init__(self, status: int, message: str, code: str | None = None, details: list[dict] | None = None):
        super().__init__(message)
        self.status, self.code, self.details = status, code or REASONS.get(status, "error"), details


def error_response(status: int, message: str, code: str | None = None, details: list[dict] | None = None, headers=None) -> Response:
    body = Error(error=ErrorBody(status=status, code=code or REASONS.get(status, "error"), message=message, details=details))
    response = Response(body.model_dump_json(exclude_none=True), status=status, mimetype="application/json")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="assistant"'
    for k, v in (headers or {}).items():
        response.headers[k] = v
    return response


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


class Api:
    def __init__(self, app: Flask, tokens: list[str]):
        self.app = app
        self.tokens = [t.encode() for t in tokens]
        self.operations: list[Operation] = []

    def authorized(self, token: str | None = None) -> bool:
        """No tokens configured, or the request's bearer token (else `token`, e.g. from a WebSocket message) is one of them."""
        if not self.tokens:
            return True
        scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
        given = [g.encode() for g in (bearer.strip() if scheme.lower() == "bearer" else "", token or "") if g]
        return any(hmac.compare_digest(g, t) for g in given for t in self.tokens)  # constant time: no timing oracle

    def operation(self, rule: str, method: str, summary: str, tag: str, **options):
        """Register a view; its body model (if any) is validated and passed as the `body` argument."""
        op = Operation(rule, method, summary, tag, **options)
        self.operations.append(op)

        def wrap(view):
            @functools.wraps(view)
            def handler(**kwargs):
                if op.auth and not self.authorized():
                    raise ApiError(401, "a valid bearer token is required: Authorization: Bearer <token>")
                if op.body is not None:
                    kwargs["body"] = read_body(op.body)
                result = view(**kwargs)
                return json_response(result) if isinstance(result, BaseModel) else result

            self.app.add_url_rule(rule, endpoint=f"{method.lower()}:{rule}", view_func=handler, methods=[method])
            return handler

        return wrap

    def openapi(self, title: str, version: str) -> dict:
        """The OpenAPI 3.1 document of every registered operation."""
        models = {Error}
        for op in self.operations:
            models.update(m for m in (op.body, op.response) if m is not None)
        keys = [(m, "validation") for m in models if any(op.body is m for op in self.operations)]
        keys += [(m, "serialization") for m in models if m is Error or any(op.response is m for op in self.operations)]
        refs, defs = models_json_schema(keys, ref_template="#/components/schemas/{model}")
        paths: dict = {}
        for op in self.operations:
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
            statuses = set(op.errors) | ({401} if op.auth and self.tokens else set())
            if op.body is not None:
                statuses |= {400, 413, 415, 422}
            for status in sorted(statuses):
                entry["responses"][str(status)] = {"description": DESCRIPTIONS.get(status, REASONS.get(status, "Error")),
                                                   "content": {"application/json": {"schema": refs[(Error, "serialization")]}}}
            if op.auth and self.tokens:
                entry["security"] = [{"bearer": []}]
            paths.setdefault(op.rule.replace("<", "{").replace(">", "}"), {})[op.method.lower()] = entry
        spec = {"openapi": "3.1.0", "info": {"title": title, "version": version}, "paths": paths,
                "components": {"schemas": defs.get("$defs", {}), "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}}
        return spec


def _operation_id(op: Operation) -> str:
    words = [w.strip("<>{}") for w in op.rule.strip("/").replace("-", "_").split("/") if w]
    return op.method.lower() + "_" + "_".join(words or ["root"])


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
