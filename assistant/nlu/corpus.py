"""A corpus of utterances (months of logs) parsed at full speed, in bounded memory.

Lines are read, parsed and written in batches: the grammar answers template
sentences at once, the rest go to the model together, sorted by length, so a
batch costs one run of the graph; only one batch is held at a time, whatever
the size of the corpus. A line may be the utterance itself or a JSON object
with a `text` field (its other fields are kept in the output under `input`),
so the output of one tool feeds the next. A line that is neither is reported
in the output as an error, never dropped silently: the output has one line per
input line, in order.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tqdm import tqdm

from assistant.nlu.runtime import Parser


@dataclass
class Counts:
    parsed: int = 0
    skipped: int = 0
    """Lines that held no utterance (invalid JSON, no `text`): answered with an `error` line."""
    seconds: float = 0.0


def parse_corpus(parser: Parser, source: str | Path, target: str | Path, batch_size: int = 256, progress: bool = True) -> Counts:
    """Parse every line of `source` (a path, or "-" for stdin) into JSON lines in `target` (a path, or "-")."""
    counts = Counts()
    started = time.perf_counter()
    with ExitStack() as stack:
        reader = sys.stdin if str(source) == "-" else stack.enter_context(open(source, encoding="utf-8", errors="replace"))
        writer = sys.stdout if str(target) == "-" else stack.enter_context(open(target, "w", encoding="utf-8"))
        size = None if str(source) == "-" else Path(source).stat().st_size
        bar = stack.enter_context(tqdm(total=size, unit="B", unit_scale=True, desc="parsing", disable=not progress,
                                       mininterval=1 if sys.stderr.isatty() else 30))
        for batch in _batches(reader, batch_size):
            texts = [text for _, text, _ in batch if text is not None]
            results = iter(parser.parse_batch(texts, batch_size=64))
            for raw, text, extra in batch:
                if text is None:
                    counts.skipped += 1
                    writer.write(json.dumps({"error": extra, "line": raw[:200]}) + "\n")
                    continue
                line = next(results).model_dump_json()  # a JSON object: its closing brace makes room for `input`
                writer.write(line[:-1] + f',"input":{json.dumps(extra)}}}\n' if extra else line + "\n")
                counts.parsed += 1
            bar.update(sum(len(raw.encode()) + 1 for raw, _, _ in batch))
        writer.flush()
    counts.seconds = time.perf_counter() - started
    return counts


def _batches(reader: IO[str], size: int) -> Iterator[list[tuple[str, str | None, dict | str | None]]]:
    """(line, utterance or None, the JSON object's other fields or the reason there is no utterance), a batch at a time."""
    batch = []
    for raw in reader:
        raw = raw.rstrip("\n")
        batch.append(_read(raw))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _read(raw: str) -> tuple[str, str | None, dict | str | None]:
    if not raw.lstrip().startswith("{"):
        return raw, raw, None
    try:
        record = json.loads(raw)
    except (ValueError, RecursionError):
        return raw, None, "not valid JSON"
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        return raw, None, "a JSON line needs a \"text\" string"
    extra = {k: v for k, v in record.items() if k != "text"}
    return raw, record["text"], extra or None
