"""Whisper held to the domain's sentences: a beam search whose every step is a word the grammar allows next.

Free decoding lets Whisper write what its language model likes ("light rose",
"ice mocha", "tumble flick"); the grammar engines that stay right in noise
(Rhino, Rhasspy's fsticuffs) never let the recogniser leave the domain. This
module does that for Whisper: the decoder reads the encoded audio as usual,
but at each word only the words the templates allow there are scored (a
literal word of the template, a word of a list value, a word of a built-in
value), so the search ends on a sentence of the templates, the one the audio
supports best. Whether that sentence is what was said, or only the closest
thing the domain has to it, is judged afterwards against the free transcript
(`speech.pipeline.searched`): audio of something else scores far below what
Whisper heard freely.

The search walks `intents.match.Grammar`'s automaton word by word
(`Lattice`); `text` slots (any words) and slots glued to a suffix are left to
free decoding. Each round reads the new words of every hypothesis in one
batch through `whisper_decoder.Decoder` (the audio's keys computed once, each
hypothesis extending its own cache), so every token's log-probability is
exact, and the last position ranks the words that may follow.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from assistant.intents.builtins import BUILTINS, DEFAULT_RANGES
from assistant.intents.match import ACTION_WORDS, VALUE, Grammar, most_specific
from assistant.intents.spoken import spoken
from assistant.speech.whisper_decoder import Decoder, State
from assistant.text import tokens

BEAM = 8
"""Hypotheses kept after each word: each costs a row of every matrix product of a round."""
MAX_ROUNDS = 24
"""Most rounds of the search: a round adds a word or a punctuation mark, so about 16 words with their commas and
full stop (a voice command is shorter)."""
WIDTH = 8
"""Words a hypothesis may grow by per round, best first (by the first token's probability)."""
MARKS = (",", ".", "?", "!")
"""Punctuation Whisper writes between words, which a hypothesis may take (not two in a row)."""
ENDINGS = (".", "?", "!")
"""What Whisper writes at the end of a sentence: the end of a sentence of the templates may take one."""
LEAST_ENDING = -4.0
"""The least log-probability of a sentence's ending (its last mark, if any, and the end of the text) for the search
to finish it there. Audio that goes on after a prefix of the templates ("what's the weather going to be like" of
"... like in New Delhi", a city the lists lack) ends there at about -5 to -8, a sentence said to its end at about
-0.2 to -2; averaged into the sentence's score, that one token would be outweighed by the words before it."""

BUILTIN_SAMPLES = 20_000
"""Values of a built-in type sampled for its trie: its spoken forms repeat long before that (about 1,500 durations,
2,200 times, 300 percentages)."""
MAX_CACHED = 50_000
"""Position sets whose next words are kept: a bound on the lattice's memory."""


Position = tuple
"""Where a word sequence has led in the automaton: ("s", state), or ("v", type, words, after) inside a value of a
slot's type (words said so far, the state after the slot)."""


class Lattice:
    """The words a `Grammar` allows after each word sequence (its automaton walked as sets of positions).

    A list slot's words walk the list's trie; a built-in slot's walk a trie of the values the type says in
    training (`BUILTIN_SAMPLES` samples of its spoken forms): "twenty five minutes", "half past seven". The
    search thus never wanders into number words no value reads.
    """

    def __init__(self, grammar: Grammar, samples: int = BUILTIN_SAMPLES):
        self.grammar = grammar
        self._tries = dict(grammar.lists)
        for type_name in sorted(grammar.slot_types() - set(self._tries)):
            if type_name in BUILTINS and BUILTINS[type_name].sample is not None and type_name != "text":
                self._tries[type_name] = _builtin_trie(type_name, samples)
        self._next: dict[frozenset, dict[str, frozenset]] = {}

    def start(self) -> frozenset:
        return frozenset({("s", self.grammar.start)})

    def accepts(self, positions: frozenset) -> bool:
        return any(p[0] == "s" and self.grammar.step(p[1]).accepts for p in positions)

    def next(self, positions: frozenset) -> dict[str, frozenset]:
        """Each word that may come next, with the positions it leads to."""
        found = self._next.get(positions)
        if found is None:
            out: dict[str, set] = {}
            for position in positions:
                for word, after in self._after(position):
                    out.setdefault(word, set()).update(after)
            found = {word: frozenset(after) for word, after in out.items()}
            if len(self._next) < MAX_CACHED:
                self._next[positions] = found
        return found

    def _after(self, position: Position):
        if position[0] == "s":
            step = self.grammar.step(position[1])
            for word, targets in step.words.items():
                yield word, [("s", t) for t in targets]
            for _slot, type_name, suffix, target in step.slots:
                if not suffix and type_name in self._tries:
                    yield from self._value(self._tries[type_name], type_name, (), target)
            return
        _, type_name, words, target = position
        node = self._tries[type_name]
        for word in words:
            node = node[word]
        yield from self._value(node, type_name, words, target)

    @staticmethod
    def _value(node: dict, type_name: str, words: tuple[str, ...], target: int):
        """The words that continue a value begun with `words` (at trie `node`), and where each leads."""
        for word, child in node.items():
            if word is VALUE:
                continue
            after = [("v", type_name, words + (word,), target)] if len(child) > (VALUE in child) else []
            if VALUE in child:
                after.append(("s", target))
            yield word, after


_UNITS = {"second": "seconds", "minute": "minutes", "hour": "hours", "day": "days", "sec": "secs", "min": "mins", "hr": "hrs"}
_NUMBER = _UNITS | {plural: singular for singular, plural in _UNITS.items()}
"""A unit word in the other number."""


def _builtin_trie(type_name: str, samples: int) -> dict:
    """A word trie of the spoken forms of a built-in type, as its sampler says them in training."""
    builtin = BUILTINS[type_name]
    rng = random.Random(0)
    said = {builtin.sample(rng, *DEFAULT_RANGES.get(type_name, (0, 100)))[0] for _ in range(samples)}
    surfaces = {spoken(text) for text in said}
    # "a five minute timer": the unit in the singular (or plural) where the sampler says the other
    surfaces |= {" ".join(_NUMBER.get(w, w) for w in surface.split()) for surface in surfaces}
    root: dict = {}
    for surface in sorted(surfaces):
        words = [w.text for w in tokens(surface)]
        value = builtin.exact(" ".join(words))
        if not words or value is None:
            continue
        node = root
        for word in words:
            node = node.setdefault(word, {})
        node[VALUE] = value
    return root


COMMON = 12_000
"""The commonest tokens (GPT-2's byte-pair merges come in order of frequency), which with the grammar's own tokens
make the vocabulary the search normalises over: most of the probability mass for about a quarter of the cost."""


@dataclass(frozen=True)
class Found:
    """What the search heard."""

    sentence: str
    score: float
    """Its mean token log-probability, its ending included (over the search's vocabulary)."""
    margin: float | None
    """How much higher it scores than the best sentence found of another meaning (None: no other was found).
    Garbled audio leaves several commands about as likely; a command said clearly stands out."""


@dataclass
class Hypothesis:
    tokens: tuple[int, ...]
    words: tuple[str, ...]
    positions: frozenset
    score: float
    """Sum of the log-probabilities of its tokens."""
    state: State
    next: np.ndarray
    """Log-probabilities of the token after it (over the search's vocabulary)."""
    pieces: tuple[str, ...] = ()
    """Its words and punctuation marks in order, as the tokens write them (to write a word of it otherwise)."""
    mark: str = ""
    """The punctuation mark it ends with, if any: Whisper writes "What's the day today? Thanks a lot." and the
    sentence of the templates is the same words; after a full stop the next word is capitalised."""
    mark_score: float = 0.0
    """The log-probability of that mark: with the end of the text after it, the sentence's ending."""


class ConstrainedDecoder:
    """A Whisper decoder and tokenizer, searching the sentences of one grammar. Thread-safe."""

    def __init__(self, decoder: Decoder, tokenizer, grammar: Grammar, beam: int = BEAM, width: int = WIDTH):
        self.decoder = decoder
        self.tokenizer = tokenizer
        self.lattice = Lattice(grammar)
        self.beam = beam
        self.width = width
        self._tokens: dict[tuple[str, bool], tuple[int, ...]] = {}
        self._start = list(tokenizer.sot_sequence) + [tokenizer.no_timestamps]
        self._marks = {mark: tokenizer.encode(mark)[0] for mark in MARKS}
        words = set(grammar.vocabulary)
        for trie in self.lattice._tries.values():
            words |= _trie_words(trie)
        ids = set(range(min(COMMON, tokenizer.eot))) | {tokenizer.eot} | set(self._marks.values())
        for word in words:
            for first in (True, False):
                ids.update(self.tokens(word, first))
        self.vocabulary = np.array(sorted(ids), dtype=np.int64)
        self._column = np.full(max(ids) + 1, -1, dtype=np.int64)
        self._column[self.vocabulary] = np.arange(len(self.vocabulary))
        self._projection = decoder.projection_for(self.vocabulary)

    def tokens(self, word: str, first: bool) -> tuple[int, ...]:
        """How Whisper writes `word` in a sentence: after a space, capitalised at the start."""
        key = (word, first)
        found = self._tokens.get(key)
        if found is None:
            found = self._tokens[key] = tuple(self.tokenizer.encode(" " + (word[:1].upper() + word[1:] if first else word)))
        return found

    def decode(self, encoded) -> Found | None:
        """The sentence of the grammar the encoded audio supports best, or None when the search reached none."""
        decoder, column, eot = self.decoder, self._column, self.tokenizer.eot
        audio = decoder.audio(np.asarray(encoded))
        states, rows = decoder.step(audio, [State()], [self._start], self._projection)
        start = Hypothesis((), (), self.lattice.start(), 0.0, states[0], rows[0][-1])
        live = [start]
        done: list[tuple[float, tuple[str, ...], tuple[str, ...]]] = []
        for _ in range(MAX_ROUNDS):
            options: dict[tuple[int, ...], tuple[float, Hypothesis, str, tuple[int, ...], frozenset]] = {}
            for h in live:
                if h.words and h.mark in ("", *ENDINGS) and self.lattice.accepts(h.positions):
                    end = float(h.next[column[eot]])
                    if end + h.mark_score >= LEAST_ENDING:
                        done.append(((h.score + end) / (len(h.tokens) + 1), h.words, h.pieces))
                scored = []
                for word, after in self.lattice.next(h.positions).items():
                    tokens = self.tokens(word, not h.words or h.mark in ENDINGS)
                    scored.append((h.score + float(h.next[column[tokens[0]]]), word, tokens, after))
                if h.words and not h.mark:
                    scored += [(h.score + float(h.next[column[t]]), mark, (t,), h.positions) for mark, t in self._marks.items()]
                scored.sort(key=lambda o: -o[0])
                for score, word, tokens, after in scored[: self.width]:
                    key = h.tokens + tokens
                    old = options.get(key)
                    if old is None:
                        options[key] = (score, h, word, tokens, after)
                    elif old[1] is h:  # the same words by two paths of the automaton: one hypothesis, both paths
                        options[key] = (old[0], h, word, tokens, old[4] | after)
            if not options:
                break
            chosen, kinds = [], set()
            for option in sorted(options.values(), key=lambda o: -o[0]):
                # One hypothesis per word sequence (ended by a mark or not): its other punctuations ("Hey, switch
                # off" and "Hey switch off") would fill the beam with one sentence and push the others out.
                score, h, word, tokens, after = option
                kind = (h.words if word in self._marks else h.words + (word,), word in self._marks)
                if kind not in kinds:
                    kinds.add(kind)
                    chosen.append(option)
                    if len(chosen) == self.beam:
                        break
            states, rows = decoder.step(audio, [o[1].state for o in chosen], [list(o[3]) for o in chosen], self._projection)
            live = []
            for (score, h, word, tokens, after), state, r in zip(chosen, states, rows):
                rest = sum(float(r[k, column[t]]) for k, t in enumerate(tokens[1:]))
                mark = word if word in self._marks else ""
                live.append(Hypothesis(h.tokens + tokens, h.words if mark else h.words + (word,), after, score + rest, state, r[-1],
                                       h.pieces + (word,), mark, score - h.score if mark else 0.0))
        if not done:
            return None
        done = sorted(done + self._contrasts(audio, start, *max(done, key=lambda d: d[0])[1:]), key=lambda d: -d[0])
        mean, words, _ = done[0]
        meaning = self._meaning(words)
        other = next((m for m, w, _ in done[1:] if w != words and self._meaning(w) != meaning), None)
        return Found(" ".join(words), mean, None if other is None else mean - other)

    def _contrasts(self, audio, start: Hypothesis, words: tuple[str, ...], pieces: tuple[str, ...]):
        """The sentences of the templates that say another action word in place of one of `words` and mean
        something else ("turn off the light" for "turn on the light", "unpause" for "pause"), scored as the search
        scores (with the same punctuation). The beam keeps the words whose first token Whisper likes best, so the
        opposite of an action word is easily pruned early on, and the margin would then be measured against some
        other command; a polarity word must instead stand out against its rivals in the audio itself."""
        meaning = self._meaning(words)
        rivals: dict[tuple[str, ...], tuple[str, ...]] = {}  # words said -> with the punctuation
        for k, piece in enumerate(pieces):
            if piece not in ACTION_WORDS:
                continue
            for other in sorted(ACTION_WORDS - {piece}):
                changed = pieces[:k] + (other,) + pieces[k + 1 :]
                said = tuple(p for p in changed if p not in self._marks)
                means = self._meaning(said)
                if means and means != meaning:
                    rivals.setdefault(said, changed)
        if not rivals:
            return []
        column, eot, sequences = self._column, self.tokenizer.eot, []
        for changed in rivals.values():
            tokens: list[int] = []
            for j, piece in enumerate(changed):
                tokens += [self._marks[piece]] if piece in self._marks else self.tokens(piece, j == 0 or changed[j - 1] in ENDINGS)
            sequences.append(tokens)
        _, rows = self.decoder.step(audio, [start.state] * len(sequences), sequences, self._projection)
        out = []
        for (said, changed), tokens, r in zip(rivals.items(), sequences, rows):
            score = float(start.next[column[tokens[0]]]) + sum(float(r[k, column[t]]) for k, t in enumerate(tokens[1:])) + float(r[-1, column[eot]])
            out.append((score / (len(tokens) + 1), said, changed))
        return out

    def says(self, text: str) -> bool:
        """Whether `text` is a sentence of the templates with one meaning: the parser answers it from the grammar
        whatever the search would find, so the search is not run (`speech.pipeline.searched`)."""
        return len(most_specific(self.lattice.grammar.match(text, hesitations=True))) == 1

    def _meaning(self, words: tuple[str, ...]) -> frozenset:
        return frozenset(m.key for m in self.lattice.grammar.match(" ".join(words)))


def _trie_words(trie: dict) -> set[str]:
    out, todo = set(), [trie]
    while todo:
        node = todo.pop()
        for word, child in node.items():
            if word is not VALUE:
                out.add(word)
                todo.append(child)
    return out
