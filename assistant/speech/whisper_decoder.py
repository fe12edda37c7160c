"""Whisper's text decoder in numpy, read from a CTranslate2 model folder, with the audio's keys cached.

CTranslate2 decodes fast, but each `generate` call projects the 1,500 encoded
audio frames into every layer's cross-attention keys and values again (about
1.8 GMAC for `tiny.en`): a search that asks for the next-token distribution of
many prefixes (`constrained`) would pay that per prefix per word. Here the
projection is done once per utterance (`Audio`), and each prefix extends its
own self-attention cache, so a round of the search costs a few milliseconds.

The weights are read from CTranslate2's `model.bin` (its documented layout: a
header, then each variable's name, shape, type and bytes); only the decoder's
are kept, as float32 (the embeddings as float16: they are only looked up, and projected onto the few
thousand tokens a search asks about).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_TYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ct2(path: Path, prefix: str = "") -> dict[str, np.ndarray]:
    """The variables of a CTranslate2 `model.bin` whose names start with `prefix` (aliases resolved)."""
    data = memoryview(Path(path).read_bytes())
    offset = 0

    def take(fmt: str):
        nonlocal offset
        value = struct.unpack_from(fmt, data, offset)[0]
        offset += struct.calcsize(fmt)
        return value

    def text() -> str:
        nonlocal offset
        n = take("H")
        value = bytes(data[offset : offset + n - 1]).decode("utf-8")
        offset += n
        return value

    version = take("I")
    if version < 5:
        raise ValueError(f"{path}: CTranslate2 model format {version} is too old")
    text()  # spec name
    take("I")  # spec revision
    variables: dict[str, np.ndarray] = {}
    for _ in range(take("I")):
        name = text()
        shape = [take("I") for _ in range(take("B"))]
        kind = take("B")
        size = take("I")
        if name.startswith(prefix):
            if kind not in _TYPES:
                raise ValueError(f"{path}: variable {name} has a type this reader does not know ({kind})")
            variables[name] = np.frombuffer(data[offset : offset + size], dtype=_TYPES[kind]).reshape(shape)
        offset += size
    for _ in range(take("I")):
        alias, name = text(), text()
        if alias.startswith(prefix) and name in variables:
            variables[alias] = variables[name]
    return variables


def _norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-5) * gamma + beta


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x * x * x)))


def _softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(-1, keepdims=True)
    np.exp(x, out=x)
    return x / x.sum(-1, keepdims=True)


def _weight(variables: dict[str, np.ndarray], name: str) -> np.ndarray:
    """A variable as float32; an int8 weight (a model converted with `--quantization int8`) scaled back by its row
    scales (CTranslate2 stores round(w * 127 / max|row|) and the scale 127 / max|row|)."""
    value = variables[name]
    scale = variables.get(name + "_scale") if name.endswith("/weight") else None
    if value.dtype == np.int8:
        if scale is None:
            raise ValueError(f"{name} is int8 without a scale")
        return np.ascontiguousarray(value.astype(np.float32) / np.asarray(scale, dtype=np.float32).reshape(-1, 1))
    if not np.issubdtype(value.dtype, np.floating):
        raise ValueError(f"{name} is {value.dtype}, not a float")
    return np.ascontiguousarray(value, dtype=np.float32)


@dataclass
class Layer:
    norm1: tuple[np.ndarray, np.ndarray]
    qkv: tuple[np.ndarray, np.ndarray]
    out1: tuple[np.ndarray, np.ndarray]
    norm2: tuple[np.ndarray, np.ndarray]
    q: tuple[np.ndarray, np.ndarray]
    kv: tuple[np.ndarray, np.ndarray]
    out2: tuple[np.ndarray, np.ndarray]
    norm3: tuple[np.ndarray, np.ndarray]
    fc1: tuple[np.ndarray, np.ndarray]
    fc2: tuple[np.ndarray, np.ndarray]


@dataclass
class Audio:
    """One utterance's cross-attention keys and values, per layer (heads, frames, head size)."""

    keys: list[np.ndarray]
    values: list[np.ndarray]


@dataclass
class State:
    """A prefix read so far: its self-attention keys and values per layer (heads, tokens, head size)."""

    keys: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)

    @property
    def length(self) -> int:
        return self.keys[0].shape[1] if self.keys else 0


class Decoder:
    """The decoder of a CTranslate2 Whisper model, in float32 numpy."""

    def __init__(self, folder: Path | str):
        w = read_ct2(Path(folder) / "model.bin", "decoder/")
        f = lambda name: _weight(w, name)  # noqa: E731
        linear = lambda name: (np.ascontiguousarray(f(name + "/weight").T), f(name + "/bias"))  # noqa: E731
        norm = lambda name: (f(name + "/gamma"), f(name + "/beta"))  # noqa: E731
        self.heads = int(np.asarray(w["decoder/num_heads"]).reshape(-1)[0])
        self.embeddings = f("decoder/embeddings/weight").astype(np.float16)  # 51,864 rows: half the memory
        self.positions = f("decoder/position_encodings/encodings")
        self.final = norm("decoder/layer_norm")
        self.layers = []
        k = 0
        while f"decoder/layer_{k}/ffn/linear_0/weight" in w:
            p = f"decoder/layer_{k}/"
            self.layers.append(Layer(norm(p + "self_attention/layer_norm"), linear(p + "self_attention/linear_0"),
                                     linear(p + "self_attention/linear_1"), norm(p + "attention/layer_norm"),
                                     linear(p + "attention/linear_0"), linear(p + "attention/linear_1"),
                                     linear(p + "attention/linear_2"), norm(p + "ffn/layer_norm"), linear(p + "ffn/linear_0"),
                                     linear(p + "ffn/linear_1")))
            k += 1
        self.size = self.embeddings.shape[1]
        self.head_size = self.size // self.heads
        self.max_tokens = self.positions.shape[0]

    def projection_for(self, vocabulary: np.ndarray | None) -> np.ndarray:
        """The output projection (the embeddings, tied) onto part of the vocabulary, or all of it: the tokens that
        matter and the commonest ones cost a fraction of the full projection (51,864 tokens) and move the
        log-probabilities of likely tokens little."""
        rows = self.embeddings if vocabulary is None else self.embeddings[vocabulary]
        return np.ascontiguousarray(rows.T, dtype=np.float32)

    def _split(self, x: np.ndarray) -> np.ndarray:
        """(tokens, size) -> (heads, tokens, head size)."""
        return x.reshape(x.shape[0], self.heads, self.head_size).transpose(1, 0, 2)

    def audio(self, encoded: np.ndarray) -> Audio:
        """The cross-attention keys and values of the encoder's output (frames, size), once per utterance."""
        encoded = np.asarray(encoded, dtype=np.float32).reshape(-1, self.size)
        keys, values = [], []
        for layer in self.layers:
            kv = encoded @ layer.kv[0] + layer.kv[1]
            keys.append(np.ascontiguousarray(self._split(kv[:, : self.size]).transpose(0, 2, 1)))  # (heads, head size, frames)
            values.append(np.ascontiguousarray(self._split(kv[:, self.size :])))
        return Audio(keys, values)

    def step(self, audio: Audio, states: list[State], tokens: list[list[int]], projection: np.ndarray | None = None
             ) -> tuple[list[State], list[np.ndarray]]:
        """Read `tokens[i]` after the prefix `states[i]`: the extended states, and the log-probabilities of the
        next token at each new position (rows: the new tokens; columns: the whole vocabulary, or the part of it that
        `projection` (from `projection_for`) reads, normalised over that part)."""
        counts = [len(t) for t in tokens]
        flat = [t for ts in tokens for t in ts]
        where = [s.length + k for s, n in zip(states, counts) for k in range(n)]
        if max(where, default=0) >= self.max_tokens:
            raise ValueError("a prefix longer than the decoder reads")
        x = self.embeddings[flat].astype(np.float32) + self.positions[where]
        bounds = np.cumsum([0, *counts])
        new_states = [State() for _ in states]
        scale = self.head_size ** -0.5
        for k, layer in enumerate(self.layers):
            h = _norm(x, *layer.norm1)
            qkv = h @ layer.qkv[0] + layer.qkv[1]
            attended = np.empty_like(x)
            for i, state in enumerate(states):
                a, b = bounds[i], bounds[i + 1]
                if a == b:
                    new_states[i].keys.append(state.keys[k])
                    new_states[i].values.append(state.values[k])
                    continue
                q = self._split(qkv[a:b, : self.size])
                key = self._split(qkv[a:b, self.size : 2 * self.size])
                value = self._split(qkv[a:b, 2 * self.size :])
                if state.keys:
                    key = np.concatenate([state.keys[k], key], axis=1)
                    value = np.concatenate([state.values[k], value], axis=1)
                new_states[i].keys.append(key)
                new_states[i].values.append(value)
                scores = q @ key.transpose(0, 2, 1) * scale  # (heads, new, all)
                n, total = b - a, key.shape[1]
                mask = np.arange(total)[None, :] > (total - n + np.arange(n))[:, None]
                scores[:, mask] = -np.inf
                attended[a:b] = (_softmax(scores) @ value).transpose(1, 0, 2).reshape(n, self.size)
            x = x + attended @ layer.out1[0] + layer.out1[1]
            h = _norm(x, *layer.norm2)
            q = self._split(h @ layer.q[0] + layer.q[1])  # (heads, tokens, head size)
            weights = _softmax(q @ audio.keys[k] * scale)
            x = x + (weights @ audio.values[k]).transpose(1, 0, 2).reshape(len(flat), self.size) @ layer.out2[0] + layer.out2[1]
            h = _norm(x, *layer.norm3)
            x = x + _gelu(h @ layer.fc1[0] + layer.fc1[1]) @ layer.fc2[0] + layer.fc2[1]
        logits = _norm(x, *self.final) @ (self.projection_for(None) if projection is None else projection)
        logits -= logits.max(-1, keepdims=True)
        logits -= np.log(np.exp(logits).sum(-1, keepdims=True))
        return new_states, [logits[bounds[i] : bounds[i + 1]] for i in range(len(states))]
