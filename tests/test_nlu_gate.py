"""The gate before service: a new version serves only when it is not worse than the one it replaces."""

from __future__ import annotations

import shutil

import pytest

from assistant.config import TrainConfig
from assistant.nlu import store
from assistant.server.schemas import TrainRequest

UNTRAINED = dict(epochs=1, min_steps=0, max_per_intent=20, lr=1e-9, head_lr=1e-9, crf_lr=1e-9, slips=0.0)
"""A recipe that leaves the heads as they were initialised: a model as bad as a cut-short training makes."""


@pytest.fixture
def served(tmp_path, tiny_model):
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copytree(tiny_model, folder / "v1")
    store.point(folder, "v1")
    return folder


def test_a_version_worse_than_the_served_one_stays_inactive(served, tiny_domain):
    version, trained, decision = store.train_version(served, tiny_domain, config=TrainConfig(**UNTRAINED))
    assert store.current_version(served) == "v1" and (served / version / "model.onnx").is_file()
    assert not decision.activate and decision.served.version == "v1" and decision.new.version == version
    assert decision.new.intent_acc < decision.served.intent_acc and decision.sentences == len(trained.dev) > 0
    assert decision.reason.startswith("kept inactive: worse than v1 in service on the same")


def test_forced_activation_serves_it_knowingly(served, tiny_domain):
    version, _, decision = store.train_version(served, tiny_domain, config=TrainConfig(**UNTRAINED), make_current="force")
    assert store.current_version(served) == version and decision.forced and not decision.activate


def test_a_version_as_good_as_the_served_one_is_activated(served, tiny_domain):
    version, _, decision = store.train_version(served, tiny_domain, config=TrainConfig(epochs=6, min_steps=0, max_per_intent=100, patience=6))
    assert decision.activate and decision.served.version == "v1", decision.reason
    assert store.current_version(served) == version


def test_with_nothing_comparable_in_service_the_floors_apply(tmp_path, tiny_domain):
    models = tmp_path / "models"
    version, _, decision = store.train_version(models, tiny_domain, config=TrainConfig(**UNTRAINED, gate_intent=90))
    assert store.current_version(models) is None and not decision.activate and decision.served is None
    assert "dev intent accuracy" in decision.reason and "< 90" in decision.reason


def test_a_training_request_may_force_activation():
    assert TrainRequest.model_validate({"files": {"a.yaml": ""}, "activate": "force"}).activate == "force"
    with pytest.raises(ValueError):
        TrainRequest.model_validate({"files": {"a.yaml": ""}, "activate": "yes"})


def test_a_time_budget_that_cuts_training_short_says_so(tmp_path, tiny_domain):
    from assistant.nlu.train import train

    trained = train(tiny_domain, tmp_path / "m", config=TrainConfig(epochs=50, min_steps=0, max_per_intent=100, patience=50,
                                                                    max_minutes=0.05))
    meta = trained.metadata
    assert meta.steps_run < meta.steps_planned and "time budget" in meta.cut_short
    untimed = train(tiny_domain, tmp_path / "n", config=TrainConfig(epochs=2, min_steps=0, max_per_intent=30, max_minutes=0))
    assert untimed.metadata.steps_run == untimed.metadata.steps_planned and untimed.metadata.cut_short is None
