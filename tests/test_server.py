"""The REST API over real HTTP: `assistant serve` (gunicorn, 2 workers) on 127.0.0.1 with real models.

The store holds the tiny model, the bundled default model, and two broken
folders; the server needs a bearer token. Every endpoint, the auth rules,
every error status, the hot swap under load and retraining are exercised here.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from http.client import HTTPConnection
from pathlib import Path

import pytest

pytest.importorskip("flask")
pytest.importorskip("gunicorn")

from speech_fixtures import ROOT, free_port, needs_espeak, speak  # noqa: E402

from assistant.client import Client, ClientError  # noqa: E402
from assistant.nlu import store  # noqa: E402

TOKEN = "test-token-0123456789abcdef"


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_model, default_model) -> Path:
    folder = tmp_path_factory.mktemp("store")
    shutil.copytree(tiny_model, folder / "tiny")
    shutil.copytree(default_model, folder / "default")
    shutil.copytree(tiny_model, folder / "corrupt")
    (folder / "corrupt" / "model.onnx").write_bytes(b"not an onnx graph")
    shutil.copytree(tiny_model, folder / "future")
    metadata = json.loads((folder / "future" / "metadata.json").read_text())
    (folder / "future" / "metadata.json").write_text(json.dumps(metadata | {"format_version": 99}))
    store.point(folder, "tiny")
    return folder


def start_server(models: Path, *args: str, env: dict | None = None, wait: bool = True) -> tuple[subprocess.Popen, str, list[str]]:
    port = free_port()
    environ = dict(os.environ, PYTHONPATH=str(ROOT), ASSISTANT_NLU_MODELS=str(models), ASSISTANT_SPEECH_ENGINE="pocketsphinx",
                   ASSISTANT_SERVER_MAX_TEXT_CHARS="200", ASSISTANT_SERVER_MAX_BATCH="8", ASSISTANT_SERVER_MAX_BODY_MB="1",
                   ASSISTANT_SPEECH_MAX_SECONDS="10") | (env or {})
    process = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(port), "--workers", "2", *args],
                               cwd=ROOT, env=environ, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    while wait and time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("server exited: " + "".join(lines))
        try:
            with urllib.request.urlopen(url + "/ready", timeout=2) as response:
                if response.status == 200:
                    return process, url, lines
        except OSError:
            time.sleep(0.5)
    if wait:
        process.kill()
        raise AssertionError("server not ready: " + "".join(lines))
    return process, url, lines


def stop(process: subprocess.Popen, lines: list[str]) -> None:
    """SIGTERM: the server drains and exits with status 0."""
    process.send_signal(signal.SIGTERM)
    try:
        status = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert status == 0, "".join(lines[-40:])


@pytest.fixture(scope="module")
def server(models, tmp_path_factory):
    token_file = tmp_path_factory.mktemp("secrets") / "tokens"
    token_file.write_text(f"# the console's\n{TOKEN}\n")
    process, url, lines = start_server(models, "--token-file", str(token_file), "--access-log")
    yield url, lines, process
    stop(process, lines)
    assert TOKEN not in "".join(lines), "a token was logged"


def test_the_token_is_not_on_any_command_line(server):
    """`ps` shows every user the command lines of the master and its workers: the token comes from a file."""
    master = server[2].pid
    workers = [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    assert workers
    for pid in [master, *workers]:
        assert TOKEN.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()


@pytest.fixture
def client(server) -> Client:
    return Client(server[0], token=TOKEN)


def http(url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None, token: str | None = TOKEN,
         raw: bool = False):
    """(status, headers, parsed JSON or text; the bytes with `raw`) of a raw request."""
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, head, data = response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        status, head, data = e.code, e.headers, e.read()
    if raw:
        return status, head, data
    try:
        return status, head, json.loads(data)
    except ValueError:
        return status, head, data.decode(errors="replace")


def post_json(url: str, payload, **kwargs):
    return http(url, "POST", json.dumps(payload).encode(), {"Content-Type": "application/json"}, **kwargs)


# Understanding text.
def test_parse_returns_the_intent_slots_and_the_version(client):
    result = client.parse("turn on the kitchen lights")
    assert result.intent.name == "LightsOn"
    assert [(e.slot, e.value, e.text) for e in result.entities] == [("room", "kitchen", "kitchen")]
    assert result.model == "tiny" and result.in_scope


def test_batch_keeps_the_order(client):
    out = client.parse_batch(["set a timer for ten minutes", "switch off the lounge light", ""])
    assert [r.intent.name if r.intent else None for r in out.results] == ["SetTimer", "LightsOff", None]
    assert out.results[0].entities[0].value == 600
    assert out.results[1].entities[0].value == "living room"


def test_typed_typos_are_repaired_when_the_request_asks(server, client):
    typo = "swich off the bathrom light"
    for result in [client.parse(typo, repair=True), client.parse_batch([typo], repair=True).results[0]]:
        assert result.intent.name == "LightsOff" and result.source == "grammar"
        assert [(e.slot, e.value) for e in result.entities] == [("room", "bathroom")]
        assert result.repair.sentence == "switch off the bathroom light"
    assert client.parse(typo).repair is None  # the server's default (nlu.repair): word for word
    status, _, body = post_json(server[0] + "/model/parse", {"text": typo, "repair": True})
    assert status == 200 and body["intent"]["name"] == "LightsOff" and body["entities"][0]["value"] == "bathroom"


def test_rasa_shape(server):
    status, _, body = post_json(server[0] + "/model/parse", {"text": "lights off in the bedroom", "message_id": "m1"})
    assert status == 200
    assert body["intent"]["name"] == "LightsOff" and 0 < body["intent"]["confidence"] <= 1
    assert body["entities"] == [{"entity": "room", "value": "bedroom", "start": 18, "end": 25,
                                 "confidence_entity": body["entities"][0]["confidence_entity"], "extractor": "JointBERT", "text": "bedroom"}]
    assert body["intent_ranking"][0]["name"] == "LightsOff"


def test_rasa_out_of_scope_is_nlu_fallback(server):
    status, _, body = post_json(server[0] + "/model/parse", {"text": "what is the capital of peru"})
    assert status == 200 and body["intent"]["name"] == "nlu_fallback" and body["entities"] == []


def test_intents_describe_the_domain(client):
    intents = {i.name: i for i in client.intents().intents}
    assert set(intents) == {"LightsOn", "LightsOff", "SetTimer"}
    room = intents["LightsOn"].slots[0]
    assert (room.name, room.type) == ("room", "room") and "kitchen" in room.values and room.synonyms["living room"] == ["lounge"]
    assert intents["SetTimer"].examples and intents["SetTimer"].sentences[0] == "set a timer for {duration}"


def test_intents_show_templates_as_written_with_rules_by_name(server, client, models, back_to_tiny):
    """The bundled domain's templates name their shared rules (`<polite>`) instead of pasting them in."""
    client.activate("default")
    wait_serving(server[0], "default")
    described = client.intents()
    assert described.model == "default" and described.rules
    sentences = [s for i in described.intents for s in i.sentences]
    assert any(f"<{name}>" in s for s in sentences for name in described.rules)
    assert all(described.rules[name] not in s for s in sentences for name in described.rules if len(described.rules[name]) > 40)


# Speech.
@pytest.fixture(scope="module")
def command_wav(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    return speak("turn off the kitchen lights", tmp_path_factory.mktemp("rest") / "off.wav")


@needs_espeak
def test_recognize_a_wav_upload(client, command_wav):
    result = client.recognize(command_wav)
    assert result.asr.text == "turn off the kitchen lights"
    assert result.intent.name == "LightsOff" and result.entities[0].value == "kitchen"
    assert result.timings.audio_s > 1


@needs_espeak
def test_recognize_raw_pcm_and_multipart(server, client, command_wav):
    from assistant.speech.audio import load_audio

    audio = load_audio(command_wav)
    assert client.recognize(audio.pcm, rate=audio.rate).intent.name == "LightsOff"
    boundary = "xyzzy"
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"audio\"; filename=\"off.wav\"\r\nContent-Type: audio/wav\r\n\r\n").encode()
    form += command_wav.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    status, _, body = http(server[0] + "/v1/recognize", "POST", form, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 200 and body["intent"]["name"] == "LightsOff"


@needs_espeak
def test_recognize_an_mp3_recording(client, command_wav, tmp_path):
    """Phones and recorders hand people MP3s: the upload is decoded as such (libsndfile), and understood."""
    import soundfile

    samples, rate = soundfile.read(command_wav)
    mp3 = tmp_path / "off.mp3"
    soundfile.write(mp3, samples, rate, format="MP3")
    result = client.recognize(mp3)
    assert result.intent.name == "LightsOff" and result.entities[0].value == "kitchen"


def close(ws) -> None:
    from simple_websocket import ConnectionClosed

    try:
        ws.close()
    except ConnectionClosed:  # the server closed first, as it does after its last message
        pass
    except OSError as e:  # the same, seen mid-close: the client's reader thread closed the socket between the check and the send
        if e.errno != errno.EBADF:
            raise


@needs_espeak
def test_websocket_streams_partials_then_the_result(server, command_wav):
    from simple_websocket import Client as WebSocket

    from assistant.speech.audio import load_audio

    audio = load_audio(command_wav)
    ws = WebSocket.connect(server[0].replace("http", "ws") + "/v1/recognize/stream")
    try:
        ws.send(json.dumps({"rate": audio.rate, "token": TOKEN}))
        pcm = audio.pcm
        for start in range(0, len(pcm), 4410):
            ws.send(pcm[start : start + 4410])
        ws.send(json.dumps({"eof": True}))
        messages = []
        while not messages or "partial" in messages[-1]:
            messages.append(json.loads(ws.receive(timeout=60)))
    finally:
        close(ws)
    partials = [m["partial"] for m in messages if "partial" in m]
    assert partials and partials[-1].startswith("turn")
    result = messages[-1]["result"]
    assert result["asr"]["text"] == "turn off the kitchen lights" and result["intent"]["name"] == "LightsOff"


def test_websocket_needs_the_token(server):
    from simple_websocket import Client as WebSocket

    ws = WebSocket.connect(server[0].replace("http", "ws") + "/v1/recognize/stream")
    try:
        ws.send(json.dumps({"rate": 16000, "token": "wrong-token-0123456789"}))
        answer = json.loads(ws.receive(timeout=30))
    finally:
        close(ws)
    assert answer["error"]["status"] == 401


# Probes, metrics, documents, console.
def test_health_ready_metrics(server, client):
    assert client.health().status == "ok"
    ready = client.ready()
    assert ready.ready and ready.model == "tiny" and "pocketsphinx" in ready.speech
    client.parse("turn on the office lights")
    status, head, text = http(server[0] + "/metrics")
    assert status == 200 and head["Content-Type"].startswith("text/plain")
    assert 'assistant_requests_total{endpoint="/v1/parse",method="POST",status="200"}' in text
    assert 'assistant_request_seconds_bucket{endpoint="/v1/parse"' in text
    assert 'assistant_model_info{version="tiny"} 1.0' in text


def test_a_scrape_while_a_worker_creates_its_metrics_file_answers(tmp_path, monkeypatch):
    """A worker that gunicorn starts (SIGHUP, a replaced worker) creates its file empty and sizes it a moment
    later; a scrape in that moment once answered 500."""
    from prometheus_client.mmap_dict import MmapedDict, mmap_key

    from assistant.server.metrics import exposition

    running = MmapedDict(str(tmp_path / "counter_1234.db"))
    running.write_value(mmap_key("assistant_model_swaps_total", "assistant_model_swaps_total", [], [], "Swaps."), 3.0, 0.0)
    running.close()
    (tmp_path / "gauge_livemax_1235.db").touch()  # the starting worker's, not sized yet
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = exposition()[0].decode()
    assert "assistant_model_swaps_total 3.0" in text


def test_openapi_docs_and_console_are_served(server):
    status, _, spec = http(server[0] + "/openapi.json", token=None)
    assert status == 200 and spec["openapi"].startswith("3.")
    for path in ("/v1/parse", "/v1/parse/batch", "/v1/recognize", "/model/parse", "/v1/intents", "/v1/models",
                 "/v1/models/{version}/activate", "/v1/train", "/v1/train/{job}", "/health", "/ready", "/metrics"):
        assert path in spec["paths"], path
    assert spec["paths"]["/v1/parse"]["post"]["security"] == [{"bearer": []}]
    for page, marker in (("/docs", "openapi.json"), ("/", 'id="utterance"')):
        status, head, html = http(server[0] + page, token=None)
        assert status == 200 and head["Content-Type"].startswith("text/html") and marker in html


# Auth and errors: every failure is JSON with a stable shape.
def declared(url: str, length: int):
    """(status, headers, JSON) of a POST that declares a `length`-byte body and sends none: the server must refuse
    it on the header alone. (Sending the bytes races the server's early answer: the client may get a broken pipe.)"""
    parts = urllib.parse.urlsplit(url)
    connection = HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.putrequest("POST", parts.path)
        for name, value in {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json", "Content-Length": str(length)}.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.headers, json.loads(response.read())
    finally:
        connection.close()


def error_of(response, status: int, code: str | None = None) -> str:
    got, head, body = response
    assert got == status, body
    assert head["Content-Type"] == "application/json"
    assert set(body) == {"error"} and body["error"]["status"] == status and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]["message"]


def test_token_is_required_and_checked(server):
    url = server[0] + "/v1/parse"
    error_of(post_json(url, {"text": "hi"}, token=None), 401, "unauthorized")
    error_of(post_json(url, {"text": "hi"}, token="wrong-token-0123456789"), 401)
    assert post_json(url, {"text": "hi"})[0] == 200
    for open_path in ("/health", "/ready", "/openapi.json", "/"):
        assert http(server[0] + open_path, token=None)[0] == 200, open_path
    for closed in ("/metrics", "/v1/models", "/v1/intents"):
        error_of(http(server[0] + closed, token=None), 401)


def test_error_statuses(server):
    url = server[0]
    assert "not valid JSON" in error_of(http(url + "/v1/parse", "POST", b"{oops", {"Content-Type": "application/json"}), 400, "bad_request")
    error_of(http(url + "/v1/nothing"), 404, "not_found")
    error_of(http(url + "/v1/train/0123456789ab"), 404)
    error_of(http(url + "/v1/models/nope/activate", "POST"), 404)
    error_of(http(url + "/v1/models/..%2Fetc/activate", "POST"), 404)
    error_of(http(url + "/v1/parse", "GET"), 405)
    assert "over the 200 allowed" in error_of(post_json(url + "/v1/parse", {"text": "x" * 201}), 413, "too_large")
    assert "8 allowed" in error_of(post_json(url + "/v1/parse/batch", {"texts": ["hi"] * 9}), 413)
    assert "MB allowed" in error_of(declared(url + "/v1/parse", 2 * 2**20), 413, "too_large")
    error_of(http(url + "/v1/parse", "POST", b"text=hi", {"Content-Type": "text/plain"}), 415, "unsupported_media_type")
    error_of(http(url + "/v1/recognize", "POST", b"hello", {"Content-Type": "text/plain"}), 415)
    assert error_of(post_json(url + "/v1/parse", {"txt": "hi"}), 422, "invalid").startswith("text")
    error_of(post_json(url + "/v1/parse", {"text": 5}), 422)
    assert "not a readable audio file" in error_of(http(url + "/v1/recognize", "POST", b"RIFF1234", {"Content-Type": "audio/wav"}), 422, "bad_audio")
    assert "sample rate" in error_of(http(url + "/v1/recognize", "POST", b"\0\0" * 100, {"Content-Type": "application/octet-stream"}), 422)
    too_long = bytes(2 * 16000 * 11)
    assert "10 s allowed" in error_of(http(url + "/v1/recognize?rate=16000", "POST", too_long, {"Content-Type": "audio/L16"}), 413)


def test_cors_for_configured_origins_only(models):
    process, url, lines = start_server(models, env={"ASSISTANT_SERVER_CORS_ORIGINS": "https://home.example", "ASSISTANT_SERVER_SPEECH": "false"})
    try:
        status, head, _ = http(url + "/v1/parse", "OPTIONS", headers={"Origin": "https://home.example",
                                                                     "Access-Control-Request-Method": "POST"}, token=None)
        assert status == 200 and head["Access-Control-Allow-Origin"] == "https://home.example"
        assert "Authorization" in head["Access-Control-Allow-Headers"]
        _, head, _ = http(url + "/v1/parse", "POST", b'{"text": "hi"}', {"Content-Type": "application/json", "Origin": "https://evil.example"}, token=None)
        assert "Access-Control-Allow-Origin" not in head
        assert http(url + "/v1/parse", "POST", b'{"text": "hi"}', {"Content-Type": "application/json"}, token=None)[0] == 200  # loopback, no tokens: open
    finally:
        stop(process, lines)


def test_clients_are_spread_over_the_workers(models):
    """A worker holds at most `server.connections` at once, so clients that connect together cannot all land on one
    worker (which would leave the other's core idle): four at once, two workers of two connections, two each."""
    process, url, lines = start_server(models, env={"ASSISTANT_SERVER_CONNECTIONS": "2", "ASSISTANT_SERVER_THREADS": "1",
                                                    "ASSISTANT_SERVER_SPEECH": "false"})
    connections = [HTTPConnection("127.0.0.1", int(url.rsplit(":", 1)[1]), timeout=10) for _ in range(4)]
    try:
        for connection in connections:
            connection.connect()
        time.sleep(0.5)  # every connection accepted by some worker before any request is sent
        workers = []
        for connection in connections:
            connection.request("GET", "/health")
            workers.append(json.loads(connection.getresponse().read())["worker"])
        assert sorted(Counter(workers).values()) == [2, 2]
    finally:
        for connection in connections:
            connection.close()
        stop(process, lines)


def test_refuses_to_bind_beyond_loopback_without_a_token(models):
    result = subprocess.run([sys.executable, "-m", "assistant", "serve", "--host", "0.0.0.0", "--port", str(free_port())],
                            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT), ASSISTANT_NLU_MODELS=str(models)),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "needs bearer tokens" in result.stderr and "Traceback" not in result.stderr


# The model lifecycle.
def test_broken_versions_are_rejected_and_the_old_model_keeps_serving(server, client):
    for version, reason in (("corrupt", "cannot load"), ("future", "model format 99")):
        with pytest.raises(ClientError) as caught:
            client.activate(version)
        assert caught.value.status == 422 and reason in caught.value.message
    models = client.models()
    assert models.current == "tiny" and models.serving == "tiny"
    listed = {m.version: m for m in models.models}
    assert listed["tiny"].valid and listed["tiny"].current and not listed["future"].valid and "format 99" in listed["future"].error
    assert client.parse("turn on the kitchen lights").model == "tiny"


def serving(url: str) -> set[str]:
    """The versions some worker serves now: `assistant_model_info` is 1 for a version while any live worker holds it."""
    _, _, text = http(url + "/metrics")
    return set(re.findall(r'^assistant_model_info\{version="([^"]+)"\} 1\.0$', text, re.M))


def wait_serving(url: str, version: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while serving(url) != {version}:
        assert time.monotonic() < deadline, f"workers still serve {serving(url)}, not only {version}"
        time.sleep(0.3)


@pytest.fixture
def back_to_tiny(server, client):
    """Lifecycle tests move the pointer; afterwards every worker serves `tiny` again."""
    yield
    client.activate("tiny")
    wait_serving(server[0], "tiny")


def hammer(url: str, text: str, stop_flag: threading.Event, answered_by: list, failures: list) -> None:
    mine = Client(url, token=TOKEN)
    while not stop_flag.is_set():
        try:
            answered_by.append(mine.parse(text).model)
        except Exception as e:  # noqa: BLE001  any failure is what these tests are about
            failures.append(repr(e))


def test_swap_under_load_fails_no_request(server, client, models, back_to_tiny):
    """Activate another version while 4 threads parse non-stop: every request answers 200, then all answer with the new one."""
    failures, answered_by, stop_flag = [], [], threading.Event()
    threads = [threading.Thread(target=hammer, args=(server[0], "set a timer for five minutes", stop_flag, answered_by, failures)) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        assert client.activate("default").current == "default"
        wait_serving(server[0], "default")  # the other worker loads it (and its speech model) in the background
        time.sleep(1.0)  # requests already in flight at the last swap finish on the model they started with
        n = len(answered_by)
        time.sleep(1.0)
    finally:
        stop_flag.set()
        for t in threads:
            t.join()
    assert not failures, failures[:3]
    assert "tiny" in answered_by[:n] and answered_by[n:] and set(answered_by[n:]) == {"default"}
    assert store.current_version(models) == "default"


def test_pointer_moved_outside_the_server_is_followed(server, client, models, back_to_tiny):
    store.point(models, "default")
    wait_serving(server[0], "default")
    assert {client.parse("set a timer for five minutes").model for _ in range(8)} == {"default"}
    store.point(models, "corrupt")  # a broken target: logged, the workers keep serving
    time.sleep(2)
    assert serving(server[0]) == {"default"}
    assert {client.parse("turn on the kitchen lights").model for _ in range(8)} == {"default"}
    assert any("model corrupt rejected" in line for line in server[1])


def test_sighup_reloads_workers_without_failing_requests(server, client, models, back_to_tiny):
    """gunicorn starts fresh workers on the current version, then retires the old ones."""
    wait_serving(server[0], "tiny")
    store.point(models, "default")
    server[2].send_signal(signal.SIGHUP)
    failures, answered_by, stop_flag = [], [], threading.Event()
    thread = threading.Thread(target=hammer, args=(server[0], "turn on the kitchen lights", stop_flag, answered_by, failures))
    thread.start()
    try:
        wait_serving(server[0], "default")
    finally:
        stop_flag.set()
        thread.join()
    assert not failures, failures[:3]
    assert answered_by and client.ready().ready


# Retraining from the API.
RETRAIN = """
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


def test_train_rejects_bad_files_with_file_and_line(client):
    with pytest.raises(ClientError) as caught:
        client.train({"home.yaml": "intents:\n  OpenDoor:\n    sentences: [\"(open\"]\n"})
    assert caught.value.status == 422 and caught.value.message.startswith("home.yaml:3")
    with pytest.raises(ClientError) as caught:
        client.train({"../escape.yaml": RETRAIN})
    assert caught.value.status == 422


def test_train_from_the_served_files_needs_a_version_that_kept_them(tmp_path):
    from assistant.config import Settings
    from assistant.server import jobs
    from assistant.server.schemas import TrainRequest

    (tmp_path / "old-version").mkdir()
    with pytest.raises(jobs.JobError) as caught:
        jobs.submit(tmp_path, Settings(), TrainRequest(base="served"), served=tmp_path / "old-version")
    assert caught.value.status == 409 and "keeps no intent files" in str(caught.value)
    with pytest.raises(jobs.JobError) as caught:
        jobs.submit(tmp_path, Settings(), TrainRequest())
    assert caught.value.status == 422


def test_train_in_the_background_then_serve_the_new_version(server, client, models, back_to_tiny):
    """Doors added beside the served version's own files (`base: served`); the new version is compared with
    the served one and its report is served."""
    job = client.train({"doors.yaml": RETRAIN}, base="served", epochs=3, max_per_intent=60, activate="force")
    assert job.state == "queued"
    with pytest.raises(ClientError) as caught:
        client.train({"doors.yaml": RETRAIN})
    assert caught.value.status == 409
    stages = set()
    deadline = time.monotonic() + 600
    while job.state in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(1)
        job = client.train_status(job.id)
        stages.add(job.stage)
    assert job.state == "succeeded", job.error
    assert "training" in stages and job.progress == 1.0 and job.version
    assert store.current_version(models) == job.version and job.gate is not None and job.gate.served is None  # other intents: floors
    assert job.gate.forced == (not job.gate.activate)
    wait_serving(server[0], job.version)
    result = client.parse("open the garage door")
    assert result.model == job.version and result.intent.name == "OpenDoor" and result.entities[0].value == "garage"
    assert client.parse("turn on the kitchen lights").intent.name == "LightsOn"  # the served files came along
    assert "comparing" in stages or job.comparison is not None
    assert job.comparison.served.version == "tiny" and job.comparison.new.version == job.version and job.comparison.sentences > 0
    listed = next(v for v in client.models().models if v.version == job.version)
    assert listed.retrainable and {"confusion.png", "reliability.png", "comparison.json", "metrics.json"} <= set(listed.report)
    status, head, body = http(f"{server[0]}/v1/models/{job.version}/report/confusion.png", raw=True)
    assert status == 200 and head["Content-Type"] == "image/png" and body[:8] == b"\x89PNG\r\n\x1a\n"
    status, _, answer = http(f"{server[0]}/v1/models/{job.version}/report/secrets.txt")
    assert status == 404 and answer["error"]["code"] == "not_found"


def test_client_command(server):
    out = subprocess.run([sys.executable, "-m", "assistant", "client", "--url", server[0], "--text", "turn on the kitchen lights"],
                         cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT), ASSISTANT_TOKEN=TOKEN), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["intent"]["name"] == "LightsOn"
    out = subprocess.run([sys.executable, "-m", "assistant", "client", "--url", server[0], "--text", "hi"],
                         cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stderr.startswith("assistant: 401 unauthorized")
