"""`assistant serve`: the app under gunicorn, several workers of several threads each.

Workers are forked from a master that has checked the config and made sure a
model exists (training the default one on first use), so a worker's only
start-up cost is loading the model. gunicorn's own signals then do the rest:
SIGHUP starts fresh workers on the current model before the old ones finish
their requests and leave, SIGTERM drains and stops. Each worker also follows
the store's `current` pointer by itself (see `service.py`).

Workers race to accept connections, and a keep-alive client stays with the
worker that accepted it: left alone, one worker can hold every client while
the other core idles (counted: all 32 of a load test's connections on one of
two workers). Each worker therefore holds at most `server.connections` at once
(twice its threads by default); past that it stops accepting and the next
worker takes the client.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

from assistant.config import Settings
from assistant.errors import AssistantError

log = logging.getLogger(__name__)


class ServeError(AssistantError):
    """A server that must not start as configured; the message says why and what to change."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check(settings: Settings) -> None:
    s = settings.server
    if not is_loopback(s.host) and not s.tokens:
        raise ServeError(f"serving on {s.host} reaches beyond this machine, so it needs bearer tokens: set [server] tokens in "
                         "config.toml or ASSISTANT_SERVER_TOKENS=token1,token2 (e.g. from: python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    if any(len(t) < 16 for t in s.tokens):
        raise ServeError("bearer tokens must be at least 16 characters long")
    check_port(s.host, s.port)


def check_port(host: str, port: int) -> None:
    """`ServeError` naming the flag when the address is taken (gunicorn would retry five times and exit)."""
    import socket

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds: a port in TIME_WAIT is free
            probe.bind((host, port))
    except OSError as e:
        raise ServeError(f"cannot listen on {host}:{port}: {e.strerror or e}; another server holds it? choose another port with "
                         f"--port (or server.port, ASSISTANT_SERVER_PORT)") from None


def serve(settings: Settings, dev: bool = False, access_log: bool = False) -> None:
    """Serve until SIGTERM/SIGINT. The runtime folder (jobs, uploads, metrics) is private and removed on exit."""
    check(settings)
    master = os.getpid()
    runtime = Path(tempfile.mkdtemp(prefix="assistant-server-"))
    try:
        if dev:
            _serve_dev(settings, runtime)
        else:
            (runtime / "metrics").mkdir()
            # prometheus_client reads its multi-process folder from the environment, in every worker.
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(runtime / "metrics")
            _serve_gunicorn(settings, access_log, runtime)
    finally:
        if os.getpid() == master:  # a gunicorn worker leaves through this frame too (SystemExit after fork)
            shutil.rmtree(runtime, ignore_errors=True)


def _ready_line(settings, what: str) -> None:
    s = settings.server
    print(f"assistant serve: http://{s.host}:{s.port}/ ({what}); API docs at /docs", file=sys.stderr, flush=True)


def _serve_dev(settings: Settings, runtime: Path) -> None:
    from assistant.server.app import create_app

    app = create_app(settings, runtime=runtime)
    service = app.extensions["assistant"].service
    signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=service.reload, daemon=True).start())
    log.warning("Flask development server: for trying things out only; drop --dev to serve with gunicorn")
    _ready_line(settings, "development server")
    app.run(settings.server.host, settings.server.port, threaded=True, use_reloader=False)


def _serve_gunicorn(settings: Settings, access_log: bool, runtime: Path) -> None:
    from gunicorn.app.base import BaseApplication

    s = settings.server

    def when_ready(server) -> None:
        _ready_line(settings, f"gunicorn, {s.workers} workers x {s.threads} threads")

    def child_exit(server, worker) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, str(runtime / "metrics"))

    class Application(BaseApplication):
        def load_config(self):
            options = {"bind": f"{s.host}:{s.port}", "workers": s.workers, "threads": s.threads, "worker_connections": s.connections or 2 * s.threads,
                       "worker_class": "assistant.server.worker.JsonErrorWorker",
                       "timeout": 120, "graceful_timeout": 30, "keepalive": 5, "when_ready": when_ready, "child_exit": child_exit,
                       "accesslog": "-" if access_log else None, "errorlog": "-", "loglevel": "info", "proc_name": "assistant-serve",
                       "control_socket_disable": True}
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            from assistant.server.app import create_app

            logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", force=True)
            return create_app(settings, runtime=runtime)

    Application().run()
