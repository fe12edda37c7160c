"""The names of a Home Assistant home, read live from its WebSocket API into the home file the model is trained on.

Home Assistant fills `{area}`, `{floor}` and `{name}` from its registries at
run time; a model of ours learns them at training time, from a home file
(`assistant.intents.homeassistant.Home`). `fetch_home` asks a running Home
Assistant, with a long-lived access token, for what its own default agent
would use: every floor and area with its aliases, and every entity exposed to
Assist ("conversation") under its friendly name with its aliases and its area
(the entity's own, else its device's). `sync` writes that home file, but only
when the names changed, so a caller retrains exactly when there is something
new to learn; `watch` stays connected and syncs again whenever Home Assistant
announces a registry change (its `*_registry_updated` events), a few seconds
after the last one of a burst.

The protocol (developers.home-assistant.io, WebSocket API): the server says
`auth_required`, the client answers `auth` with the token, the server
`auth_ok` or `auth_invalid`; then each command `{id, type}` gets a `result`
with the same id, events of a subscription arriving in between.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import yaml

from assistant.errors import AssistantError
from assistant.files import write_atomic
from assistant.intents.homeassistant import Home, Named, load_home

log = logging.getLogger(__name__)

REGISTRY_EVENTS = ("area_registry_updated", "floor_registry_updated", "entity_registry_updated", "device_registry_updated")
"""What Home Assistant announces when a name, an alias or an area changes."""
EXPOSED_TO = "conversation"
"""The assistant Home Assistant's expose settings name for Assist."""
MAX_MESSAGE = 64 * 1024 * 1024
"""A large home's state list is some megabytes; more is no Home Assistant."""


class HomeAssistantError(AssistantError):
    """Home Assistant cannot be reached, refuses the token, or answers a command with an error."""


def websocket_url(url: str) -> str:
    """`http://host:8123` (what users copy from the browser) -> `ws://host:8123/api/websocket`; ws(s) URLs as given."""
    parts = urlsplit(url.strip() if "://" in url else f"http://{url.strip()}")
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise HomeAssistantError(f"{url}: not a Home Assistant URL (e.g. http://homeassistant.local:8123)")
    path = parts.path.rstrip("/")
    return urlunsplit((scheme, parts.netloc, path if path.endswith("/api/websocket") else f"{path}/api/websocket", "", ""))


class Connection:
    """An authenticated WebSocket session with Home Assistant: `call` a command, `subscribe` to events."""

    def __init__(self, url: str, token: str, timeout: float = 10.0):
        try:
            from websockets.exceptions import InvalidHandshake, WebSocketException
            from websockets.sync.client import connect
        except ImportError:
            raise HomeAssistantError("talking to Home Assistant needs websockets: pip install 'assistant[speech]'") from None
        if not token:
            raise HomeAssistantError("no access token: create a long-lived one in Home Assistant (your profile, Security tab)")
        self.url = websocket_url(url)
        self.timeout = timeout
        self.events: list[dict] = []
        """Events that arrived while waiting for a result (read them with `next_event`)."""
        self._next_id = 1
        self._stack = contextlib.ExitStack()
        try:
            self._ws = self._stack.enter_context(connect(self.url, open_timeout=timeout, close_timeout=2, max_size=MAX_MESSAGE))
        except (OSError, InvalidHandshake, WebSocketException, TimeoutError) as e:
            raise HomeAssistantError(f"{url}: cannot connect to Home Assistant's WebSocket API ({e})") from None
        try:
            hello = self._receive(timeout)
            if hello.get("type") != "auth_required":
                raise HomeAssistantError(f"{url}: this is no Home Assistant WebSocket API (it said {hello.get('type')!r} first)")
            self._send({"type": "auth", "access_token": token})
            reply = self._receive(timeout)
            if reply.get("type") != "auth_ok":
                raise HomeAssistantError(f"{url}: Home Assistant refused the access token ({reply.get('message', reply.get('type'))})")
        except BaseException:
            self.close()
            raise

    def _send(self, message: dict) -> None:
        from websockets.exceptions import WebSocketException

        try:
            self._ws.send(json.dumps(message))
        except (OSError, WebSocketException) as e:
            raise HomeAssistantError(f"{self.url}: the connection to Home Assistant broke ({e})") from None

    def _receive(self, timeout: float | None) -> dict:
        from websockets.exceptions import WebSocketException

        try:
            text = self._ws.recv(timeout=timeout)
        except TimeoutError:  # an OSError too, but the caller's to handle: no answer yet is not a broken connection
            raise
        except (OSError, WebSocketException) as e:
            raise HomeAssistantError(f"{self.url}: the connection to Home Assistant broke ({e})") from None
        try:
            message = json.loads(text)
        except (TypeError, ValueError):
            raise HomeAssistantError(f"{self.url}: Home Assistant sent something that is not JSON") from None
        if not isinstance(message, dict):
            raise HomeAssistantError(f"{self.url}: Home Assistant sent a JSON {type(message).__name__}, not an object")
        return message

    def call(self, kind: str, **fields):
        """Send the command `kind` and return its result; events arriving meanwhile are kept in `events`."""
        ident, self._next_id = self._next_id, self._next_id + 1
        self._send({"id": ident, "type": kind, **fields})
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                message = self._receive(max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise HomeAssistantError(f"{self.url}: Home Assistant did not answer {kind} within {self.timeout:g} s") from None
            if message.get("type") == "event":
                self.events.append(message.get("event") or {})
            elif message.get("id") == ident and message.get("type") == "result":
                if not message.get("success"):
                    error = message.get("error") or {}
                    raise HomeAssistantError(f"Home Assistant refused {kind}: {error.get('message') or error.get('code') or 'error'}")
                return message.get("result")

    def subscribe(self, event_type: str) -> None:
        self.call("subscribe_events", event_type=event_type)

    def next_event(self, timeout: float) -> dict | None:
        """The next event (kept or new), or None after `timeout` seconds without one."""
        if self.events:
            return self.events.pop(0)
        try:
            message = self._receive(timeout)
        except TimeoutError:
            return None
        return (message.get("event") or {}) if message.get("type") == "event" else None

    def close(self) -> None:
        self._stack.close()  # websockets closes a broken connection without raising


def fetch_home(connection: Connection) -> Home:
    """The home as Home Assistant's default agent sees it: floors, areas, and the entities exposed to Assist."""
    floors = _items(connection.call("config/floor_registry/list"))
    areas = _items(connection.call("config/area_registry/list"))
    devices = {d["id"]: d for d in _items(connection.call("config/device_registry/list")) if d.get("id")}
    registry = {e["entity_id"]: e for e in _items(connection.call("config/entity_registry/list")) if e.get("entity_id")}
    states = _items(connection.call("get_states"))
    exposed = _exposed(connection, registry)
    shown = [s for s in states if s.get("entity_id") and exposed(s["entity_id"])]
    registered = [s["entity_id"] for s in shown if s["entity_id"] in registry]
    extended = connection.call("config/entity_registry/get_entries", entity_ids=registered) if registered else {}  # aliases
    area_names = {a["area_id"]: a.get("name") for a in areas if a.get("area_id")}

    entities = []
    for state in shown:
        entity_id = state["entity_id"]
        entry = registry.get(entity_id) or {}
        name = (state.get("attributes") or {}).get("friendly_name") or entry.get("name") or entry.get("original_name")
        if not name:
            continue
        area = entry.get("area_id") or (devices.get(entry.get("device_id")) or {}).get("area_id")
        aliases = ((extended if isinstance(extended, dict) else {}).get(entity_id) or {}).get("aliases") or []
        entities.append(Named(name=name, id=entity_id, aliases=_names(aliases, name), area=area_names.get(area)))
    return Home(
        floors=[Named(name=f["name"], aliases=_names(f.get("aliases"), f["name"])) for f in floors if f.get("name")],
        areas=[Named(name=a["name"], aliases=_names(a.get("aliases"), a["name"])) for a in areas if a.get("name")],
        entities=sorted(entities, key=lambda e: e.id or e.name),
    )


def _items(result) -> list[dict]:
    """The objects of a list result (a newer or odder Home Assistant may send more; what is not an object is skipped)."""
    return [x for x in result if isinstance(x, dict)] if isinstance(result, list) else []


def _names(aliases, name: str) -> list[str]:
    """Aliases as given, without blanks, repeats or the name itself."""
    out: list[str] = []
    for alias in aliases or []:
        alias = str(alias).strip()
        if alias and alias.lower() != name.lower() and alias.lower() not in (a.lower() for a in out):
            out.append(alias)
    return out


def _exposed(connection: Connection, registry: dict[str, dict]) -> Callable[[str], bool]:
    """Whether an entity is exposed to Assist: Home Assistant's own settings (they need an admin's token), else
    what it exposes unless told otherwise: entities neither disabled, hidden nor configuration or diagnostics."""
    try:
        settings = (connection.call("homeassistant/expose_entity/list") or {}).get("exposed_entities") or {}
        return lambda entity_id: bool((settings.get(entity_id) or {}).get(EXPOSED_TO))
    except HomeAssistantError as e:
        log.warning("cannot read which entities are exposed to Assist (%s): taking every visible entity", e)

    def visible(entity_id: str) -> bool:
        entry = registry.get(entity_id) or {}
        return not (entry.get("disabled_by") or entry.get("hidden_by") or entry.get("entity_category"))

    return visible


def home_yaml(home: Home, source: str) -> str:
    """The home file's text: a header saying where it came from, then areas, floors and entities."""
    data = home.model_dump(exclude_none=True, exclude_defaults=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = f"# Written by `assistant ha sync` from {source} on {stamp}.\n# Edits here are replaced at the next sync: rename things in Home Assistant.\n"
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def owed(path: Path) -> Path:
    """The mark beside the home file that a retrain on its names is owed.

    `sync` sets it before it rewrites the file; whoever retrains clears it once that succeeded. Without it a
    retrain that failed (or a process stopped between the two) would never be tried again: the next sync
    finds the names unchanged."""
    path = Path(path)
    return path.with_name(f".{path.name}.retrain")


def sync(connection: Connection, path: Path, source: str) -> tuple[Home, bool]:
    """Write the home file at `path` from Home Assistant: the home, and whether its names changed (then a
    retrain is owed, which the `owed` mark beside the file remembers)."""
    home = fetch_home(connection)
    path = Path(path)
    if path.is_file():
        try:
            if load_home(path) == home:
                log.info("%s: the names of the home are unchanged", path)
                return home, False
        except AssistantError:
            pass  # an unreadable file is replaced
    path.parent.mkdir(parents=True, exist_ok=True)
    owed(path).touch()
    write_atomic(path, home_yaml(home, source))
    log.info("%s: %d areas, %d floors, %d entities", path, len(home.areas), len(home.floors), len(home.entities))
    return home, True


def watch(connect: Callable[[], Connection], path: Path, source: str, on_change: Callable[[], None] | None,
          settle: float = 5.0, stop: threading.Event | None = None, retry: float = 30.0) -> None:
    """Sync now and after every burst of registry changes (`settle` seconds after its last event), calling
    `on_change` (retrain; None: only keep the file) whenever the names changed, and again every `retry` seconds
    while it fails; reconnect after `retry` seconds when the connection breaks. Runs until `stop` is set."""
    stop = stop or threading.Event()
    next_try = 0.0

    def settle_debt() -> None:
        nonlocal next_try
        if on_change is None or not owed(path).exists() or time.monotonic() < next_try:
            return
        try:
            on_change()
        except Exception:  # noqa: BLE001 - a watcher outlives a failed training; the error is logged whole
            log.exception("retraining on the names in %s failed (the model in service is unchanged); trying again in %g s",
                          path, retry)
            next_try = time.monotonic() + retry
        else:
            owed(path).unlink(missing_ok=True)

    while not stop.is_set():
        connection = None
        try:
            connection = connect()
            for event_type in REGISTRY_EVENTS:
                connection.subscribe(event_type)
            sync(connection, path, source)
            settle_debt()
            changed_at = None
            while not stop.is_set():
                event = connection.next_event(0.5)
                if event is not None and event.get("event_type") in REGISTRY_EVENTS:
                    changed_at = time.monotonic()
                elif changed_at is not None and time.monotonic() - changed_at >= settle:
                    changed_at = None
                    sync(connection, path, source)
                settle_debt()
        except HomeAssistantError as e:
            log.warning("%s; trying again in %g s", e, retry)
            stop.wait(retry)
        finally:
            if connection is not None:
                connection.close()
