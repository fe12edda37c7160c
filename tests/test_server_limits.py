"""The REST server under hostile or broken clients (issue 13's findings): every resource a client can hold is
bounded, a bad request gets a JSON error with its status, and no request can break the model in service.
A real gunicorn server on loopback, one worker (so its memory can be read from /proc), bounded in time."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import time
import urllib.parse
from pathlib import Path

import pytest

pytest.importorskip("flask")
pytest.importorskip("gunicorn")

from test_server import TOKEN, http, start_server, stop, wait_serving  # noqa: E402

from assistant.nlu import store  # noqa: E402

LIMITS = {"ASSISTANT_SERVER_TOKENS": TOKEN, "ASSISTANT_SPEECH_MAX_SECONDS": "3", "ASSISTANT_SPEECH_STREAM_IDLE_SECONDS": "2"}


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_model) -> Path:
    folder = tmp_path_factory.mktemp("limits-store")
    for name in ("tiny", "spare"):
        shutil.copytree(tiny_model, folder / name)
    store.point(folder, "tiny")
    return folder


@pytest.fixture(scope="module")
def server(models):
    process, url, lines = start_server(models, "--workers", "1", "--threads", "4", env=LIMITS)
    yield url, process
    stop(process, lines)


def worker(process) -> int:
    pids = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    assert len(pids) == 1
    return int(pids[0])


def rss_mb(pid: int) -> float:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def socket_url(url: str) -> str:
    return url.replace("http", "ws") + "/v1/recognize/stream"


def parses(url: str) -> int:
    return http(url + "/v1/parse", "POST", json.dumps({"text": "turn on the kitchen lights"}).encode(), {"Content-Type": "application/json"})[0]


def test_a_deflated_memory_bomb_is_cut_off_before_the_token_is_read(server):
    """Finding 1: a message of zeros, a thousand times smaller on the wire than in memory, was read whole."""
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, BytesMessage, CloseConnection, Request
    from wsproto.extensions import PerMessageDeflate

    url, process = server
    pid = worker(process)
    before = rss_mb(pid)
    host = urllib.parse.urlsplit(url).netloc
    client = WSConnection(ConnectionType.CLIENT)
    with socket.create_connection(host.split(":"), timeout=20) as sock:
        sock.sendall(client.send(Request(host=host, target="/v1/recognize/stream", extensions=[PerMessageDeflate()])))
        events = []
        while not any(isinstance(e, AcceptConnection) for e in events):
            client.receive_data(sock.recv(65536))
            events += list(client.events())
        assert any(isinstance(e, PerMessageDeflate) for e in next(e for e in events if isinstance(e, AcceptConnection)).extensions)
        wire = client.send(BytesMessage(data=bytes(128 * 2**20)))  # 128 MiB, about 128 KB deflated
        assert len(wire) < 2**20
        closed = None
        try:
            sock.sendall(wire)
            while closed is None:
                data = sock.recv(65536)
                if not data:
                    break
                client.receive_data(data)
                closed = next((e for e in client.events() if isinstance(e, CloseConnection)), None)
        except (ConnectionResetError, BrokenPipeError):
            pass
    assert closed is None or closed.code == 1009  # "message too big", or the socket is simply gone
    assert rss_mb(pid) - before < 32
    assert parses(url) == 200


def test_a_wrong_token_at_the_upgrade_is_refused_before_any_message(server):
    """Clients that can set headers send the token with the upgrade, and a wrong one never gets a socket."""
    from simple_websocket import Client as WebSocket

    url, _ = server
    with pytest.raises(Exception):  # noqa: B017  the handshake is refused (401)
        WebSocket.connect(socket_url(url), headers={"Authorization": "Bearer wrong-token-0123456789"})
    ws = WebSocket.connect(socket_url(url), headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        ws.send(json.dumps({"rate": 16000}))  # no token in the message: the upgrade's was checked
        ws.send(json.dumps({"eof": True}))
        answer = json.loads(ws.receive(timeout=10))
    finally:
        with _quietly():
            ws.close()
    assert "result" in answer or answer["error"]["status"] != 401


def test_idle_unauthenticated_sockets_leave_threads_for_plain_requests(server):
    """Finding 4: eight sockets that never send their first message took every thread; /health timed out."""
    from simple_websocket import Client as WebSocket

    url, _ = server
    sockets = [WebSocket.connect(socket_url(url)) for _ in range(8)]
    try:
        busy = []
        for ws in sockets[3:]:  # 4 threads: 3 sockets at most
            busy.append(json.loads(ws.receive(timeout=10))["error"]["code"])
        assert busy == ["busy"] * 5
        for _ in range(5):
            started = time.monotonic()
            assert http(url + "/health")[0] == 200 and parses(url) == 200
            assert time.monotonic() - started < 2
    finally:
        for ws in sockets:
            with _quietly():
                ws.close()


def test_a_stream_kept_alive_with_empty_messages_ends_at_its_deadline(server):
    """Finding 4: `{}` every few seconds kept a stream, and its thread, forever."""
    from simple_websocket import Client as WebSocket

    url, _ = server
    ws = WebSocket.connect(socket_url(url))
    started = time.monotonic()
    try:
        ws.send(json.dumps({"rate": 16000, "token": TOKEN}))
        answer = None
        while answer is None and time.monotonic() - started < 20:
            ws.send("{}")
            message = ws.receive(timeout=0.5)
            answer = json.loads(message) if message else None
    finally:
        with _quietly():
            ws.close()
    assert answer is not None and answer["error"]["status"] == 408
    assert time.monotonic() - started < 2 * 3 + 2 + 3  # speech.max_seconds twice, one idle wait, and slack


def test_a_message_longer_than_allowed_is_answered_413(server):
    """Finding 15: a 32-second message raised an uncaught error (protocol error 1002, a traceback in the log)."""
    from simple_websocket import Client as WebSocket

    url, _ = server
    ws = WebSocket.connect(socket_url(url))
    try:
        ws.send(json.dumps({"rate": 16000, "token": TOKEN}))
        ws.send(bytes(2 * 16000 * 32)[: 2**20 - 2])  # as much as one message may hold: 32 s of 16 kHz
        answer = json.loads(ws.receive(timeout=10))
    finally:
        with _quietly():
            ws.close()
    assert answer["error"]["status"] == 413


def test_sockets_and_state_changes_from_foreign_origins_are_refused(server, models):
    """Findings 4 and 12: a page on another site could open sockets, or switch the model with a form POST."""
    from simple_websocket import Client as WebSocket

    url, _ = server
    with pytest.raises(Exception):  # noqa: B017  the handshake is refused (403), whatever the client calls it
        WebSocket.connect(socket_url(url), headers={"Origin": "http://evil.example"})
    status, _, body = http(url + "/v1/models/spare/activate", "POST", b"x=1",
                           {"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"}, token=None)
    assert status == 403 and body["error"]["code"] == "forbidden"
    assert store.current_version(models) == "tiny"
    assert http(url + "/v1/parse", "POST", b'{"text": "hi"}', {"Content-Type": "application/json", "Origin": url})[0] == 200


def test_activation_runs_a_test_parse(server, models):
    """Finding 8: a version whose labels.json does not match its graph was activated, then every parse failed."""
    url, _ = server
    shutil.copytree(models / "tiny", models / "mismatched")
    labels = json.loads((models / "mismatched" / "labels.json").read_text())
    (models / "mismatched" / "labels.json").write_text(json.dumps(labels | {"intents": labels["intents"][:2]}))
    try:
        status, _, body = http(url + "/v1/models/mismatched/activate", "POST", b"{}", {"Content-Type": "application/json"})
        assert status == 422 and "do not belong together" in body["error"]["message"]
        assert store.current_version(models) == "tiny" and parses(url) == 200
    finally:
        shutil.rmtree(models / "mismatched")


def test_deleting_the_current_version_then_sighup_keeps_serving(server, models):
    """Finding 9: with `current` pointing at a deleted folder, reloaded workers had nothing to serve (503)."""
    url, process = server
    shutil.copytree(models / "tiny", models / "doomed")
    try:
        assert http(url + "/v1/models/doomed/activate", "POST", b"{}", {"Content-Type": "application/json"})[0] == 200
        wait_serving(url, "doomed")
        shutil.rmtree(models / "doomed")
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert parses(url) == 200
            time.sleep(0.2)
        assert http(url + "/v1/parse", "POST", b'{"text": "hi"}', {"Content-Type": "application/json"})[2]["model"] in ("tiny", "spare")
    finally:
        store.point(models, "tiny")
        wait_serving(url, "tiny")


def test_a_pointer_outside_the_store_is_not_served(server, models, tmp_path):
    """Finding 17: `current` naming a folder outside the store was served."""
    url, process = server
    outside = tmp_path / "elsewhere"
    shutil.copytree(models / "tiny", outside)
    try:
        os.symlink(outside, models / ".evil")
        os.replace(models / ".evil", models / store.CURRENT)
        process.send_signal(signal.SIGHUP)
        time.sleep(5)
        assert http(url + "/v1/parse", "POST", b'{"text": "hi"}', {"Content-Type": "application/json"})[2]["model"] != "elsewhere"
    finally:
        store.point(models, "tiny")
        wait_serving(url, "tiny")


@pytest.mark.parametrize("request_", [
    ("/v1/parse", "POST", b'{"text": "turn on the light", "threshold": NaN}', "application/json", 422),  # finding 17
    ("/v1/parse/batch", "POST", b'{"texts": ["hi"], "threshold": Infinity}', "application/json", 422),
    ("/v1/recognize?rate=%C2%B2", "POST", b"\x00\x00", "application/octet-stream", 422),  # finding 13: superscript two
    ("/v1/recognize?rate=16000&channels=%C2%B9", "POST", b"\x00\x00", "application/octet-stream", 422),
    ("//v1//parse", "POST", b'{"text": "hi"}', "application/json", 404),  # finding 14: not an HTML redirect
], ids=["nan", "infinity", "superscript-rate", "superscript-channels", "double-slashes"])
def test_odd_requests_get_json_errors_with_their_status(server, request_):
    url, _ = server
    path, method, body, kind, status = request_
    got, head, payload = http(url + path, method, body, {"Content-Type": kind})
    assert got == status and head["Content-Type"] == "application/json" and payload["error"]["status"] == status


def test_invented_methods_do_not_grow_the_metrics(server):
    """Finding 11: each invented HTTP method made a new metrics series."""
    url, _ = server
    host = urllib.parse.urlsplit(url).netloc
    for i in range(30):
        with socket.create_connection(host.split(":"), timeout=10) as sock:
            sock.sendall(f"FOO{i} /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            sock.recv(65536)
    text = http(url + "/metrics")[2]
    assert "FOO" not in text


class _quietly:
    """Closing a socket the server already closed raises; that is not what these tests are about."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        return exc[0] is not None and issubclass(exc[0], Exception)


def raw_request(url: str, data: bytes) -> tuple[int, dict]:
    """Status and JSON body of a request written byte by byte (what urllib refuses to send)."""
    host = urllib.parse.urlsplit(url).netloc
    with socket.create_connection(host.split(":"), timeout=30) as sock:
        try:
            sock.sendall(data.replace(b"HOST", host.encode()))
        except (BrokenPipeError, ConnectionResetError):  # the server answered before reading it all
            pass
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"application/json" in head, head
    return int(head.split()[1]), json.loads(body)


MEBIBYTE = b"x" * 2**20
RAW = {  # findings 13 and 14: each was a 500, a silently cut body or an HTML page
    "chunked body over the limit": (b"POST /v1/parse HTTP/1.1\r\nHost: HOST\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    + b"".join(b"%x\r\n%s\r\n" % (len(MEBIBYTE), MEBIBYTE) for _ in range(2)) + b"0\r\n\r\n", 413),
    "malformed chunk size": (b"POST /v1/parse HTTP/1.1\r\nHost: HOST\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                             b"zz\r\nabc\r\n0\r\n\r\n", 400),
    "URL over 4094 bytes": (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: HOST\r\n\r\n", 414),
    "header name with a space": (b"GET /health HTTP/1.1\r\nHost: HOST\r\nBad Header: x\r\n\r\n", 400),
}


@pytest.mark.parametrize("data,status", RAW.values(), ids=RAW.keys())
def test_requests_gunicorn_or_the_body_reader_refuse_are_answered_in_json(server, data, status):
    url, _ = server
    got, body = raw_request(url, data)
    assert got == status and body["error"]["status"] == status


def test_a_small_chunked_body_is_read_whole(server):
    url, _ = server
    text = b'{"text": "turn on the kitchen lights"}'
    got, body = raw_request(url, b"POST /v1/parse HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\nContent-Type: application/json\r\n"
                                 b"Authorization: Bearer " + TOKEN.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 + b"%x\r\n%s\r\n0\r\n\r\n" % (len(text), text))
    assert got == 200 and body["intent"]["name"] == "LightsOn"
