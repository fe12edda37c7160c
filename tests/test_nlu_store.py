"""The model store: versions side by side, one atomic `current` pointer, broken versions refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading

import pytest

from assistant.config import load_settings
from assistant.nlu import store
from assistant.nlu.errors import ModelLoadError
from assistant.nlu.store import ensure_model

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


@pytest.fixture
def models(tmp_path, tiny_model):
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copytree(tiny_model, folder / "v1")
    shutil.copytree(tiny_model, folder / "v2")
    shutil.copytree(tiny_model, folder / "broken")
    (folder / "broken" / "model.onnx").unlink()
    return folder


def test_point_and_read_the_pointer(models):
    assert store.current_version(models) is None
    store.point(models, "v1")
    assert store.current_version(models) == "v1" and os.readlink(models / "current") == "v1"
    store.point(models, "v2")
    assert store.current_version(models) == "v2"
    assert [p.name for p in models.iterdir() if p.name.startswith(".")] == []  # no temporary links left behind


def test_versions_are_listed_with_their_state(models):
    store.point(models, "v1")
    listed = {v.version: v for v in store.versions(models)}
    assert set(listed) == {"v1", "v2", "broken"}
    assert listed["v1"].current and listed["v1"].valid and listed["v1"].dev["intent_acc"] > 90
    assert not listed["broken"].valid and "missing model.onnx" in listed["broken"].error


@pytest.mark.parametrize("name", ["../v1", "current", ".hidden", "a/b", ""])
def test_names_that_are_not_versions_are_refused(models, name):
    with pytest.raises(ModelLoadError):
        store.folder_of(models, name)


def test_a_broken_version_is_not_activated(models):
    store.point(models, "v1")
    with pytest.raises(ModelLoadError, match="missing model.onnx"):
        store.activate(models, "broken")
    assert store.current_version(models) == "v1"
    store.activate(models, "v2")
    assert store.current_version(models) == "v2"


def test_first_use_adopts_the_newest_valid_version(models, tmp_path):
    (tmp_path / "config.toml").write_text(f'[nlu]\nmodels = "{models}"\n')
    settings = load_settings(str(tmp_path / "config.toml"))
    metadata = json.loads((models / "v2" / "metadata.json").read_text())
    metadata["created"] = "2099-01-01T00:00:00Z"
    (models / "v2" / "metadata.json").write_text(json.dumps(metadata))
    assert ensure_model(settings).resolve() == (models / "v2").resolve()
    assert store.current_version(models) == "v2"


def test_train_adds_a_version_and_makes_it_current(tmp_path, tiny_domain, models):
    store.point(models, "v1")
    env = dict(os.environ, PYTHONPATH=str(ROOT), ASSISTANT_NLU_MODELS=str(models))
    out = subprocess.run([sys.executable, "-m", "assistant", "train", str(tiny_domain), "--epochs", "6"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["gate"]["activate"] and report["gate"]["served"]["version"] == "v1", report["gate"]  # as good as v1: it serves
    assert report["current"] and store.current_version(models) == report["version"]
    assert (models / report["version"] / "model.onnx").is_file() and (models / "v1" / "model.onnx").is_file()


def test_version_names_are_reserved_atomically(tmp_path):
    """Finding 10: two trainings started in the same second were given the same version; one model was lost."""
    names, barrier = [], threading.Barrier(8)

    def take() -> None:
        barrier.wait()
        names.append(store.new_version(tmp_path))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(names)) == 8
    for name in names:
        store.release(tmp_path, name)
    assert not list(tmp_path.iterdir())


def test_parser_with_no_folder_loads_the_configured_current_version_from_any_directory(models, tmp_path):
    """`Parser()` reads the config the commands read (here the user's, from another directory) and loads its current version."""
    store.point(models, "v2")
    (tmp_path / "xdg" / "assistant").mkdir(parents=True)
    (tmp_path / "xdg" / "assistant" / "config.toml").write_text(f'[nlu]\nmodels = "{models}"\n')
    (tmp_path / "elsewhere").mkdir()
    code = "from assistant import Parser; p = Parser(); print(p.version, p.parse('turn off the kitchen lights').intent.name)"
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    env.pop("ASSISTANT_CONFIG", None)
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path / "elsewhere", env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["v2", "LightsOff"]
    (tmp_path / "xdg" / "assistant" / "config.toml").write_text(f'[nlu]\nmodels = "{tmp_path / "empty"}"\n')
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path / "elsewhere", env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "ModelLoadError: no model at" in out.stderr and "assistant train" in out.stderr
