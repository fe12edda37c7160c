"""The Wyoming daemon, run as `assistant daemon`, with real Wyoming clients over loopback and a Unix socket."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from speech_fixtures import ROOT, free_port, needs_espeak, speak

pytest.importorskip("wyoming")
pytest.importorskip("pocketsphinx")

from wyoming.asr import Transcribe, Transcript, TranscriptChunk  # noqa: E402
from wyoming.audio import AudioChunk, AudioStart, AudioStop  # noqa: E402
from wyoming.client import AsyncClient  # noqa: E402
from wyoming.info import Describe, Info  # noqa: E402
from wyoming.intent import Intent, NotRecognized, Recognize  # noqa: E402

from assistant.nlu import store  # noqa: E402
from assistant.speech.audio import load_audio, resample  # noqa: E402

pytestmark = needs_espeak


def start_daemon(model, uri: str, env: dict | None = None) -> subprocess.Popen:
    """`assistant daemon` serving `model` (a folder, pinned), or with None the current version of the store the env names."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), ASSISTANT_SPEECH_ENGINE="pocketsphinx", **(env or {}))
    pinned = ["--model", str(model)] if model is not None else []
    process = subprocess.Popen([sys.executable, "-m", "assistant", "daemon", "--uri", uri, *pinned],
                               cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    for line in process.stderr:
        if "serving on" in line:
            # keep reading its log (into `process.log`), or a full pipe would block the daemon on its next line
            process.log = []
            threading.Thread(target=lambda: process.log.extend(process.stderr), daemon=True).start()
            return process
        if time.monotonic() > deadline:
            break
    process.kill()
    raise AssertionError(f"daemon did not start: {process.stderr.read()}")


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()


@pytest.fixture(scope="module")
def daemon(tiny_model):
    uri = f"tcp://127.0.0.1:{free_port()}"
    process = start_daemon(tiny_model, uri)
    yield uri, process
    if process.poll() is None:
        assert stop(process) == 0


@pytest.fixture(scope="module")
def command_wav(tmp_path_factory):
    return speak("turn off the kitchen lights", tmp_path_factory.mktemp("daemon") / "off.wav")


async def exchange(uri: str, events, until) -> list:
    async with AsyncClient.from_uri(uri) as client:
        for event in events:
            await client.write_event(event)
        received = []
        while True:
            event = await asyncio.wait_for(client.read_event(), 60)
            assert event is not None, f"connection closed after {[e.type for e in received]}"
            received.append(event)
            if until(event):
                return received


def audio_events(path, intent=True):
    audio = resample(load_audio(path), 16000)
    pcm = audio.pcm
    events = [Transcribe(context={"recognize": True} if intent else None).event(), AudioStart(rate=16000, width=2, channels=1).event()]
    events += [AudioChunk(rate=16000, width=2, channels=1, audio=pcm[i : i + 3200]).event() for i in range(0, len(pcm), 3200)]
    return events + [AudioStop().event()]


def test_describe_returns_info_with_asr_and_intent_programs(daemon):
    uri, _ = daemon
    info = Info.from_event(asyncio.run(exchange(uri, [Describe().event()], lambda e: Info.is_type(e.type)))[-1])
    assert info.asr[0].supports_transcript_streaming and info.asr[0].models[0].languages == ["en"]
    assert info.asr[0].models[0].name == "pocketsphinx:en-us"
    assert info.intent[0].models[0].name == "tiny"


def test_recognize_text(daemon):
    uri, _ = daemon
    events = asyncio.run(exchange(uri, [Recognize(text="switch on the bedroom lights").event()], lambda e: e.type in ("intent", "not-recognized")))
    intent = Intent.from_event(events[-1])
    assert intent.name == "LightsOn" and intent.entities[0].name == "room" and intent.entities[0].value == "bedroom"
    assert intent.context["result"]["intent"]["name"] == "LightsOn"


def test_transcribe_streams_partials_then_transcript_then_intent(daemon, command_wav):
    uri, _ = daemon
    events = asyncio.run(exchange(uri, audio_events(command_wav), lambda e: e.type in ("intent", "not-recognized")))
    types = [e.type for e in events]
    assert types[0] == "transcript-start" and "transcript-stop" in types and types[-1] == "intent"
    transcript = Transcript.from_event(next(e for e in events if Transcript.is_type(e.type)))
    assert transcript.text == "turn off the kitchen lights" and transcript.language == "en"
    assert transcript.context["mode"] == "domain" and transcript.context["words"][0]["word"] == "turn"
    assert transcript.context["heard"] == "turn off the kitchen lights"  # what the recogniser wrote, beside the sentence meant
    chunks = "".join(TranscriptChunk.from_event(e).text for e in events if TranscriptChunk.is_type(e.type))
    assert chunks and transcript.text.startswith(chunks.strip())
    intent = Intent.from_event(events[-1])
    assert intent.name == "LightsOff" and intent.entities[0].value == "kitchen"


def test_transcribe_alone_gives_the_transcript_only(daemon, command_wav):
    uri, _ = daemon
    events = asyncio.run(exchange(uri, audio_events(command_wav, intent=False), lambda e: Transcript.is_type(e.type)))
    assert Transcript.from_event(events[-1]).text == "turn off the kitchen lights"
    assert not any(e.type == "intent" for e in events)


BAD = [
    (b"not json\n", "bad-event"),
    (b'["a list"]\n', "bad-event"),
    (b'{"type": 5}\n', "bad-event"),
    (b'{"type": "recognize", "data": {"text": 5}}\n', "bad-request"),
    (b'{"type": "recognize"}\n', "bad-request"),
    (b'{"type": "transcribe", "data": {"context": 7}}\n', "bad-request"),
    (b'{"type": "audio-chunk", "data": {"rate": 16000, "width": 2, "channels": 1}, "payload_length": 4}\n\x00\x00\x00\x00', "bad-request"),
    (b'{"type": "audio-stop"}\n', "bad-request"),
    (b'{"type": "audio-start", "data": {"rate": 0, "width": 2, "channels": 1}}\n', "bad-request"),
    (b'{"type": "audio-start", "data": {"rate": 16000, "width": 4, "channels": 1}}\n', "bad-request"),
    (b'{"type": "audio-start", "data": {"rate": "fast", "width": 2, "channels": 1}}\n', "bad-request"),
    (b'{"type": "audio-start", "data": {"width": 2, "channels": 1}}\n', "bad-request"),
    (b'{"type": "audio-start", "data": {"rate": 16000, "width": 2, "channels": 1}}\n', "transcript-start"),
    (b'{"type": "audio-chunk", "data": {"rate": 16000, "width": 2, "channels": 1}, "payload_length": 3}\n\x00\x00\x00', "bad-request"),
    (b'{"type": "audio-start", "data": {"rate": 16000, "width": 2, "channels": 1}}\n', "transcript-start"),
    (b'{"type": "audio-chunk", "data": {"rate": 8000, "width": 2, "channels": 1}, "payload_length": 2}\n\x00\x00', "bad-request"),
    (b'{"type": "audio-start", "data": {"rate": 16000, "width": 2, "channels": 1}}\n', "transcript-start"),
    (b'{"type": "audio-stop"}\n', ("transcript", "transcript-stop")),  # nothing heard: an empty transcript, never silence
    (b'{"type": "frobnicate"}\n', "unsupported"),
    (b'{"type": "describe", "data_length": 9}\n{"x": [1]', "bad-event"),
    (b'{"type": "describe"}\n', "info"),
]


def read(stream):
    header = json.loads(stream.readline())
    data = header.get("data") or {}
    if header.get("data_length"):
        data.update(json.loads(stream.read(header["data_length"])))
    if header.get("payload_length"):
        stream.read(header["payload_length"])
    return header["type"], data


def test_bad_messages_get_errors_and_the_connection_and_daemon_live_on(daemon, command_wav):
    uri, process = daemon
    host, port = uri.removeprefix("tcp://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        stream = sock.makefile("rwb")
        for message, expected in BAD:
            stream.write(message)
            stream.flush()
            for want in expected if isinstance(expected, tuple) else (expected,):
                kind, data = read(stream)
                assert (data.get("code") if kind == "error" else kind) == want, (message, kind, data)
        stream.write(b'{"type": "x", "payload_length": -1}\n')
        stream.flush()
        kind, data = read(stream)
        assert kind == "error" and data["code"] == "bad-framing"
        assert stream.readline() == b""  # that connection ends; framing is lost
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(b'{"type": "describe", "payload_length": 99999999999}\n')
        assert read(sock.makefile("rb"))[1]["code"] == "bad-framing"
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(b'{"type": "audio-start", "data": {"rate": 16000, "width": 2, "channels": 1}}\n')
    assert process.poll() is None
    test_transcribe_streams_partials_then_transcript_then_intent(daemon, command_wav)


def test_home_assistant_conversation_turns_are_answered_with_a_reply_not_the_users_words(daemon):
    """As Home Assistant's conversation agent does it: `transcript` with a conversation id, then read the answer."""
    uri, _ = daemon

    def turn(text: str):
        event = Transcript(text=text, context={"conversation_id": "01HXYZ", "device_id": "kitchen-satellite"}).event()
        return asyncio.run(exchange(uri, [event], lambda e: e.type in ("intent", "not-recognized", "handled", "not-handled")))[-1]

    understood = turn("turn on the kitchen lights")
    intent = Intent.from_event(understood)
    assert intent.name == "LightsOn" and intent.entities[0].name == "room" and intent.entities[0].value == "kitchen"
    assert intent.text and intent.text != "turn on the kitchen lights" and intent.context["utterance"] == "turn on the kitchen lights"
    missed = turn("what is the capital of france")
    assert missed.type == "not-recognized" and missed.data["text"] != "what is the capital of france"
    repaired = Intent.from_event(turn("turn of the bedroom lights"))  # a near miss, as another recogniser may write it
    assert repaired.name == "LightsOff" and repaired.entities[0].value == "bedroom"


def test_transcript_comes_before_transcript_stop(daemon, command_wav):
    uri, _ = daemon
    types = [e.type for e in asyncio.run(exchange(uri, audio_events(command_wav, intent=False), lambda e: e.type == "transcript-stop"))]
    assert types.index("transcript") < types.index("transcript-stop")


def test_client_command(daemon, command_wav):
    uri, _ = daemon
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "assistant", "client", "--uri", uri, str(command_wav)],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["transcript"]["text"] == "turn off the kitchen lights" and result["intent"]["name"] == "LightsOff"
    out = subprocess.run([sys.executable, "-m", "assistant", "client", "--uri", uri, "--text", "timer for five minutes please"],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert json.loads(out.stdout)["name"] == "SetTimer"
    out = subprocess.run([sys.executable, "-m", "assistant", "client", "--uri", f"tcp://127.0.0.1:{free_port()}", "--text", "hi"],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert out.returncode == 2 and out.stderr.startswith("assistant: no daemon at")


def test_reload_on_sighup_keeps_connections_and_sigterm_stops_cleanly(tiny_model, tmp_path, command_wav):
    uri = f"unix://{tmp_path / 'assistant.sock'}"
    process = start_daemon(tiny_model, uri)
    try:
        async def session():
            async with AsyncClient.from_uri(uri) as client:
                await client.write_event(Recognize(text="turn on the office lights").event())
                assert (await client.read_event()).type == "intent"
                process.send_signal(signal.SIGHUP)
                await asyncio.sleep(1)
                for _ in range(3):  # during and after the reload, on the same connection
                    await client.write_event(Recognize(text="turn off the office lights").event())
                    event = await asyncio.wait_for(client.read_event(), 120)
                    assert event.type == "intent" and Intent.from_event(event).name == "LightsOff"
                    await asyncio.sleep(2)
                events = audio_events(command_wav)
                for event in events:
                    await client.write_event(event)
                while (event := await asyncio.wait_for(client.read_event(), 120)).type not in ("intent", "not-recognized"):
                    pass
                assert Intent.from_event(event).name == "LightsOff"

        asyncio.run(session())
        assert process.poll() is None
    finally:
        assert stop(process) == 0
    assert not (tmp_path / "assistant.sock").exists()
    assert "models reloaded" in "".join(process.log)


DOORS = """
intents:
  OpenDoor:
    slots: {door: door}
    sentences: ["open the {door} door", "(unlock|open) [the] {door} door please"]
  CloseDoor:
    slots: {door: door}
    sentences: ["close the {door} door", "(shut|lock) [the] {door} door please"]
slots:
  door:
    values: {front: [], back: [], garage: [], patio: []}
"""


def test_a_newly_trained_current_version_is_served_and_described_without_a_restart(tiny_model, tmp_path):
    import shutil

    models = tmp_path / "models"
    shutil.copytree(tiny_model, models / "v1")
    store.point(models, "v1")
    env = {"ASSISTANT_NLU_MODELS": str(models), "ASSISTANT_TRAIN_MAX_PER_INTENT": "60"}
    uri = f"tcp://127.0.0.1:{free_port()}"
    process = start_daemon(None, uri, env)
    try:
        def describe() -> str:
            return Info.from_event(asyncio.run(exchange(uri, [Describe().event()], lambda e: Info.is_type(e.type)))[-1]).intent[0].models[0].name

        def understand(text: str):
            return asyncio.run(exchange(uri, [Recognize(text=text).event()], lambda e: e.type in ("intent", "not-recognized")))[-1]

        assert describe() == "v1"
        assert understand("switch on the bedroom lights").type == "intent"
        (tmp_path / "doors.yaml").write_text(DOORS)
        trained = subprocess.run([sys.executable, "-m", "assistant", "train", str(tmp_path / "doors.yaml"), "--epochs", "3", "--activate"],
                                 cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT), **env), capture_output=True, text=True, timeout=600)
        assert trained.returncode == 0, trained.stderr
        version = json.loads(trained.stdout)["version"]
        assert store.current_version(models) == version
        deadline = time.monotonic() + 120
        while describe() != version and time.monotonic() < deadline:
            time.sleep(0.5)
        assert describe() == version
        event = understand("open the garage door")
        intent = Intent.from_event(event)
        assert intent.name == "OpenDoor" and intent.entities[0].value == "garage"
        assert process.poll() is None
    finally:
        assert stop(process) == 0


def test_home_assistants_conversation_turn_gets_its_intent_names_and_slots(ha_model):
    """As Home Assistant's conversation agent: a `transcript` turn is answered with HA's own intent and slot names,
    which its handlers execute (issue 14); one it cannot be is `not-recognized` with our reply."""
    uri = f"tcp://127.0.0.1:{free_port()}"
    process = start_daemon(ha_model, uri)
    try:
        context = {"conversation_id": "01JX", "device_id": "satellite-kitchen"}
        turn = Transcript(text="turn on the lights in the kitchen", language="en", context=context).event()
        events = asyncio.run(exchange(uri, [turn], lambda e: e.type in ("intent", "not-recognized")))
        intent = Intent.from_event(events[-1])
        assert intent.name == "HassTurnOn" and intent.text == "Done."
        assert {e.name: e.value for e in intent.entities} == {"area": "Kitchen", "domain": "light"}
        dimmed = Transcript(text="set the bedroom lamp brightness to 40 percent", language="en", context=context).event()
        intent = Intent.from_event(asyncio.run(exchange(uri, [dimmed], lambda e: e.type in ("intent", "not-recognized")))[-1])
        assert intent.name == "HassLightSet" and {e.name: e.value for e in intent.entities}["brightness"] == 40
        nonsense = Transcript(text="what is the capital of peru", language="en", context=context).event()
        answer = asyncio.run(exchange(uri, [nonsense], lambda e: e.type in ("intent", "not-recognized")))[-1]
        assert NotRecognized.is_type(answer.type) and NotRecognized.from_event(answer).text == "Sorry, I didn't understand that."
    finally:
        assert stop(process) == 0
