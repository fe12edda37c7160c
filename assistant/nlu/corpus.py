"""A corpus of utterances (months of logs) parsed at full speed, in bounded memory.

Lines are read, parsed and written in batches: the grammar answers template
sentences at once, the rest go to the model together, sorted by length, so a
batch costs one run of the graph. Batches are parsed by one process per core
(`jobs`): matching templates is Python and holds the interpreter's lock, so
threads would leave a core idle; each process runs the graph on one thread.
At most two batches per process are in flight and results are written in input
order as they come back, so memory stays bounded whatever the size of the
corpus. A line may be the utterance itself or a JSON object with a `text`
field (its other fields are kept in the output under `input`), so the output
of one tool feeds the next. A line that is neither is reported in the output
as an error, never dropped silently: the output has one line per input line,
in order.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tqdm import tqdm

from assistant.nlu import bundle
from assistant.nlu.runtime import Parser

IN_FLIGHT = 2
"""Batches queued per process: one being parsed, one ready for when it is done."""


@dataclass
class Counts:
    parsed: int = 0
    skipped: int = 0
    """Lines that held no utterance (invalid JSON, no `text`): answered with an `error` line."""
    seconds: float = 0.0


def parse_corpus(folder: str | Path, source: str | Path, target: str | Path, batch_size: int = 256, progress: bool = True,
                 jobs: int = 1, threshold: float | None = None, threads: int | None = None, repair: bool = False) -> Counts:
    """Parse every line of `source` (a path, or "-" for stdin) into JSON lines in `target` (a path, or "-") with the
    model in `folder`.

    `jobs`: processes parsing batches (0: one per core), each with the model loaded and one onnxruntime thread;
    with one, the batches are parsed here (`threads`: onnxruntime's). `threshold`: out-of-scope threshold; `repair`:
    near misses of the templates repaired (`Parser.repair`).
    """
    jobs = jobs or os.cpu_count() or 1
    counts = Counts()
    started = time.perf_counter()
    with ExitStack() as stack:
        reader = sys.stdin if str(source) == "-" else stack.enter_context(open(source, encoding="utf-8", errors="replace"))
        writer = sys.stdout if str(target) == "-" else stack.enter_context(open(target, "w", encoding="utf-8"))
        total = None if str(source) == "-" or not progress else _count_lines(Path(source))
        bar = stack.enter_context(tqdm(total=total, unit=" lines", desc="parsing", disable=not progress, file=sys.stderr,
                                       mininterval=1 if sys.stderr.isatty() else 30))
        submit = (_here(Parser(folder, threads=threads, threshold=threshold, repair=repair)) if jobs == 1
                  else _processes(folder, threshold, repair, jobs, stack))
        pending: deque[tuple[list, Future]] = deque()

        def write(batch: list, lines: list[str]) -> None:
            results = iter(lines)
            for raw, text, extra in batch:
                if text is None:
                    counts.skipped += 1
                    writer.write(json.dumps({"error": extra, "line": raw[:200]}) + "\n")
                    continue
                line = next(results)  # a JSON object: its closing brace makes room for `input`
                writer.write(line[:-1] + f',"input":{json.dumps(extra)}}}\n' if extra else line + "\n")
                counts.parsed += 1
            bar.update(len(batch))

        for batch in _batches(reader, batch_size):
            pending.append((batch, submit([text for _, text, _ in batch if text is not None])))
            while len(pending) > IN_FLIGHT * jobs or (pending and pending[0][1].done()):
                done, future = pending.popleft()
                write(done, future.result())
        while pending:
            done, future = pending.popleft()
            write(done, future.result())
        writer.flush()
    counts.seconds = time.perf_counter() - started
    return counts


def _count_lines(path: Path) -> int | None:
    """Lines of a file, for the progress bar's total (a read of the file without decoding: a small share of
    parsing it); None for what is not a regular file (a pipe)."""
    if not path.is_file():
        return None
    count, last = 0, b"\n"
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def _here(parser: Parser) -> Callable[[list[str]], Future]:
    """Batches parsed in this process, as they are submitted."""

    def submit(texts: list[str]) -> Future:
        future: Future = Future()
        future.set_result(_lines(parser, texts))
        return future

    return submit


def _processes(folder: str | Path, threshold: float | None, repair: bool, jobs: int, stack: ExitStack) -> Callable[[list[str]], Future]:
    """Batches parsed by `jobs` processes, each with the model loaded once (checked here first, so a bad folder
    is one clear error, not one per process). Spawned, not forked: a fork may inherit a lock an onnxruntime
    thread held."""
    bundle.check_folder(Path(folder))
    pool = stack.enter_context(ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_load,
                                                   initargs=(str(Path(folder).resolve()), threshold, repair)))
    return lambda texts: pool.submit(_parse_here, texts)


_parser: Parser | None = None
"""A worker process's model (`_load`)."""


def _load(folder: str, threshold: float | None, repair: bool) -> None:
    global _parser
    _parser = Parser(folder, threads=1, threshold=threshold, repair=repair)


def _parse_here(texts: list[str]) -> list[str]:
    assert _parser is not None, "a worker process parses after _load"
    return _lines(_parser, texts)


def _lines(parser: Parser, texts: list[str]) -> list[str]:
    """Each utterance's result as one JSON line (made where it is parsed: a string crosses processes cheaply)."""
    return [result.model_dump_json() for result in parser.parse_batch(texts, batch_size=32)]


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
