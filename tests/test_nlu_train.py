"""Training: intent files and JointBERT folders through one trainer, to a model folder that is replaced only when complete."""

from __future__ import annotations

import json

import pytest

from assistant.intents.errors import IntentFileError
from assistant.nlu import bundle
from assistant.nlu.evaluate import evaluate
from assistant.nlu.train import TrainConfig, train


def write_jointbert(folder, rows_by_split):
    for split, rows in rows_by_split.items():
        d = folder / split
        d.mkdir(parents=True)
        (d / "seq.in").write_text("".join(r[0] + "\n" for r in rows))
        (d / "seq.out").write_text("".join(r[1] + "\n" for r in rows))
        (d / "label").write_text("".join(r[2] + "\n" for r in rows))


CITIES = ["paris", "london", "new york", "tokyo", "berlin", "rome", "madrid", "boston", "denver", "oslo"]


def rows(n_offset: int):
    out = []
    for i, city in enumerate(CITIES):
        words = city.split()
        tags = ["B-city"] + ["I-city"] * (len(words) - 1)
        out.append((f"weather in {city} today", " ".join(["O", "O"] + tags + ["B-date"]), "GetWeather"))
        out.append((f"book a flight to {city}", " ".join(["O", "O", "O", "O"] + tags), "BookFlight"))
    return out[n_offset:] + out[:n_offset]


def test_trains_from_a_jointbert_folder_and_scores_its_test_split(tmp_path):
    data = tmp_path / "toy"
    write_jointbert(data, {"train": rows(0) * 3, "dev": rows(3)[:6], "test": rows(5)[:8]})
    trained = train(data, tmp_path / "model", config=TrainConfig(epochs=4, min_steps=0, patience=4))
    test = trained.metadata.metrics["test"]
    assert test["n"] == 8
    assert trained.metadata.metrics["test_no_reject"]["intent_acc"] == 100.0  # rejection is calibrated on 6 dev sentences here
    report = tmp_path / "report"
    metrics = evaluate(trained.folder, __import__("assistant.intents", fromlist=["load_jointbert"]).load_jointbert(data, "test"), report)
    assert (metrics.intent_acc, metrics.sentence_acc) == (test["intent_acc"], test["sentence_acc"])  # the trainer's own figures
    assert json.loads((report / "metrics.json").read_text())["n"] == 8
    assert (report / "confusion.png").stat().st_size > 1000


def test_a_small_training_set_trains_more_epochs_until_it_has_taken_its_steps(tmp_path):
    """Sixty examples make two batches an epoch, and a few epochs of them leave a model untrained: the recipe's
    `min_steps` raises the epochs until the model has taken that many optimiser steps."""
    data = tmp_path / "toy"
    write_jointbert(data, {"train": rows(0) * 3, "dev": rows(3)[:6]})
    trained = train(data, tmp_path / "model", config=TrainConfig(epochs=1, min_steps=12, patience=50))
    assert trained.metadata.epochs_run == 6


def test_a_failed_retrain_leaves_the_model_in_service_untouched(tiny_model, tmp_path):
    import shutil

    served = tmp_path / "served"
    shutil.copytree(tiny_model, served)
    before = {p.relative_to(served): p.read_bytes() for p in served.rglob("*") if p.is_file()}
    broken = tmp_path / "broken-intents"
    broken.mkdir()
    (broken / "bad.yaml").write_text("intents:\n  LightsOn:\n    sentences:\n      - turn on {room\n")
    with pytest.raises(IntentFileError):
        train(broken, served, config=TrainConfig(epochs=1))
    assert {p.relative_to(served): p.read_bytes() for p in served.rglob("*") if p.is_file()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".served")]


def test_metadata_records_what_the_model_was_trained_on(tiny_model, tiny_domain):
    metadata = bundle.Metadata.model_validate_json((tiny_model / bundle.METADATA).read_text())
    assert metadata.data_source == str(tiny_domain)
    assert len(metadata.data_hash) == 64
    assert metadata.n_train > 100 and metadata.n_dev > 0
    assert metadata.crf is True
    assert 1 <= metadata.best_epoch <= metadata.epochs_run
    assert metadata.sizes_mb[bundle.ONNX_INT8] <= 30


def test_layer_decay_slows_the_lower_encoder_layers_and_leaves_the_heads_alone():
    """`layer_decay` 0.5: the top layer learns at `lr`, each one below at half the rate of the one above, the
    embeddings lowest; the heads and the CRF keep their own rates, and every parameter is trained once."""
    from assistant.nlu.model import JointBert, ModelConfig
    from assistant.nlu.train import Plan, check_encoder, optimiser

    model = JointBert(ModelConfig(encoder=str(check_encoder(None)), intents=["a", "b"], tags=["O", "B-x", "I-x"]))
    optimizer, _ = optimiser(model, TrainConfig(lr=1e-4, layer_decay=0.5), Plan(100))
    rate = {id(p): group["initial_lr"] for group in optimizer.param_groups for p in group["params"]}
    assert sorted(map(id, model.parameters())) == sorted(rate)
    encoder = model.encoder
    layers = encoder.config.num_hidden_layers
    assert rate[id(encoder.encoder.layer[-1].output.dense.weight)] == pytest.approx(1e-4)
    assert rate[id(encoder.encoder.layer[0].output.dense.weight)] == pytest.approx(1e-4 * 0.5 ** (layers - 1))
    assert rate[id(encoder.embeddings.word_embeddings.weight)] == pytest.approx(1e-4 * 0.5 ** layers)
    assert rate[id(model.slot_head.weight)] == pytest.approx(1e-3) and rate[id(model.crf.transitions)] == pytest.approx(1e-2)


def test_r_drop_pulls_two_dropout_passes_together():
    """With `rdrop` the batch goes through twice: without dropout the two passes agree and the loss is the plain
    one; with dropout they differ, and the weighted disagreement is added to it."""
    import torch

    from assistant.intents.example import Example
    from assistant.nlu.features import load_tokenizer
    from assistant.nlu.model import JointBert, ModelConfig
    from assistant.nlu.train import check_encoder, to_tensors

    encoder = check_encoder(None)
    tags = ["O", "B-room", "I-room"]
    model = JointBert(ModelConfig(encoder=str(encoder), intents=["LightsOn", "LightsOff"], tags=tags))
    examples = [Example("turn on the living room lights".split(), ["O", "O", "O", "B-room", "I-room", "O"], "LightsOn"),
                Example("kitchen lights off".split(), ["B-room", "O", "O"], "LightsOff")]
    batch = to_tensors(load_tokenizer(encoder / bundle.TOKENIZER), examples, {"LightsOn": 0, "LightsOff": 1}, {t: i for i, t in enumerate(tags)})
    model.eval()
    with torch.no_grad():
        assert model.loss(batch, rdrop=10.0).item() == pytest.approx(model.loss(batch).item(), rel=1e-5)
    model.train()
    torch.manual_seed(0)
    with torch.no_grad():
        heavy = model.loss(batch, rdrop=1000.0).item()
        torch.manual_seed(0)
        light = model.loss(batch, rdrop=1e-6).item()
    assert heavy > light + 0.01


def test_the_crf_marginals_trained_on_are_the_ones_the_runtime_reads():
    """`Crf.log_marginals` (torch, differentiable, batched and padded) gives each word's tag distribution as
    `decode.marginals` (numpy, one utterance) does, for utterances of different lengths in one batch."""
    import numpy as np
    import torch

    from assistant.nlu.decode import marginals
    from assistant.nlu.model import Crf

    tags = ["O", "B-room", "I-room", "B-device", "I-device"]
    crf = Crf(tags)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        crf.transitions.normal_(generator=generator)
        crf.start.normal_(generator=generator)
        crf.end.normal_(generator=generator)
    emissions = torch.randn(3, 6, len(tags), generator=generator) * 3
    lengths = [6, 4, 1]
    mask = torch.arange(6)[None, :] < torch.tensor(lengths)[:, None]
    got = crf.log_marginals(emissions, mask).exp()
    start, transitions, end = (s.detach().numpy() for s in crf.scores())
    for row, n in enumerate(lengths):
        expected = marginals(emissions[row, :n].numpy(), start, transitions, end)
        assert np.allclose(got[row, :n].detach().numpy(), expected, atol=1e-5)


def test_words_are_read_alike_in_training_and_at_runtime():
    """`model.word_scores` (torch, batched) reads each word's tag scores as `features.Batch.word_scores` (numpy,
    the runtime) does: the first sub-token's, or the mean over the word's sub-tokens."""
    import numpy as np
    import torch

    from assistant.nlu.features import featurize, load_tokenizer
    from assistant.nlu.model import word_scores
    from assistant.nlu.train import check_encoder

    tokenizer = load_tokenizer(check_encoder(None) / bundle.TOKENIZER)
    utterances = [["play", "pneumonoultramicroscopicsilicovolcanoconiosis", "by", "karusellen"], ["stop"]]
    for pool in ("first", "mean"):
        batch = featurize(tokenizer, utterances, word_pool=pool)
        scores = np.random.default_rng(0).normal(size=(*batch.input_ids.shape, 3)).astype(np.float32)
        lengths = None if batch.word_len is None else torch.from_numpy(batch.word_len)
        got = word_scores(torch.from_numpy(scores), torch.from_numpy(batch.word_pos), lengths).numpy()
        for row, words in enumerate(utterances):
            assert np.allclose(got[row, : len(words)], batch.word_scores(scores, row), atol=1e-5)


@pytest.mark.parametrize("pools", [{"word_pool": "mean"}, {"intent_pool": "mean"}])
def test_a_model_trained_on_pooled_vectors_serves_as_it_was_trained(tmp_path, pools):
    """Mean pooling of a word's sub-tokens or of the sentence for the intent: the folder records how words are
    read, and the served int8 model scores its test split as the trainer measured it."""
    from assistant.intents import load_jointbert
    from assistant.nlu.runtime import Parser

    data = tmp_path / "toy"
    write_jointbert(data, {"train": rows(0) * 3, "dev": rows(3)[:6], "test": rows(5)[:8]})
    trained = train(data, tmp_path / "model", config=TrainConfig(epochs=4, min_steps=0, patience=4, **pools))
    parser = Parser(trained.folder)
    assert parser.labels.word_pool == pools.get("word_pool", "first")
    assert trained.metadata.metrics["test_no_reject"]["slot_f1"] > 50
    assert parser.evaluate(load_jointbert(data, "test")).slot_f1 == trained.metadata.metrics["test"]["slot_f1"]


def test_soft_targets_are_the_teachers_predictions_in_the_student_s_label_order(tiny_model, tiny_parser):
    """Distillation's targets: the teacher's intent probabilities and tag marginals for each training example,
    reordered to the labels of the model being trained; a teacher that lacks a label is refused by name."""
    import numpy as np

    from assistant.intents.example import Example
    from assistant.nlu.distill import soft_targets
    from assistant.nlu.errors import TrainError

    labels = tiny_parser.labels
    intents, tags = labels.intents[::-1], labels.tags[::-1]
    examples = [Example("turn on the kitchen lights".split(), ["O"] * 5, intents[0]),
                Example("lights off".split(), ["O", "O"], intents[0])]
    soft = soft_targets([tiny_model], examples, intents, tags)
    parsed = tiny_parser.parse("turn on the kitchen lights")
    assert intents[int(soft[0].intents.argmax())] == parsed.intent.name
    assert np.allclose([s.intents.sum() for s in soft], 1.0) and [s.tags.shape for s in soft] == [(5, len(tags)), (2, len(tags))]
    assert np.allclose(soft[0].tags.sum(axis=1), 1.0)
    kitchen = soft[0].tags[3]
    assert tags[int(kitchen.argmax())] == "B-room"
    with pytest.raises(TrainError, match="lacks B-colour"):
        soft_targets([tiny_model], examples, intents, tags + ["B-colour"])


def test_distillation_adds_the_cross_entropy_against_the_teachers_targets():
    """With soft targets in the batch and `distill` above 0, the loss grows by the weighted cross-entropy
    between the teachers' distributions and the model's; at 0 it is the plain loss."""
    import torch

    from assistant.intents.example import Example
    from assistant.nlu.distill import Soft
    from assistant.nlu.features import load_tokenizer
    from assistant.nlu.model import JointBert, ModelConfig, word_scores
    from assistant.nlu.train import check_encoder, to_tensors

    encoder = check_encoder(None)
    tags = ["O", "B-room", "I-room"]
    model = JointBert(ModelConfig(encoder=str(encoder), intents=["LightsOn", "LightsOff"], tags=tags))
    model.eval()
    examples = [Example("turn on the living room lights".split(), ["O", "O", "O", "B-room", "I-room", "O"], "LightsOn"),
                Example("kitchen lights off".split(), ["B-room", "O", "O"], "LightsOff")]
    uniform = {id(e): Soft(torch.full((2,), 0.5).numpy(), torch.full((len(e.tokens), 3), 1 / 3).numpy()) for e in examples}
    ids = {"LightsOn": 0, "LightsOff": 1}, {t: i for i, t in enumerate(tags)}
    batch = to_tensors(load_tokenizer(encoder / bundle.TOKENIZER), examples, *ids, uniform)
    with torch.no_grad():
        plain = model.loss(batch).item()
        assert model.loss(batch, distill=0.0).item() == pytest.approx(plain)
        intents, tag_scores, _ = model(batch["input_ids"], batch["attention_mask"])
        tagged = model.crf.log_marginals(word_scores(tag_scores, batch["word_pos"]), batch["word_mask"])
        expected = -(0.5 * torch.log_softmax(intents, -1)).sum(-1).mean() - (tagged / 3).sum(-1)[batch["word_mask"]].mean()
        assert model.loss(batch, distill=2.0).item() == pytest.approx(plain + 2.0 * expected.item(), rel=1e-5)
