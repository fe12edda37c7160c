"""gunicorn's gthread worker, answering in JSON even what never reaches the app.

A request gunicorn itself cannot parse (a request line over its limit, a header
name with a space, a bad chunk size) is answered by gunicorn with an HTML page;
clients of this API expect our JSON error body for every status. This worker
lets gunicorn decide the status and message as it does, and rewrites only the
page it writes.
"""

from __future__ import annotations

import html
import re

from gunicorn.workers.gthread import ThreadWorker

from assistant.server.errors import REASONS, error_body

_STATUS = re.compile(rb"^HTTP/1\.[01] (\d{3}) ")
_MESSAGE = re.compile(rb"</h1>\s*(.*?)\s*</body>", re.S)


class JsonErrorWorker(ThreadWorker):
    def handle_error(self, req, client, addr, exc):
        super().handle_error(req, _JsonErrors(client), addr, exc)


class _JsonErrors:
    """The client socket as gunicorn's error writer sees it: its HTML error page goes out as our JSON error."""

    def __init__(self, sock):
        self._sock = sock

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def sendall(self, data: bytes) -> None:
        status = _STATUS.match(data)
        if status is None:  # not gunicorn's error page: pass it on as it is
            self._sock.sendall(data)
            return
        code = int(status.group(1))
        found = _MESSAGE.search(data)
        message = html.unescape(found.group(1).decode("latin-1")) if found and found.group(1) else REASONS.get(code, "error")
        body = error_body(code, message).encode()
        head = data.split(b"\r\n", 1)[0]
        self._sock.sendall(head + b"\r\nConnection: close\r\nContent-Type: application/json\r\n"
                           + b"Content-Length: %d\r\n\r\n" % len(body) + body)
