"""A Python client for the REST API, returning the server's own response models.

    from assistant.client import Client
    client = Client("http://127.0.0.1:8080", token="...")
    client.parse("turn on the kitchen lights").intent.name

Standard library HTTP only, so a script needs nothing beyond this package.
Every failure raises `ClientError` with the server's status, code and message.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from pydantic import BaseModel

from assistant.errors import AssistantError
from assistant.server.schemas import (BatchParsed, BatchRequest, Error, Health, IntentsResponse, ModelsResponse, Parsed, ParseRequest,
                                      RasaParseRequest, RasaParseResponse, Ready, Recognized, TrainJob, TrainRequest)

AUDIO_TYPES = {".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg", ".mp3": "audio/mpeg", ".aiff": "audio/aiff", ".aif": "audio/aiff"}


class ClientError(AssistantError):
    """The server answered with an error, or could not be reached (status 0)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}" if status else message)
        self.status, self.code, self.message = status, code, message


class Client:
    def __init__(self, url: str = "http://127.0.0.1:8080", token: str | None = None, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _call(self, method: str, path: str, body: BaseModel | bytes | None = None, content_type: str = "application/json", query: str = "") -> bytes:
        data = body.model_dump_json(exclude_none=True).encode() if isinstance(body, BaseModel) else body
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url + path + query, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                error = Error.model_validate_json(raw).error
            except ValueError:
                raise ClientError(e.code, "http_error", raw[:200].decode(errors="replace") or e.reason) from None
            raise ClientError(error.status, error.code, error.message) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ClientError(0, "unreachable", f"cannot reach {self.url}: {reason}") from None

    def parse(self, text: str, threshold: float | None = None, repair: bool | None = None) -> Parsed:
        return Parsed.model_validate_json(self._call("POST", "/v1/parse", ParseRequest(text=text, threshold=threshold, repair=repair)))

    def parse_batch(self, texts: list[str], threshold: float | None = None, repair: bool | None = None) -> BatchParsed:
        return BatchParsed.model_validate_json(self._call("POST", "/v1/parse/batch",
                                                          BatchRequest(texts=texts, threshold=threshold, repair=repair)))

    def rasa_parse(self, text: str) -> RasaParseResponse:
        return RasaParseResponse.model_validate_json(self._call("POST", "/model/parse", RasaParseRequest(text=text)))

    def recognize(self, audio: str | Path | bytes, content_type: str | None = None, rate: int | None = None,
                  channels: int = 1, mode: str | None = None) -> Recognized:
        """Speech to intent: a WAV/FLAC/OGG/MP3/AIFF file or its bytes, or raw 16-bit PCM bytes with `rate`."""
        if isinstance(audio, (str, Path)):
            path = Path(audio)
            content_type = content_type or AUDIO_TYPES.get(path.suffix.lower(), "application/octet-stream")
            audio = path.read_bytes()
        params = {k: v for k, v in (("rate", rate), ("channels", channels if rate else None), ("mode", mode)) if v is not None}
        query = "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
        content_type = content_type or ("application/octet-stream" if rate else "audio/wav")
        return Recognized.model_validate_json(self._call("POST", "/v1/recognize", audio, content_type, query))

    def intents(self) -> IntentsResponse:
        return IntentsResponse.model_validate_json(self._call("GET", "/v1/intents"))

    def models(self) -> ModelsResponse:
        return ModelsResponse.model_validate_json(self._call("GET", "/v1/models"))

    def activate(self, version: str) -> ModelsResponse:
        return ModelsResponse.model_validate_json(self._call("POST", f"/v1/models/{urllib.request.quote(version, safe='')}/activate"))

    def train(self, files: dict[str, str] | list[str | Path], **options) -> TrainJob:
        """Start a training on intent files (name -> YAML text, or paths); `options`: activate, epochs, max_minutes, seed,
        max_per_intent, and base="served" to add the files beside those the served version was trained from."""
        if not isinstance(files, dict):
            files = {Path(p).name: Path(p).read_text(encoding="utf-8") for p in files}
        return TrainJob.model_validate_json(self._call("POST", "/v1/train", TrainRequest(files=files, **options)))

    def train_status(self, job: str) -> TrainJob:
        return TrainJob.model_validate_json(self._call("GET", f"/v1/train/{job}"))

    def health(self) -> Health:
        return Health.model_validate_json(self._call("GET", "/health"))

    def ready(self) -> Ready:
        try:
            return Ready.model_validate_json(self._call("GET", "/ready"))
        except ClientError as e:
            if e.status == 503:
                return Ready(ready=False, reason=e.message)
            raise

