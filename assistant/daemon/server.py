"""`assistant daemon`: the models loaded once, served over the Wyoming protocol.

Home Assistant and any Wyoming client can use it (tcp://HOST:PORT or unix://PATH):

    describe                                   -> info (an asr and an intent program)
    transcribe, audio-start, audio-chunk*, audio-stop
                                               -> transcript-start, transcript-chunk*, transcript, transcript-stop
    recognize {text}                           -> intent | not-recognized
    transcript {text, context}                 -> intent | not-recognized (a conversation turn, as Home Assistant sends it)
    transcribe {context: {recognize: true}} + audio
                                               -> the transcript, then intent | not-recognized (speech to intent in one go)

A bad message gets an `error` event (`text`, `code`) and the connection goes
on; only a message whose framing is broken (an unreadable length) ends its
connection, never the daemon. What a client can hold is bounded (docs/security.md):
connections (`speech.max_connections`), utterances decoded at once
(`speech.max_streams`, then `busy`), an utterance left without audio
(`speech.stream_idle_seconds`, then `timeout`), audio length (checked before
any work on a chunk) and sample rates (8 to 48 kHz); an error of ours is logged and reported as
`internal`, never as the client's fault. Decoding runs in worker threads, so
one client's audio never stalls another's. The models are those of a
`speech.service.Service`: it follows the store's `current` pointer, so a newly
trained version is served (and described) without a restart. SIGTERM stops it
cleanly; SIGHUP reloads the config and the models while connections stay open
(an utterance in progress finishes on the models it started with). With
`listen`, it also runs the microphone loop and pushes each recognised intent to
every connected client.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import threading
from collections.abc import Callable
from functools import partial

from wyoming.asr import Transcribe, Transcript, TranscriptChunk, TranscriptStart, TranscriptStop
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, async_write_event
from wyoming.info import AsrModel, AsrProgram, Attribution, Describe, Info, IntentModel, IntentProgram
from wyoming.intent import Entity, Intent, NotRecognized, Recognize
from wyoming.server import AsyncEventHandler, AsyncServer

from assistant.errors import AssistantError
from assistant.speech.audio import STREAM_RATES, AudioError, from_pcm
from assistant.speech.pipeline import PipelineStream
from assistant.speech.result import RecognizeResult
from assistant.speech.service import Service

log = logging.getLogger(__name__)

MAX_HEADER = 64 * 1024
MAX_DATA = 1024 * 1024
MAX_PAYLOAD = 4 * 1024 * 1024
VERSION = "0.1.0"
ATTRIBUTION = Attribution(name="assistant", url="https://github.com/")


class ProtocolError(AssistantError):
    """A message the daemon cannot act on (a missing or mistyped field, events out of order): the client's fault."""

    code = "bad-request"


class BadEvent(ProtocolError):
    """One unreadable event; the next one may be fine."""

    code = "bad-event"


class FramingError(ProtocolError):
    """The stream of events can no longer be read (bad length or oversized message): the connection must end."""

    code = "bad-framing"


def decode(kind, event: Event):
    """`event` as wyoming's message type `kind`; a missing or mistyped field is a `ProtocolError`."""
    try:
        return kind.from_event(event)
    except KeyError as e:
        raise ProtocolError(f"missing field {e}") from None
    except (TypeError, ValueError) as e:
        raise ProtocolError(str(e)) from None


async def read_event(reader: asyncio.StreamReader) -> Event | None:
    """wyoming's reader, with limits and with errors told apart: None at end of stream."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial.strip():
            return None
        line = e.partial
    except asyncio.LimitOverrunError:
        raise FramingError(f"event header longer than {MAX_HEADER} bytes") from None
    try:
        header = json.loads(line)
    except (ValueError, RecursionError):
        raise BadEvent("event header is not JSON (or nested too deep)") from None
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise BadEvent("event header must be a JSON object with a string 'type'")
    data = header.get("data") or {}
    if not isinstance(data, dict):
        raise BadEvent("event 'data' must be a JSON object")
    lengths = {}
    for key, cap in (("data_length", MAX_DATA), ("payload_length", MAX_PAYLOAD)):
        value = header.get(key) or 0
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= cap:
            raise FramingError(f"{key} must be a whole number from 0 to {cap}, not {value!r}")
        lengths[key] = value
    try:
        if lengths["data_length"]:
            extra = await reader.readexactly(lengths["data_length"])
            try:
                more = json.loads(extra)
            except (ValueError, RecursionError):
                raise BadEvent("event data is not JSON (or nested too deep)") from None
            if not isinstance(more, dict):
                raise BadEvent("event data must be a JSON object")
            data.update(more)
        payload = await reader.readexactly(lengths["payload_length"]) if lengths["payload_length"] else None
    except asyncio.IncompleteReadError:
        return None
    return Event(type=header["type"], data=data, payload=payload)


class Daemon:
    """What every connection shares: the model service and the open connections (for `broadcast`)."""

    def __init__(self, service: Service):
        self.service = service
        self.handlers: set[Handler] = set()

    def info(self) -> Info:
        """The programs and models in service now: the version `describe` names is the one that answers."""
        loaded = self.service.current()
        asr = []
        r = loaded.pipeline.recognizer
        if r is not None:
            asr.append(AsrProgram(
                name="assistant-speech", attribution=ATTRIBUTION, installed=True, version=VERSION,
                description=f"{r.engine} speech recognition, biased to the assistant's domain",
                models=[AsrModel(name=f"{r.engine}:{r.model}", attribution=ATTRIBUTION, installed=True, version=None,
                                 description=f"{r.engine} model {r.model} (modes: {', '.join(r.modes())})", languages=[r.language])],
                supports_transcript_streaming=True, requires_external_vad=True))
        intent = [IntentProgram(
            name="assistant-nlu", attribution=ATTRIBUTION, installed=True, version=VERSION,
            description="joint intent and slot model (int8 ONNX)",
            models=[IntentModel(name=loaded.version, attribution=ATTRIBUTION, installed=True, version=None,
                                description=f"{len(loaded.parser.labels.intents)} intents", languages=["en"])])]
        return Info(asr=asr, intent=intent)

    async def broadcast(self, event: Event) -> None:
        """Push an event (an intent the microphone heard) to the connections that only listen: one that has asked
        something (a transcription, a conversation turn) would take a pushed intent for its answer."""
        for handler in list(self.handlers):
            if handler.listening:
                await handler.send(event)


DONE = "Done."
NOT_UNDERSTOOD = "Sorry, I didn't understand that."
NOT_HEARD = "Sorry, I didn't catch that."


def intent_event(result: RecognizeResult) -> Event:
    """`intent` for an understood utterance, `not-recognized` otherwise; the full result rides in `context`.

    `text` is our reply, which a client such as Home Assistant speaks when its own handler says nothing: never
    the user's words (Home Assistant would read them back, and may render them as a template).
    """
    context = {"result": json.loads(result.model_dump_json()), "utterance": result.text}
    if result.intent is None or not result.in_scope:
        reply = NOT_HEARD if result.rejected_by == "low_asr_confidence" else NOT_UNDERSTOOD
        return NotRecognized(text=reply, context=context).event()
    entities = [Entity(name=e.slot, value=e.value) for e in result.entities]
    return Intent(name=result.intent.name, entities=entities, text=DONE, context=context).event()


class Handler(AsyncEventHandler):
    """One client connection: at most one utterance at a time."""

    def __init__(self, daemon: Daemon, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        super().__init__(reader, writer)
        self.daemon = daemon
        self._write_lock = asyncio.Lock()
        self._transcribe: Transcribe | None = None
        self._stream: PipelineStream | None = None
        self._format: tuple[int, int, int] | None = None
        self._sent: list[str] = []
        self._last_partial = ""
        self.listening = True
        """No request but `describe` so far: pushed intents may go here."""

    async def send(self, event: Event) -> None:
        async with self._write_lock:
            try:
                await async_write_event(event, self.writer)
            except (ConnectionError, RuntimeError) as e:
                log.debug("client went away: %s", e)

    async def error(self, text: str, code: str) -> None:
        log.debug("client error (%s): %s", code, text)  # the client is told; a hostile one must not flood the log
        await self.send(Error(text=text, code=code).event())

    async def run(self) -> None:
        limits = self.daemon.service.settings.speech
        if len(self.daemon.handlers) >= limits.max_connections:
            await self.error(f"{limits.max_connections} connections are open (speech.max_connections); closing", "busy")
            self.writer.close()
            return
        self.daemon.handlers.add(self)
        try:
            while True:
                try:
                    # an open utterance holds a decoder: a client that stops sending audio must not keep it
                    idle = limits.stream_idle_seconds if self._stream is not None else None
                    event = await asyncio.wait_for(read_event(self.reader), idle)
                except asyncio.TimeoutError:
                    self._drop_stream()
                    await self.error(f"no audio for {limits.stream_idle_seconds:g} s (speech.stream_idle_seconds): "
                                     "the utterance is dropped; closing the connection", "timeout")
                    break
                except BadEvent as e:
                    await self.error(str(e), "bad-event")
                    continue
                except FramingError as e:
                    await self.error(f"{e}; closing the connection", "bad-framing")
                    break
                if event is None:
                    break
                if not await self.handle_event(event):
                    break
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.daemon.handlers.discard(self)
            self._drop_stream()
            self.writer.close()

    async def handle_event(self, event: Event) -> bool:
        if not Describe.is_type(event.type):
            self.listening = False
        try:
            await self._dispatch(event)
        except AssistantError as e:
            self._drop_stream()
            await self.error(f"{event.type}: {e}", getattr(e, "code", "bad-request"))
        except Exception:  # a bug of ours: logged; the daemon and this connection live on
            log.exception("failed on %s", event.type)
            self._drop_stream()
            await self.error(f"{event.type}: internal error; the daemon log has the details", "internal")
        return True

    async def _dispatch(self, event: Event) -> None:
        loop = asyncio.get_running_loop()
        if Describe.is_type(event.type):
            await self.send(self.daemon.info().event())
        elif Transcribe.is_type(event.type):
            self._transcribe = None
            request = decode(Transcribe, event)
            if request.context is not None and not isinstance(request.context, dict):
                raise ProtocolError("'context' must be an object")
            self._transcribe = request
        elif AudioStart.is_type(event.type):
            start = decode(AudioStart, event)
            self._drop_stream()
            self._format = _check_format(start.rate, start.width, start.channels)
            pipeline = self.daemon.service.current().need_speech()
            self._stream = await loop.run_in_executor(None, pipeline.stream)
            self._sent, self._last_partial = [], ""
            await self.send(TranscriptStart(language=pipeline.recognizer.language).event())
        elif AudioChunk.is_type(event.type):
            if self._stream is None:
                raise ProtocolError("audio-chunk before audio-start")
            chunk = decode(AudioChunk, event)
            if _check_format(chunk.rate, chunk.width, chunk.channels) != self._format:
                raise ProtocolError(f"audio-chunk format {chunk.rate} Hz/{chunk.width} B/{chunk.channels} ch differs from audio-start's")
            if not chunk.audio:
                return
            audio = from_pcm(chunk.audio, chunk.rate, chunk.channels, chunk.width, what="audio")
            heard = await loop.run_in_executor(None, self._stream.feed, audio)
            if heard is not None:
                piece = self._stable_piece(heard)
                if piece:
                    await self.send(TranscriptChunk(text=piece).event())
        elif AudioStop.is_type(event.type):
            if self._stream is None:
                raise ProtocolError("audio-stop before audio-start")
            stream, self._stream = self._stream, None
            request, self._transcribe = self._transcribe, None
            language = stream.pipeline.recognizer.language
            if stream.seconds == 0:  # nothing to hear: an empty transcript, so the client does not wait for one
                stream.close()
                await self.send(Transcript(text="", language=language, context={"confidence": 0.0}).event())
                await self.send(TranscriptStop().event())
                return
            result = await loop.run_in_executor(None, stream.finish)
            asr = result.asr
            context = {"confidence": asr.confidence, "engine": asr.engine, "model": asr.model, "mode": asr.mode,
                       "words": [w.model_dump() for w in asr.words], "timings": result.timings.model_dump(), "heard": asr.text}
            # A command acted on as a sentence of the templates is that sentence ("turned it off its light on" was
            # "turn the office light on"): Home Assistant's own agent, reading the transcript, then understands it too.
            meant = result.repair.sentence if result.intent is not None and result.repair is not None and result.repair.sentence else ""
            await self.send(Transcript(text=meant or asr.text, language=language, context=context).event())
            await self.send(TranscriptStop().event())
            if request is not None and (request.context or {}).get("recognize"):
                await self.send(intent_event(result))
        elif Recognize.is_type(event.type) or Transcript.is_type(event.type):
            # `transcript` from a client is a conversation turn (Home Assistant's conversation agent sends it,
            # with its `conversation_id` in `context`): answered like `recognize`, near misses repaired. Text sent
            # with `recognize` is typed: repaired as `nlu.repair` says.
            text = event.data.get("text")
            if not isinstance(text, str):
                raise ProtocolError("'text' must be a string")
            pipeline = self.daemon.service.current().pipeline
            result = await loop.run_in_executor(None, partial(pipeline.recognize_text, text, repair=True if Transcript.is_type(event.type) else None))
            await self.send(intent_event(result))
        else:
            await self.error(f"unsupported event type {event.type!r}", "unsupported")

    def _stable_piece(self, partial: str) -> str:
        """New words that two partials in a row agree on: transcript-chunks only ever append, never take back."""
        before, now = self._last_partial.split(), partial.split()
        self._last_partial = partial
        stable = []
        for a, b in zip(before, now):
            if a != b:
                break
            stable.append(a)
        if len(stable) <= len(self._sent) or stable[: len(self._sent)] != self._sent:
            return ""
        piece = stable[len(self._sent):]
        lead = " " if self._sent else ""
        self._sent = stable
        return lead + " ".join(piece)

    def _drop_stream(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


def _check_format(rate, width, channels) -> tuple[int, int, int]:
    for name, value in (("rate", rate), ("width", width), ("channels", channels)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise AudioError(f"audio {name} must be a whole number, not {value!r}")
    if not STREAM_RATES[0] <= rate <= STREAM_RATES[1]:
        raise AudioError(f"audio rate must be {STREAM_RATES[0]} to {STREAM_RATES[1]} Hz, not {rate}")
    if width != 2:
        raise AudioError(f"only 16-bit audio (width 2) is supported, not width {width}")
    if not 1 <= channels <= 32:
        raise AudioError(f"channels must be 1 to 32, not {channels}")
    return rate, width, channels


async def serve(uri: str, daemon: Daemon, reload: Callable[[], None], listen: Callable[[Daemon, asyncio.AbstractEventLoop], None] | None = None,
                ready: Callable[[], None] | None = None) -> None:
    """Serve until SIGTERM or SIGINT; SIGHUP runs `reload` in a worker thread (connections stay open)."""
    server = AsyncServer.from_uri(uri)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: loop.run_in_executor(None, reload))
    await server.start(partial(Handler, daemon))
    log.info("serving on %s", uri)
    if listen is not None:
        threading.Thread(target=listen, args=(daemon, loop), name="microphone", daemon=True).start()
    if ready is not None:
        ready()
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        await server.stop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
