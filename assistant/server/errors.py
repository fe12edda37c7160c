"""Every failure leaves as JSON (`schemas.Error`) with a status and a stable code, whatever raised it.

This is the REST boundary's one mapping of errors: an `ApiError` carries its
own status; any other `AssistantError` gets the status of its kind below
(bad audio 422, audio too long 413, no model 503, ...); anything else is a bug
of ours, logged with its traceback and answered 500 without details.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from assistant.errors import AssistantError
from assistant.intents.errors import IntentFileError
from assistant.nlu.errors import ModelLoadError, TrainError
from assistant.server.schemas import Error, ErrorBody
from assistant.speech.audio import AudioError, AudioTooLong
from assistant.speech.recognizer import Busy, SpeechError
from assistant.speech.service import NotReady, SpeechUnavailable

log = logging.getLogger(__name__)

REASONS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed", 408: "timeout", 409: "conflict",
           413: "too_large", 414: "uri_too_long", 415: "unsupported_media_type", 417: "expectation_failed", 422: "invalid",
           431: "headers_too_large", 500: "internal_error", 501: "not_implemented", 503: "not_ready"}
DESCRIPTIONS = {400: "Malformed request (e.g. invalid JSON).", 401: "Missing or wrong bearer token.",
                403: "A browser request from an origin not allowed (server.cors_origins).", 404: "No such resource.",
                409: "Conflicts with work in progress.", 413: "Request too large (bytes, text length, batch size or audio seconds).",
                415: "Unsupported content type.", 422: "Well-formed, but not a valid request.", 503: "Not ready: no model loaded, or the feature is unavailable."}

KINDS: list[tuple[type[AssistantError], int, str]] = [
    (AudioTooLong, 413, "too_large"),
    (AudioError, 422, "bad_audio"),
    (NotReady, 503, "not_ready"),
    (SpeechUnavailable, 503, "speech_unavailable"),
    (Busy, 503, "busy"),
    (ModelLoadError, 422, "model_rejected"),
    (IntentFileError, 422, "invalid"),
    (TrainError, 422, "invalid"),
    (SpeechError, 422, "invalid"),
]
"""Status and code of each kind of error, most specific first; any other `AssistantError` is 422 `invalid`."""


class ApiError(AssistantError):
    """A failure to answer with `status` and a stable `code`; the message is for people."""

    def __init__(self, status: int, message: str, code: str | None = None, details: list[dict] | None = None):
        super().__init__(message)
        self.status, self.code, self.details = status, code or REASONS.get(status, "error"), details


def status_of(error: AssistantError) -> tuple[int, str]:
    """The HTTP status and code an error is answered with."""
    if isinstance(error, ApiError):
        return error.status, error.code
    for kind, status, code in KINDS:
        if isinstance(error, kind):
            return status, code
    status = getattr(error, "status", 422)  # a server-side error that knows its status (a training job's)
    return status, REASONS.get(status, "error")


def error_body(status: int, message: str, code: str | None = None, details: list[dict] | None = None) -> str:
    """The JSON of an error, as every answer that is not a success carries it."""
    code = code or REASONS.get(status, "error")
    return Error(error=ErrorBody(status=status, code=code, message=message, details=details)).model_dump_json(exclude_none=True)


def error_response(status: int, message: str, code: str | None = None, details: list[dict] | None = None) -> Response:
    code = code or REASONS.get(status, "error")
    response = Response(error_body(status, message, code, details), status=status, mimetype="application/json")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="assistant"'
    if code in ("not_ready", "busy"):
        response.headers["Retry-After"] = "5" if code == "not_ready" else "1"
    return response


def install(app: Flask, max_body_mb: float) -> None:
    """Answer every error of `app` as JSON."""

    @app.errorhandler(AssistantError)
    def assistant_error(e: AssistantError):
        status, code = status_of(e)
        message = f"no model in service: {e}" if isinstance(e, NotReady) else str(e)
        return error_response(status, message, code, getattr(e, "details", None))

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        messages = {404: f"no such endpoint: {request.method} {request.path}", 405: f"{request.method} is not allowed on {request.path}",
                    413: f"request body over the {max_body_mb:g} MB allowed (server.max_body_mb)"}
        return error_response(e.code or 500, messages.get(e.code, e.description or e.name))

    @app.errorhandler(Exception)
    def crashed(e: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal error; the server log has the details")
