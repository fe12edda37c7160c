"""`assistant client`: talk to a running daemon over Wyoming (describe, a text, or a WAV file)."""

from __future__ import annotations

import asyncio
import logging

from wyoming.asr import Transcribe, Transcript, TranscriptChunk
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.intent import Intent, NotRecognized, Recognize

from assistant.errors import AssistantError
from assistant.speech.audio import Audio

log = logging.getLogger(__name__)

CHUNK_SECONDS = 0.1


class DaemonError(AssistantError):
    """The daemon could not be reached or answered with an error; the message says which."""


async def _connect(uri: str) -> AsyncClient:
    try:
        client = AsyncClient.from_uri(uri)
        await client.connect()
    except ValueError as e:
        raise DaemonError(f"{uri}: {e}") from None
    except OSError as e:
        raise DaemonError(f"no daemon at {uri} ({e.strerror or e}); start one with: assistant daemon") from None
    return client


async def _answer(client: AsyncClient, done, timeout: float, on_event=None) -> list[Event]:
    """Events until `done(event)` is true; an `error` event raises."""
    events = []
    while True:
        event = await asyncio.wait_for(client.read_event(), timeout)
        if event is None:
            raise DaemonError("the daemon closed the connection")
        if on_event is not None:
            on_event(event)
        events.append(event)
        if Error.is_type(event.type):
            raise DaemonError(f"daemon: {Error.from_event(event).text}")
        if done(event):
            return events


async def describe(uri: str, timeout: float = 30) -> dict:
    client = await _connect(uri)
    try:
        await client.write_event(Describe().event())
        events = await _answer(client, lambda e: Info.is_type(e.type), timeout)
        return events[-1].data
    finally:
        await client.disconnect()


async def recognize_text(uri: str, text: str, timeout: float = 30) -> dict:
    """The daemon's `intent` or `not-recognized` event for a text, as a dict with its type."""
    client = await _connect(uri)
    try:
        await client.write_event(Recognize(text=text).event())
        events = await _answer(client, lambda e: Intent.is_type(e.type) or NotRecognized.is_type(e.type), timeout)
        return {"type": events[-1].type, **events[-1].data}
    finally:
        await client.disconnect()


async def recognize_audio(uri: str, audio: Audio, intent: bool = True, timeout: float = 60, on_partial=None) -> dict:
    """Stream a clip as a microphone would; the transcript and, with `intent`, the intent event."""
    client = await _connect(uri)
    try:
        await client.write_event(Transcribe(context={"recognize": True} if intent else None).event())
        await client.write_event(AudioStart(rate=audio.rate, width=2, channels=1).event())
        pcm = audio.pcm
        step = 2 * max(1, int(audio.rate * CHUNK_SECONDS))
        for start in range(0, len(pcm), step):
            await client.write_event(AudioChunk(rate=audio.rate, width=2, channels=1, audio=pcm[start : start + step]).event())
        await client.write_event(AudioStop().event())

        def seen(event: Event) -> None:
            if on_partial is not None and TranscriptChunk.is_type(event.type):
                on_partial(TranscriptChunk.from_event(event).text)

        if intent:
            events = await _answer(client, lambda e: Intent.is_type(e.type) or NotRecognized.is_type(e.type), timeout, seen)
        else:
            events = await _answer(client, lambda e: Transcript.is_type(e.type), timeout, seen)
        out = {"transcript": next(e.data for e in events if Transcript.is_type(e.type)),
               "partials": [e.data["text"] for e in events if TranscriptChunk.is_type(e.type)]}
        if intent:
            out["intent"] = {"type": events[-1].type, **events[-1].data}
        return out
    finally:
        await client.disconnect()


def run(coroutine):
    """Run a client coroutine; timeouts become a `DaemonError`."""
    try:
        return asyncio.run(coroutine)
    except asyncio.TimeoutError:
        raise DaemonError("the daemon did not answer in time") from None
