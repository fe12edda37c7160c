"""`assistant ha sync`: the names of a Home Assistant home, read over its WebSocket API, become the home file
the model trains on; a change Home Assistant announces is synced again, and the model retrained.

Home Assistant itself cannot run here (it needs a newer Python and a network to install), so a WebSocket
server on 127.0.0.1 answers as its API does: the auth handshake, the registry commands with the fields
Home Assistant's `config/*_registry` handlers return, `get_states`, the expose settings, and events of
subscriptions pushed between results.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assistant.daemon.ha_sync import (
    Connection,
    HomeAssistantError,
    owed,
    sync,
    watch,
    websocket_url,
)
from assistant.intents.homeassistant import load_home

TOKEN = "long-lived-token-for-the-test"
HOME = {
    "floors": [{"floor_id": "ground_floor", "name": "Ground Floor", "aliases": ["downstairs"], "level": 0, "icon": None,
                "created_at": 0.0, "modified_at": 0.0}],
    "areas": [{"area_id": "living_room", "name": "Living Room", "aliases": ["lounge"], "floor_id": "ground_floor", "icon": None,
               "labels": [], "picture": None, "humidity_entity_id": None, "temperature_entity_id": None, "created_at": 0.0, "modified_at": 0.0},
              {"area_id": "kitchen", "name": "Kitchen", "aliases": [], "floor_id": "ground_floor", "icon": None, "labels": [],
               "picture": None, "humidity_entity_id": None, "temperature_entity_id": None, "created_at": 0.0, "modified_at": 0.0}],
    "devices": [{"id": "d1", "area_id": "kitchen", "name": "Hue white lamp", "name_by_user": None, "disabled_by": None}],
    "entities": [
        {"entity_id": "light.reading_lamp", "area_id": "living_room", "device_id": None, "name": None, "original_name": "Reading Lamp",
         "disabled_by": None, "hidden_by": None, "entity_category": None, "platform": "hue", "has_entity_name": False},
        {"entity_id": "light.kitchen_ceiling", "area_id": None, "device_id": "d1", "name": None, "original_name": None,
         "disabled_by": None, "hidden_by": None, "entity_category": None, "platform": "hue", "has_entity_name": True},
        {"entity_id": "fan.ceiling", "area_id": "living_room", "device_id": None, "name": None, "original_name": "Ceiling Fan",
         "disabled_by": None, "hidden_by": None, "entity_category": None, "platform": "tuya", "has_entity_name": False},
        {"entity_id": "button.router_restart", "area_id": None, "device_id": None, "name": None, "original_name": "Router Restart",
         "disabled_by": None, "hidden_by": None, "entity_category": "config", "platform": "fritz", "has_entity_name": False},
    ],
    "aliases": {"light.reading_lamp": ["the big lamp"], "light.kitchen_ceiling": [], "fan.ceiling": [], "button.router_restart": []},
    "states": [
        {"entity_id": "light.reading_lamp", "state": "off", "attributes": {"friendly_name": "Reading Lamp"}},
        {"entity_id": "light.kitchen_ceiling", "state": "on", "attributes": {"friendly_name": "Kitchen Ceiling Light"}},
        {"entity_id": "fan.ceiling", "state": "off", "attributes": {"friendly_name": "Ceiling Fan"}},
        {"entity_id": "button.router_restart", "state": "unknown", "attributes": {"friendly_name": "Router Restart"}},
        {"entity_id": "sensor.outside_temperature", "state": "12.5", "attributes": {"friendly_name": "Outside Temperature"}},
    ],
    "exposed": {"light.reading_lamp": {"conversation": True}, "light.kitchen_ceiling": {"conversation": True, "cloud.alexa": False},
                "fan.ceiling": {"conversation": False}, "button.router_restart": {"conversation": False},
                "sensor.outside_temperature": {"conversation": True}},
}


class HomeAssistantAPI:
    """Home Assistant's WebSocket API on 127.0.0.1, over its registries in `home` (change them, then `announce`)."""

    def __init__(self, admin: bool = True):
        from websockets.sync.server import serve

        self.home = copy.deepcopy(HOME)
        self.admin = admin
        self.commands: list[str] = []
        self._subscribers: list[tuple] = []
        self._lock = threading.Lock()
        self._server = serve(self._session, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.socket.getsockname()[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _session(self, ws) -> None:
        ws.send(json.dumps({"type": "auth_required", "ha_version": "2026.11.0"}))
        auth = json.loads(ws.recv(timeout=10))
        if auth.get("type") != "auth" or auth.get("access_token") != TOKEN:
            ws.send(json.dumps({"type": "auth_invalid", "message": "Invalid access token or password"}))
            return
        ws.send(json.dumps({"type": "auth_ok", "ha_version": "2026.11.0"}))
        for text in ws:
            message = json.loads(text)
            self.commands.append(message["type"])
            with self._lock:
                ws.send(json.dumps(self._answer(ws, message)))

    def _answer(self, ws, message: dict) -> dict:
        kind, ident, home = message["type"], message["id"], self.home
        results = {
            "config/floor_registry/list": lambda: home["floors"],
            "config/area_registry/list": lambda: home["areas"],
            "config/device_registry/list": lambda: home["devices"],
            "config/entity_registry/list": lambda: home["entities"],
            "config/entity_registry/get_entries": lambda: {
                e: next(({**x, "aliases": home["aliases"].get(e, [])} for x in home["entities"] if x["entity_id"] == e), None)
                for e in message["entity_ids"]},
            "get_states": lambda: home["states"],
        }
        if kind == "subscribe_events":
            self._subscribers.append((ws, ident, message["event_type"]))
            return {"id": ident, "type": "result", "success": True, "result": None}
        if kind == "homeassistant/expose_entity/list":
            if not self.admin:
                return {"id": ident, "type": "result", "success": False, "error": {"code": "unauthorized", "message": "Unauthorized"}}
            return {"id": ident, "type": "result", "success": True, "result": {"exposed_entities": home["exposed"]}}
        if kind not in results:
            return {"id": ident, "type": "result", "success": False, "error": {"code": "unknown_command", "message": "Unknown command."}}
        return {"id": ident, "type": "result", "success": True, "result": results[kind]()}

    def announce(self, event_type: str, data: dict) -> None:
        """Push the event to every subscription of its type, as Home Assistant does after a registry change."""
        for ws, ident, wanted in list(self._subscribers):
            if wanted == event_type:
                with self._lock:
                    ws.send(json.dumps({"id": ident, "type": "event", "event": {"event_type": event_type, "data": data,
                                                                                 "origin": "LOCAL", "time_fired": "2026-12-06T00:00:00+00:00"}}))

    def close(self) -> None:
        self._server.shutdown()


@pytest.fixture
def ha():
    api = HomeAssistantAPI()
    yield api
    api.close()


def run_sync(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant", "ha", "sync", *args], check=False, capture_output=True, text=True, timeout=timeout,
                          env=os.environ | {"HF_HUB_OFFLINE": "1"} | (env or {}))


def test_the_home_file_holds_what_home_assistant_exposes_to_assist(ha, tmp_path):
    """Floors and areas with their aliases; the entities exposed to Assist under their friendly names, with
    aliases and area (the device's when the entity has none); nothing that is not exposed. A second sync of
    the same names leaves the file as it was and says so."""
    home_file = tmp_path / "home.yaml"
    done = run_sync("--home", str(home_file), "--url", ha.url, env={"ASSISTANT_HA_TOKEN": TOKEN})
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary | {"trained": None} == {"home": str(home_file), "changed": True, "areas": 2, "floors": 1, "entities": 3, "trained": None}

    home = load_home(home_file)
    assert [(a.name, a.aliases) for a in home.areas] == [("Living Room", ["lounge"]), ("Kitchen", [])]
    assert [(f.name, f.aliases) for f in home.floors] == [("Ground Floor", ["downstairs"])]
    assert [(e.id, e.name, e.aliases, e.area) for e in home.entities] == [
        ("light.kitchen_ceiling", "Kitchen Ceiling Light", [], "Kitchen"),
        ("light.reading_lamp", "Reading Lamp", ["the big lamp"], "Living Room"),
        ("sensor.outside_temperature", "Outside Temperature", [], None)]
    assert home_file.read_text().startswith("# Written by `assistant ha sync` from " + ha.url)
    assert owed(home_file).exists()  # not retrained yet: the next `ha sync --retrain` trains even though nothing changes

    before = home_file.read_bytes()
    again = run_sync("--home", str(home_file), "--url", ha.url, env={"ASSISTANT_HA_TOKEN": TOKEN})
    assert again.returncode == 0 and json.loads(again.stdout)["changed"] is False
    assert home_file.read_bytes() == before


def test_the_synced_names_are_what_the_grammar_understands(ha, tmp_path):
    """An alias set in Home Assistant is a synonym of its entity: "turn on the big lamp" is HassTurnOn with
    name Reading Lamp; "lounge" is the Living Room area."""
    from assistant.intents.homeassistant import ha_domain
    from assistant.intents.match import Grammar, most_specific

    connection = Connection(ha.url, TOKEN)
    try:
        assert sync(connection, tmp_path / "home.yaml", ha.url)[1]
    finally:
        connection.close()
    grammar = Grammar(ha_domain("en", load_home(tmp_path / "home.yaml")))

    def meanings(text: str) -> set:  # an intent's data blocks compile apart (`HassTurnOn#12`): the same meaning
        return {(m.intent.split("#")[0], tuple((b.slot, b.value) for b in m.bindings)) for m in most_specific(grammar.match(text))}

    assert meanings("turn on the big lamp") == {("HassTurnOn", (("name", "Reading Lamp"),))}
    assert meanings("turn off the lights in the lounge") == {("HassTurnOff", (("area", "Living Room"),))}


def test_without_an_admin_token_every_visible_entity_is_named(tmp_path):
    """A user's token may not read the expose settings: then every entity neither hidden, disabled nor a
    configuration entity is named, as Home Assistant exposes by default; the sync still succeeds."""
    api = HomeAssistantAPI(admin=False)
    try:
        connection = Connection(api.url, TOKEN)
        sync(connection, tmp_path / "home.yaml", api.url)
        connection.close()
    finally:
        api.close()
    ids = [e.id for e in load_home(tmp_path / "home.yaml").entities]
    assert ids == ["fan.ceiling", "light.kitchen_ceiling", "light.reading_lamp", "sensor.outside_temperature"]


def test_a_refused_token_or_no_home_assistant_is_a_clear_error_and_writes_nothing(ha, tmp_path):
    home_file = tmp_path / "home.yaml"
    refused = run_sync("--home", str(home_file), "--url", ha.url, env={"ASSISTANT_HA_TOKEN": "wrong"})
    assert refused.returncode == 2 and "refused the access token" in refused.stderr and "Traceback" not in refused.stderr
    nobody = run_sync("--home", str(home_file), "--url", "http://127.0.0.1:9", env={"ASSISTANT_HA_TOKEN": TOKEN})
    assert nobody.returncode == 2 and "cannot connect" in nobody.stderr
    no_token = run_sync("--home", str(home_file), "--url", ha.url, env={"ASSISTANT_HA_TOKEN": ""})
    assert no_token.returncode == 2 and "access token" in no_token.stderr
    assert not home_file.exists()
    with pytest.raises(HomeAssistantError, match="not a Home Assistant URL"):
        websocket_url("ftp://somewhere")
    assert websocket_url("homeassistant.local:8123") == "ws://homeassistant.local:8123/api/websocket"
    assert websocket_url("https://ha.example.org/") == "wss://ha.example.org/api/websocket"


def test_watching_syncs_again_after_home_assistant_announces_a_change(ha, tmp_path):
    """Renaming things in Home Assistant (a burst of registry events) gives one new home file a moment
    after the burst, and one call to retrain; events that change no name retrain nothing."""
    home_file, changes, stop = tmp_path / "home.yaml", [], threading.Event()
    thread = threading.Thread(target=watch, args=(lambda: Connection(ha.url, TOKEN), home_file, ha.url, lambda: changes.append(time.monotonic())),
                              kwargs={"settle": 0.3, "stop": stop, "retry": 0.2}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while len(changes) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(changes) == 1 and home_file.is_file()
    while ha.commands.count("subscribe_events") < 4 and time.monotonic() < deadline:
        time.sleep(0.05)

    ha.home["areas"][1]["aliases"] = ["cookhouse"]
    ha.home["aliases"]["light.kitchen_ceiling"] = ["the ceiling light"]
    ha.announce("area_registry_updated", {"action": "update", "area_id": "kitchen"})
    ha.announce("entity_registry_updated", {"action": "update", "entity_id": "light.kitchen_ceiling"})
    while len(changes) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(changes) == 2
    home = load_home(home_file)
    assert home.areas[1].aliases == ["cookhouse"] and home.entities[0].aliases == ["the ceiling light"]

    ha.announce("device_registry_updated", {"action": "update", "device_id": "d1"})  # nothing named changed
    time.sleep(1.5)
    stop.set()
    thread.join(5)
    assert not thread.is_alive() and len(changes) == 2


def test_a_failed_retrain_is_owed_and_tried_again_while_the_watcher_lives_on(ha, tmp_path):
    """A retrain that fails (a full disk, a bad intent file beside the home) leaves the model in service and
    the watcher running; the mark beside the home file keeps the retrain owed, so it is tried again after
    `retry` seconds, and once it succeeds the mark is gone."""
    home_file, calls, stop = tmp_path / "home.yaml", [], threading.Event()

    def flaky_retrain():
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise OSError(28, "No space left on device")

    thread = threading.Thread(target=watch, args=(lambda: Connection(ha.url, TOKEN), home_file, ha.url, flaky_retrain),
                              kwargs={"settle": 0.3, "stop": stop, "retry": 0.5}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(calls) == 2 and calls[1] - calls[0] >= 0.5
    while owed(home_file).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not owed(home_file).exists() and thread.is_alive()
    time.sleep(1.0)
    stop.set()
    thread.join(5)
    assert not thread.is_alive() and len(calls) == 2  # paid once: no retrain without a new change


def test_retrain_trains_a_new_current_version_that_knows_the_new_name(ha, tmp_path):
    """`ha sync --retrain --ha en`: the names changed, so a model is trained on Home Assistant's intents with
    the new home file and made current; it understands a sentence with the new alias exactly."""
    from assistant.nlu import store
    from assistant.nlu.runtime import Parser

    ha.home["aliases"]["light.reading_lamp"] = ["the big lamp", "the sofa light"]
    models, home_file = tmp_path / "models", tmp_path / "home.yaml"
    done = run_sync("--home", str(home_file), "--url", ha.url, "--ha", "en", "--retrain",
                    env={"ASSISTANT_HA_TOKEN": TOKEN, "ASSISTANT_NLU_MODELS": str(models), "ASSISTANT_TRAIN_EPOCHS": "1", "ASSISTANT_TRAIN_MIN_STEPS": "0",
                         "ASSISTANT_TRAIN_MAX_PER_INTENT": "12", "ASSISTANT_TRAIN_SLIPS": "0", "ASSISTANT_TRAIN_MAX_MINUTES": "0",
                         # a one-epoch model of a first domain: the gate's floors are set to let it serve (the gate has its own tests)
                         "ASSISTANT_TRAIN_GATE_INTENT": "0", "ASSISTANT_TRAIN_GATE_SLOT_F1": "0"})
    assert done.returncode == 0, done.stderr
    trained = json.loads(done.stdout)["trained"]
    assert trained["current"] and Path(trained["model"]) == store.current_folder(models)
    assert not owed(home_file).exists()
    result = Parser(Path(trained["model"])).parse("turn off the sofa light")
    assert (result.intent.name, result.source) == ("HassTurnOff", "grammar")
    assert [(e.slot, e.value) for e in result.entities if e.slot == "name"] == [("name", "Reading Lamp")]
