"""The web console (`/`, `assistant/server/static/index.html`) in a real browser.

Headless Debian Chromium, driven by Playwright, against `assistant serve` on
127.0.0.1 with the tiny model. What a person sees is specified here: a typed
command comes back with its intent, its slots highlighted in the sentence (in
colours that really reach the screen), the ranking and the scope; a server that
needs a token asks for one and works once it is given; and the hold-to-speak
button records the microphone and understands what was said.

The module is skipped when Chromium (/usr/bin/chromium) or Playwright is missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("flask")
pytest.importorskip("gunicorn")

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")
np = pytest.importorskip("numpy")
Image = pytest.importorskip("PIL.Image")

from speech_fixtures import speak  # noqa: E402
from test_server import start_server, stop  # noqa: E402

from assistant.nlu import store as model_store  # noqa: E402

TOKEN = "console-token-0123456789abcdef"
NO_SPEECH = {"ASSISTANT_SERVER_SPEECH": "false"}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--autoplay-policy=no-user-gesture-required"]
WAIT_MS = 30_000


# Fixtures: one store, one server per kind, one browser for the whole module.
@pytest.fixture(scope="module")
def store(tmp_path_factory, tiny_model) -> Path:
    folder = tmp_path_factory.mktemp("console-store")
    shutil.copytree(tiny_model, folder / "tiny")
    model_store.point(folder, "tiny")
    return folder


@pytest.fixture(scope="module")
def open_server(store):
    """No token (loopback without tokens is open), no speech."""
    process, url, lines = start_server(store, env=NO_SPEECH)
    yield url
    stop(process, lines)


@pytest.fixture(scope="module")
def token_server(store):
    """The same, but every request needs the bearer token."""
    process, url, lines = start_server(store, env=NO_SPEECH | {"ASSISTANT_SERVER_TOKENS": TOKEN})
    yield url
    stop(process, lines)
    assert TOKEN not in "".join(lines), "a token was logged"


@pytest.fixture(scope="module")
def speech_server(store):
    """No token, speech on (pocketsphinx, biased to the tiny domain)."""
    process, url, lines = start_server(store)  # start_server picks ASSISTANT_SPEECH_ENGINE=pocketsphinx
    yield url
    stop(process, lines)


@pytest.fixture(scope="module")
def microphone_wav(tmp_path_factory) -> Path | None:
    """What the fake microphone hears: espeak-ng saying "turn off the kitchen lights", 48 kHz 16-bit mono.

    Padded with silence (0.3 s before, 4 s after) so that a hold of a few
    seconds hears the command once: Chromium loops the file. None without
    espeak-ng or sox (the speech test then skips).
    """
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        return None
    folder = tmp_path_factory.mktemp("console-mic")
    spoken = speak("turn off the kitchen lights", folder / "spoken.wav")
    out = folder / "microphone.wav"
    subprocess.run(["sox", str(spoken), "-r", "48000", "-c", "1", "-b", "16", str(out), "pad", "0.3", "4"],
                   check=True, capture_output=True, timeout=60)
    return out


@pytest.fixture(scope="module")
def browser(microphone_wav):
    """Headless Chromium; its microphone is the fake device playing `microphone_wav`, permission granted."""
    args = list(CHROMIUM_ARGS)
    if microphone_wav is not None:
        args += ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 f"--use-file-for-fake-audio-capture={microphone_wav}"]
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        yield chromium
        chromium.close()


@pytest.fixture
def open_console(browser):
    """open_console(url) -> a fresh page (own context: empty localStorage) showing the console."""
    contexts = []

    def open_(url: str):
        context = browser.new_context(viewport={"width": 1000, "height": 800}, device_scale_factor=1)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(url + "/")
        page.wait_for_function("document.getElementById('model').textContent !== '…'")  # /ready answered
        return page

    yield open_
    for context in contexts:
        context.close()


def ask(page, text: str) -> None:
    """Type a command and press Enter."""
    page.fill("#text", text)
    page.press("#text", "Enter")


def wait_for_intent(page) -> str:
    page.wait_for_function("document.getElementById('intent').textContent.length > 0")
    return page.text_content("#intent")


def marks(page) -> list[tuple[str, str]]:
    """(data-slot, text) of every highlighted slot in the sentence."""
    found = page.eval_on_selector_all("#utterance mark", "ms => ms.map(m => [m.dataset.slot, m.textContent])")
    return [tuple(m) for m in found]


def rgb(css: str) -> tuple[int, int, int]:
    r, g, b = (int(x) for x in re.findall(r"\d+", css)[:3])
    return r, g, b


# Typed commands.
def test_a_typed_command_shows_intent_slots_ranking_and_scope(open_server, open_console):
    """Typing "turn on the kitchen lights" + Enter shows LightsOn, in scope, top of the ranking,
    with the sentence written back in full and "kitchen" marked as the room slot; the entity table lists it.
    """
    page = open_console(open_server)
    assert "hidden" in page.get_attribute("#result", "class")
    assert page.text_content("#model") == "model tiny"
    ask(page, "turn on the kitchen lights")

    assert wait_for_intent(page) == "LightsOn"
    assert "hidden" not in page.get_attribute("#result", "class")
    assert page.text_content("#utterance") == "turn on the kitchen lights"
    assert marks(page) == [("room", "kitchen")]
    assert page.text_content("#scope") == "in scope"
    assert re.fullmatch(r"\d+\.\d%", page.text_content("#confidence"))
    assert page.text_content("#ranking tbody tr:first-child td:first-child") == "LightsOn"
    assert page.eval_on_selector_all("#entities tbody tr", "rs => rs.map(r => [...r.cells].slice(0, 3).map(c => c.textContent))") \
        == [["room", "kitchen", '"kitchen"']]
    assert page.text_content("#error") == ""


def test_the_slot_highlight_is_visible_on_screen(open_server, open_console, tmp_path):
    """The mark around a slot has a coloured background, and that colour is what the screen shows
    inside the mark's box (checked on a screenshot's pixels); the page is not blank.
    """
    page = open_console(open_server)
    ask(page, "switch on the bedroom lights")
    assert wait_for_intent(page) == "LightsOn"
    mark = page.locator("#utterance mark")
    assert mark.count() == 1 and mark.text_content() == "bedroom"

    colour = rgb(page.eval_on_selector("#utterance mark", "m => getComputedStyle(m).backgroundColor"))
    page_colour = rgb(page.eval_on_selector("body", "b => getComputedStyle(b).backgroundColor"))
    assert colour != (255, 255, 255) and colour != page_colour and len(set(colour)) > 1, f"{colour} is no highlight"

    shot = tmp_path / "console.png"
    page.screenshot(path=str(shot))
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 8, "the screenshot is blank"

    box = mark.bounding_box()
    assert box and box["width"] > 10 and box["height"] > 10
    inside = pixels[int(box["y"]):int(box["y"] + box["height"]), int(box["x"]):int(box["x"] + box["width"])]
    near = (np.abs(inside - np.array(colour)).max(axis=2) <= 3).mean()
    assert near > 0.3, f"only {near:.0%} of the mark's box shows its colour {colour}"


def test_an_out_of_scope_sentence_is_said_so_without_marks(open_server, open_console):
    """The sentence "what is the capital of peru" is shown as out of scope, with no slot marked."""
    page = open_console(open_server)
    ask(page, "what is the capital of peru")
    wait_for_intent(page)
    assert page.text_content("#scope") == "out of scope"
    assert "out" in page.get_attribute("#scope", "class").split()
    assert marks(page) == []
    assert page.text_content("#utterance") == "what is the capital of peru"
    assert page.locator("#entities").is_hidden()


# A server that needs a token.
def test_a_token_server_asks_for_the_token_then_works(token_server, open_console):
    """Without a token the command fails with an error and the token field appears; once the token
    is saved there, the same command is understood (and the token is remembered across reloads).
    """
    page = open_console(token_server)
    assert page.locator("#token-row").is_hidden()
    ask(page, "turn on the kitchen lights")
    page.wait_for_selector("#token-row", state="visible")
    page.wait_for_function("document.getElementById('error').textContent.length > 0")
    assert page.text_content("#intent") == ""
    assert "hidden" in page.get_attribute("#result", "class")

    page.fill("#token", TOKEN)
    page.press("#token", "Enter")
    page.wait_for_selector("#token-row", state="hidden")
    page.click("#send")
    assert wait_for_intent(page) == "LightsOn"
    assert marks(page) == [("room", "kitchen")]
    assert page.text_content("#error") == ""

    page.reload()
    page.wait_for_function("document.getElementById('model').textContent !== '…'")
    ask(page, "lights off in the bedroom")
    assert wait_for_intent(page) == "LightsOff"
    assert page.locator("#token-row").is_hidden()


# Speech.
def test_hold_to_speak_understands_the_microphone(speech_server, open_console, microphone_wav):
    """Holding "Hold to speak" records the microphone (it turns to "Listening…"); releasing it sends the
    recording, and what was said, "turn off the kitchen lights", comes back heard and understood.
    """
    if microphone_wav is None:
        pytest.skip("espeak-ng or sox is not installed")
    page = open_console(speech_server)
    talk = page.locator("#talk")
    talk.hover()
    page.mouse.down()
    page.wait_for_selector("#talk.listening")
    assert talk.text_content().startswith("Listening")
    page.wait_for_timeout(3500)
    page.mouse.up()
    page.wait_for_selector("#talk:not(.listening)")

    assert wait_for_intent(page) == "LightsOff", page.text_content("#error")
    assert page.text_content("#transcript").startswith("heard: “turn off the kitchen lights”")
    assert marks(page) == [("room", "kitchen")]
