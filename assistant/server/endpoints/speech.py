"""Speech to intent: an audio upload (`POST /v1/recognize`), or audio as it is spoken over a WebSocket.

The WebSocket `/v1/recognize/stream`, every message JSON text except the audio:

    client -> {"rate": 16000, "channels": 1, "mode": "domain", "token": "..."}   first; every key optional
    client -> binary 16-bit little-endian PCM, any chunk size, at that rate
    server -> {"partial": "turn on the"}                 whenever the partial transcript changes
    client -> {"eof": true}                              the utterance is over
    server -> {"result": {...}}                          a `Recognized`, then the server closes
    server -> {"error": {"status": 422, "code": ..., "message": ...}}   on any failure, then closes

The token rides in the first message rather than the URL because browsers
cannot set headers on a WebSocket and URLs end up in access logs.
"""

from __future__ import annotations

import io
import json
import logging
import time

from flask import request

from assistant.errors import AssistantError
from assistant.server.api import Endpoints, authorized, state
from assistant.server.errors import ApiError, status_of
from assistant.server.schemas import ErrorBody, Recognized
from assistant.speech.audio import STREAM_RATES, Audio, decode, from_pcm

log = logging.getLogger(__name__)

AUDIO_TYPES = {"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "audio/flac", "audio/x-flac", "audio/ogg", "application/ogg",
               "audio/mpeg", "audio/mp3", "audio/aiff", "audio/x-aiff"}
RAW_TYPES = {"audio/l16", "audio/pcm", "application/octet-stream"}
CONFIG_TIMEOUT = 5.0
"""Seconds to the first message (the token): an unauthenticated socket holds a worker thread until then."""

endpoints = Endpoints("speech")


@endpoints.operation("/v1/recognize", "POST", "Speech to intent: an audio upload in, transcript and intent out.",
                     response=Recognized, errors=(400, 413, 415, 422, 503),
                     description="The body is a WAV, FLAC, OGG, MP3 or AIFF file (Content-Type audio/wav, audio/flac, audio/ogg, audio/mpeg, audio/aiff, or a "
                                 "multipart form field `audio`), or headerless 16-bit little-endian PCM (audio/L16 or "
                                 "application/octet-stream) with `rate` and `channels`. For chunked audio with partial transcripts "
                                 "open the WebSocket /v1/recognize/stream.",
                     request_content={t: {"schema": {"type": "string", "format": "binary"}} for t in
                                      ("audio/wav", "audio/flac", "audio/ogg", "audio/mpeg", "audio/aiff", "audio/L16", "application/octet-stream")} |
                                     {"multipart/form-data": {"schema": {"type": "object", "properties": {"audio": {"type": "string", "format": "binary"}}}}},
                     parameters=[{"name": "rate", "in": "query", "schema": {"type": "integer", "minimum": 1}, "description": "Sample rate of raw PCM."},
                                 {"name": "channels", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 32}, "description": "Channels of raw PCM (default 1)."},
                                 {"name": "mode", "in": "query", "schema": {"type": "string", "enum": ["domain", "free"]}, "description": "Domain-biased or free recognition."}])
def recognize():
    audio = read_audio(state().settings.speech.max_seconds)
    pipeline = state().service.current().need_speech()
    mode = request.args.get("mode") or None
    if mode not in (None, "domain", "free"):
        raise ApiError(422, f"mode must be domain or free, not {mode!r}")
    result = pipeline.recognize_audio(audio, mode)
    return Recognized(**result.model_dump(), model=pipeline.parser.version)


def read_audio(max_seconds: float) -> Audio:
    """The request's audio: 415 for a type that is not audio; `AudioError`s (too long, unreadable) are the caller's to map."""
    mimetype = request.mimetype.lower()
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
        if not all(v.isascii() and v.isdigit() for v in (rate, channels)):  # str.isdigit alone takes "²"
            raise ApiError(422, f"rate and channels must be whole numbers, not {rate!r} and {channels!r}")
        return from_pcm(request.get_data(), int(rate), int(channels), max_seconds=max_seconds, what="the uploaded PCM")
    raise ApiError(415, f"send audio as audio/wav, audio/flac, audio/ogg, audio/mpeg, audio/aiff, audio/L16 or a multipart `audio` field, not {mimetype or 'no content type'}")


def add_stream(sock) -> None:
    """Register the WebSocket on `sock` (flask-sock), in this area's blueprint."""
    sock.route("/v1/recognize/stream", bp=endpoints.blueprint)(stream)


def stream(ws) -> None:
    """One utterance over a WebSocket, bounded in every way a client could hold the worker: sockets open at once
    (fewer than the worker's threads), seconds without audio, seconds in all; message size is the app's
    `MAX_SOCKET_MESSAGE`, from the first message on (a client may send audio before the token is read)."""
    def fail(status: int, code: str, message: str) -> None:
        ws.send(json.dumps({"error": ErrorBody(status=status, code=code, message=message).model_dump(exclude_none=True)}))

    app = state()
    if not app.sockets.acquire(blocking=False):
        return fail(503, "busy", "too many audio streams open on this worker; try again shortly")
    try:
        _stream(ws, fail, app)
    finally:
        app.sockets.release()


def _stream(ws, fail, app) -> None:
    first = ws.receive(timeout=CONFIG_TIMEOUT)
    try:
        config = json.loads(first) if isinstance(first, str) else None
    except (ValueError, RecursionError):
        config = None
    if not isinstance(config, dict):
        return fail(400, "bad_request", "the first message must be a JSON object: {\"rate\": 16000, \"token\": ...}")
    if not authorized(str(config.get("token") or "")):
        return fail(401, "unauthorized", "a valid token is required in the first message: {\"token\": \"...\"}")
    rate, channels, mode = config.get("rate", 16000), config.get("channels", 1), config.get("mode")
    if not isinstance(rate, int) or isinstance(rate, bool) or not STREAM_RATES[0] <= rate <= STREAM_RATES[1]:
        return fail(422, "invalid", f"rate must be a whole number of Hz from {STREAM_RATES[0]} to {STREAM_RATES[1]}, not {rate!r}")
    if channels not in (1, 2):
        return fail(422, "invalid", f"channels must be 1 or 2, not {channels!r}")
    if mode not in (None, "domain", "free"):
        return fail(422, "invalid", f"mode must be domain or free, not {mode!r}")
    max_seconds, idle = app.settings.speech.max_seconds, app.settings.speech.stream_idle_seconds
    deadline = time.monotonic() + 2 * max_seconds + idle  # audio sent at half its real rate, with one pause
    utterance = None
    try:
        pipeline = app.service.current().need_speech()
        utterance = pipeline.stream(mode)
        pending = b""
        while True:
            message = ws.receive(timeout=max(0.0, min(idle, deadline - time.monotonic())))
            if message is None:
                if time.monotonic() >= deadline:
                    return fail(408, "timeout", f"the utterance took longer than the {2 * max_seconds + idle:.0f} s allowed")
                return fail(408, "timeout", f"no audio for {idle:g} s (speech.stream_idle_seconds)")
            if isinstance(message, str):
                try:
                    end = json.loads(message).get("eof")
                except (ValueError, AttributeError, RecursionError):
                    end = message.strip().upper() == "EOF"
                if end:
                    break
                continue
            pending += message
            usable = len(pending) - len(pending) % (2 * channels)
            if not usable:
                continue
            if utterance.seconds + usable / (2 * channels * rate) > max_seconds:
                return fail(413, "too_large", f"more than the {max_seconds:g} s of audio allowed (speech.max_seconds)")
            audio = from_pcm(pending[:usable], rate, channels, what="audio")  # a frame split across messages waits for its rest
            pending = pending[usable:]
            partial = utterance.feed(audio)
            if partial:
                ws.send(json.dumps({"partial": partial}))
        result = utterance.finish()
        utterance = None
        ws.send(json.dumps({"result": json.loads(Recognized(**result.model_dump(), model=pipeline.parser.version).model_dump_json())}))
    except AssistantError as e:
        status, code = status_of(e)
        return fail(status, code, str(e))
    finally:
        if utterance is not None:
            utterance.close()
