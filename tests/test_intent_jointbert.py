"""Benchmark datasets in the JointBERT layout: words kept as given, clear errors when files disagree."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.intents import IntentFileError, is_jointbert, jointbert_domain, load_jointbert, load_training_data

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def make_split(folder: Path, split: str, lines: list[tuple[str, str, str]]) -> None:
    (folder / split).mkdir(parents=True)
    for name, column in (("seq.in", 0), ("seq.out", 1), ("label", 2)):
        (folder / split / name).write_text("".join(line[column] + "\n" for line in lines), encoding="utf-8")


TRAIN = [
    # SNIPS lines end with a space and hold runs of spaces where punctuation was; tags count them as one
    ("play l.a. woman by the doors ", "O B-album I-album O B-artist I-artist ", "PlayMusic"),
    ("weather in jetmore  kansas", "O O B-city B-state", "GetWeather"),
    ("add it to my 50 clásicos playlist", "O O O B-playlist_owner B-playlist I-playlist O", "AddToPlaylist"),
]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    make_split(tmp_path, "train", TRAIN)
    make_split(tmp_path, "test", TRAIN[:1])
    (tmp_path / "intent_label.txt").write_text("UNK\nAddToPlaylist\nGetWeather\nPlayMusic\nRateBook\n")
    (tmp_path / "slot_label.txt").write_text("PAD\nUNK\nO\nB-album\nI-album\nB-artist\n")
    return tmp_path


def test_words_and_tags_are_kept_as_given(dataset):
    examples = load_jointbert(dataset, "train")
    assert [(e.tokens, e.tags, e.intent) for e in examples][0] == (
        ["play", "l.a.", "woman", "by", "the", "doors"],
        ["O", "B-album", "I-album", "O", "B-artist", "I-artist"],
        "PlayMusic",
    )
    assert examples[1].tokens == ["weather", "in", "jetmore", "kansas"]
    assert examples[2].tokens[5] == "clásicos"
    assert examples[0].meta["source"] == f"{dataset / 'train' / 'seq.in'}:1"


def test_a_line_with_more_words_than_tags(tmp_path):
    make_split(tmp_path, "train", [("turn on the light", "O O O", "LightsOn")])
    with pytest.raises(IntentFileError) as caught:
        load_jointbert(tmp_path, "train")
    assert str(caught.value) == f"{tmp_path / 'train' / 'seq.out'}:1: 3 tags for the 4 words of seq.in line 1"


def test_files_of_different_lengths(tmp_path):
    make_split(tmp_path, "train", [("hi", "O", "Greet"), ("hello", "O", "Greet")])
    (tmp_path / "train" / "label").write_text("Greet\n")
    with pytest.raises(IntentFileError) as caught:
        load_jointbert(tmp_path, "train")
    assert str(caught.value) == (
        f"{tmp_path / 'train'}: seq.in has 2 lines, seq.out 2, label 1; they must be line-aligned"
    )


def test_a_tag_that_is_not_bio(tmp_path):
    make_split(tmp_path, "train", [("hi there", "O X-name", "Greet")])
    with pytest.raises(IntentFileError, match=r"seq.out:1: tag 'X-name' is not O, B-<slot> or I-<slot>"):
        load_jointbert(tmp_path, "train")


def test_the_domain_lists_intents_and_the_slots_seen_with_them(dataset):
    domain = jointbert_domain(dataset)
    assert list(domain.intents) == ["AddToPlaylist", "GetWeather", "PlayMusic", "RateBook"]
    assert {n: sorted(i.slots) for n, i in domain.intents.items()} == {
        "AddToPlaylist": ["playlist", "playlist_owner"],
        "GetWeather": ["city", "state"],
        "PlayMusic": ["album", "artist"],
        "RateBook": [],
    }
    assert {s.type for i in domain.intents.values() for s in i.slots.values()} == {"text"}


def test_load_training_data_detects_a_dataset(dataset):
    assert is_jointbert(dataset)
    data = load_training_data(dataset, dev_fraction=0.34)
    # no dev split in the folder: it is cut from train
    assert len(data.train) + len(data.dev) == 3 and len(data.test) == 1
    assert data.domain.intents["PlayMusic"].slots["album"].type == "text"


@pytest.mark.skipif(not (SHARED / "snips" / "train" / "seq.in").is_file(), reason="benchmark data not present")
@pytest.mark.parametrize("name, sizes, intents", [("snips", (13084, 700, 700), 7), ("atis", (4478, 500, 893), 21)])
def test_the_benchmarks_load(name, sizes, intents):
    data = load_training_data(SHARED / name)
    assert (len(data.train), len(data.dev), len(data.test)) == sizes
    assert len(data.domain.intents) == intents
    assert all(len(e.tokens) == len(e.tags) for e in data.train)
