"""Words to model inputs, the same way at training and at runtime.

The slot head scores every sub-token; a word's scores are those of its first
sub-token (as Hugging Face's `run_ner.py` aligns labels) or, for a model trained
so (`word_pool = "mean"`), the mean over all of its sub-tokens. Besides token
ids we carry, for every word, where its sub-tokens start and how many are read.
Needs only `tokenizers` and numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

MAX_TOKENS = 128
"""Sub-tokens per utterance, [CLS] and [SEP] included; words past it are not tagged."""


def load_tokenizer(path: Path) -> Tokenizer:
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_TOKENS)
    return tokenizer


@dataclass
class Batch:
    input_ids: np.ndarray  # (batch, tokens) int64
    attention_mask: np.ndarray  # (batch, tokens) int64
    word_pos: np.ndarray  # (batch, words) int64: first sub-token of each word, 0 where none
    word_mask: np.ndarray  # (batch, words) bool: the word has a sub-token to tag
    word_len: np.ndarray | None = None  # (batch, words) int64: sub-tokens a word's scores average, from word_pos; None: 1

    def word_scores(self, scores: np.ndarray, row: int) -> np.ndarray:
        """The tagged words' scores (words, tags) of utterance `row`, from the graph's per-sub-token `scores`."""
        n = int(self.word_mask[row].sum())
        starts = self.word_pos[row, :n]
        if self.word_len is None:
            return scores[row, starts]
        lengths = self.word_len[row, :n]
        sums = np.concatenate([np.zeros((1, scores.shape[-1]), np.float32), np.cumsum(scores[row], axis=0, dtype=np.float32)])
        return (sums[starts + lengths] - sums[starts]) / lengths[:, None]


def featurize(tokenizer: Tokenizer, utterances: list[list[str]], encodings: list | None = None,
              word_pool: str = "first") -> Batch:
    """Encode pre-split utterances into one padded batch (`encodings`: the tokenizer's, when already made);
    `word_pool` "mean" reads each word's scores as the mean over its sub-tokens.

    A word that yields no sub-token (a lone combining mark, say) reads the
    sub-token before it, so tagged words always form a prefix (the CRF needs
    that); words cut off past `MAX_TOKENS` get `word_mask` False and read as `O`.
    """
    if encodings is None:
        encodings = tokenizer.encode_batch(utterances, is_pretokenized=True) if utterances else []
    n_tokens = max((len(e.ids) for e in encodings), default=2)
    n_words = max((len(u) for u in utterances), default=0)
    batch = Batch(
        input_ids=np.zeros((len(utterances), n_tokens), dtype=np.int64),
        attention_mask=np.zeros((len(utterances), n_tokens), dtype=np.int64),
        word_pos=np.zeros((len(utterances), max(n_words, 1)), dtype=np.int64),
        word_mask=np.zeros((len(utterances), max(n_words, 1)), dtype=bool),
        word_len=np.ones((len(utterances), max(n_words, 1)), dtype=np.int64) if word_pool == "mean" else None,
    )
    for row, encoding in enumerate(encodings):
        ids = encoding.ids
        batch.input_ids[row, : len(ids)] = ids
        batch.attention_mask[row, : len(ids)] = 1
        first: dict[int, int] = {}
        pieces: dict[int, int] = {}
        for position, word in enumerate(encoding.word_ids):
            if word is not None:
                first.setdefault(word, position)
                pieces[word] = pieces.get(word, 0) + 1
        n_tagged = len(utterances[row]) if not encoding.overflowing else max(first, default=-1) + 1
        previous = 0
        for word in range(n_tagged):
            previous = first.get(word, previous)
            batch.word_pos[row, word] = previous
            batch.word_mask[row, word] = True
            if batch.word_len is not None:
                batch.word_len[row, word] = pieces.get(word, 1)
    return batch
