"""Text in, `ParseResult` out: the one place utterances are understood.

Runs the int8 ONNX graph with onnxruntime and the `tokenizers` library only;
importing this module never imports torch or transformers, so the runtime
install stays small and starts fast.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from assistant.intents.example import Example, spans_of
from assistant.intents.resolve import resolve
from assistant.nlu import bundle
from assistant.nlu.decode import Transitions, decode_batch
from assistant.nlu.features import featurize, load_tokenizer
from assistant.nlu.metrics import Metrics, score
from assistant.nlu.result import Entity, IntentScore, ParseResult
from assistant.text import Word, split_words

log = logging.getLogger(__name__)

MAX_WORDS = 120
"""Words read from one utterance; the rest would not fit the encoder's window anyway."""
RANKING = 10


class Parser:
    """A loaded model folder. Thread-safe: onnxruntime sessions may be run concurrently."""

    def __init__(self, folder: Path | str, onnx_file: str = bundle.ONNX_INT8, threads: int | None = None):
        import onnxruntime as ort

        from assistant.intents.schema import Domain

        self.folder = Path(folder)
        self.metadata, self.labels = bundle.check_folder(self.folder)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(self.folder / onnx_file), options, providers=["CPUExecutionProvider"])
            self.tokenizer = load_tokenizer(self.folder / bundle.TOKENIZER)
            self.domain = Domain.model_validate_json((self.folder / bundle.DOMAIN).read_bytes())
        except Exception as e:  # onnxruntime and tokenizers raise their own types for corrupt files
            raise bundle.ModelLoadError(f"{self.folder}: cannot load: {str(e).splitlines()[0]}") from None
        self.rules = Transitions(self.labels.start, self.labels.transitions, self.labels.end)

    @property
    def version(self) -> str:
        return self.folder.resolve().name

    def run(self, utterances: list[list[str]]):
        """Raw decoding of pre-split utterances: intent probabilities, tag paths, tag probabilities, pooled vectors."""
        batch = featurize(self.tokenizer, utterances)
        logits, scores, pooled = self.session.run(None, {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask})
        probs, paths, tag_probs = decode_batch(logits, scores, batch.word_pos, batch.word_mask, self.rules)
        return probs, paths, tag_probs, pooled

    def parse(self, text: str) -> ParseResult:
        return self.parse_batch([text])[0]

    def parse_batch(self, texts: list[str], batch_size: int = 32) -> list[ParseResult]:
        """Parse many utterances; batches group similar lengths so padding stays small."""
        results: list[ParseResult | None] = [None] * len(texts)
        prepared = []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"utterance {i} is {type(text).__name__}, not text")
            words = split_words(text)
            if not words:
                results[i] = ParseResult(text=text, intent=None, in_scope=False, warnings=["empty input: no words to understand"])
                continue
            prepared.append((i, words))
        prepared.sort(key=lambda p: len(p[1]))
        for start in range(0, len(prepared), batch_size):
            chunk = prepared[start : start + batch_size]
            probs, paths, tag_probs, _ = self.run([[w.text for w in words[:MAX_WORDS]] for _, words in chunk])
            for k, (i, words) in enumerate(chunk):
                results[i] = self._result(texts[i], words, probs[k], paths[k], tag_probs[k])
        return results  # type: ignore[return-value]

    def _result(self, text: str, words: list[Word], probs: np.ndarray, path: list[int], tag_probs: list[float]) -> ParseResult:
        order = np.argsort(-probs)[:RANKING]
        ranking = [IntentScore(name=self.labels.intents[j], confidence=round(float(probs[j]), 4)) for j in order]
        intent = ranking[0]
        tags = [self.labels.tags[t] for t in path]
        entities = []
        for slot, first, last in spans_of(tags):
            start, end = words[first].start, words[last - 1].end
            raw = text[start:end]
            slot_type, value = resolve(self.domain, intent.name, slot, raw)
            confidence = float(np.mean(tag_probs[first:last]))
            entities.append(Entity(slot=slot, type=slot_type, text=raw, start=start, end=end, value=value, confidence=round(confidence, 4)))
        warnings = []
        if len(path) < len(words):
            warnings.append(f"input truncated: only the first {len(path)} of {len(words)} words were read")
        return ParseResult(text=text, intent=intent, intent_ranking=ranking, entities=entities, warnings=warnings)

    def evaluate(self, examples: list[Example], batch_size: int = 64) -> Metrics:
        """Score the model on examples whose words are given (benchmark datasets keep their own tokenisation)."""
        intents, tags = [], []
        for start in range(0, len(examples), batch_size):
            chunk = examples[start : start + batch_size]
            probs, paths, _, _ = self.run([e.tokens for e in chunk])
            for k, e in enumerate(chunk):
                intents.append(self.labels.intents[int(probs[k].argmax())])
                tags.append([self.labels.tags[t] for t in paths[k]] + ["O"] * (len(e.tokens) - len(paths[k])))
        return score([e.intent for e in examples], [e.tags for e in examples], intents, tags)
