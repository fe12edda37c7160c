"""`/v1/recognize/stream`: a WebSocket for audio as it is spoken, with partial transcripts.

The protocol, every message JSON text except the audio:

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

import json
import logging

from assistant.server.schemas import ErrorBody, Recognized

log = logging.getLogger(__name__)

CONFIG_TIMEOUT = 10.0
IDLE_TIMEOUT = 30.0


def add_stream_route(app, api, service, settings) -> None:
    from flask_sock import Sock

    sock = Sock(app)

    @sock.route("/v1/recognize/stream")
    def stream(ws):
        def fail(status: int, code: str, message: str) -> None:
            ws.send(json.dumps({"error": ErrorBody(status=status, code=code, message=message).model_dump(exclude_none=True)}))

        first = ws.receive(timeout=CONFIG_TIMEOUT)
        try:
            config = json.loads(first) if isinstance(first, str) else None
        except ValueError:
            config = None
        if not isinstance(config, dict):
            return fail(400, "bad_request", "the first message must be a JSON object: {\"rate\": 16000, \"token\": ...}")
        if not api.authorized(str(config.get("token") or "")):
            return fail(401, "unauthorized", "a valid token is required in the first message: {\"token\": \"...\"}")
        rate, channels, mode = config.get("rate", 16000), config.get("channels", 1), config.get("mode")
        if not isinstance(rate, int) or isinstance(rate, bool) or not 8000 <= rate <= 48000:
            return fail(422, "invalid", f"rate must be a whole number of Hz from 8000 to 48000, not {rate!r}")
        if channels not in (1, 2):
            return fail(422, "invalid", f"channels must be 1 or 2, not {channels!r}")
        if mode not in (None, "domain", "free"):
            return fail(422, "invalid", f"mode must be domain or free, not {mode!r}")
        try:
            pipeline = service.current().need_pipeline()
        except Exception as e:  # NotReady, SpeechUnavailable
            return fail(503, "not_ready", str(e))
        from assistant.speech.audio import from_pcm
        from assistant.speech.engines import SpeechError

        try:
            utterance = pipeline.stream(mode)
        except (SpeechError, ValueError) as e:
            return fail(422, "invalid", str(e))
        try:
            pending = b""
            while True:
                message = ws.receive(timeout=IDLE_TIMEOUT)
                if message is None:
                    return fail(408, "timeout", f"no audio for {IDLE_TIMEOUT:g} s")
                if isinstance(message, str):
                    try:
                        end = json.loads(message).get("eof")
                    except (ValueError, AttributeError):
                        end = message.strip().upper() == "EOF"
                    if end:
                        break
                    continue
                pending += message
                usable = len(pending) - len(pending) % (2 * channels)
                if not usable:
                    continue
                audio = from_pcm(pending[:usable], rate, channels, what="audio")  # a frame split across messages waits for its rest
                pending = pending[usable:]
                partial = utterance.feed(audio)
                if partial:
                    ws.send(json.dumps({"partial": partial}))
                if utterance.seconds > settings.speech.max_seconds:
                    return fail(413, "too_large", f"more than the {settings.speech.max_seconds:g} s of audio allowed (speech.max_seconds)")
            result = utterance.finish()
            utterance = None
            ws.send(json.dumps({"result": json.loads(Recognized(**result.model_dump(), model=pipeline.parser.version).model_dump_json())}))
        finally:
            if utterance is not None:
                utterance.close()
