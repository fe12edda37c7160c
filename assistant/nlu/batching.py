"""Dynamic batching: parses running at the same time in one process share one run of the model.

A server answers requests on many threads. The grammar's part of a parse is
cheap and done in each caller's own thread (`Parser.prepare`); what needs the
model is queued. A caller that finds fewer than `runs` batches under way
leads: it takes the queue as one batch (`Parser.finish`: one graph run, sorted
by length) and hands every caller its own result. Callers arriving while the
batches run queue for the next ones: a leader that is done takes the queue
(up to `max_size`) and hands it to the oldest queued caller to run. So under
load batches form without anyone waiting, and the model's cost per parse falls
as the load rises. A leader may also wait for company (up to `wait_ms`), but
only while other callers are on their way, inside their grammar step: a lone
request is never held back.

A second batch starts while one runs only once `SPILL` parses wait for it.
One run uses one core, and gunicorn's workers race to accept connections, so
one worker may hold all of them: with one run at a time it would leave the
other core idle (measured: 430 parses/s against 760 with connections spread).
A second run for every stray parse, though, splits what would have been one
batch into two that compete for the cores. The defaults (no wait, `SPILL` 4,
two runs) are what measured best behind gunicorn on 2 cores
(`scripts/bench_api.py`): a leader's wait idles its run, and the batches that
form while one runs are batching enough.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from assistant.nlu.result import ParseResult
from assistant.nlu.runtime import Parser, Pending

SPILL = 4
"""Parses waiting that start a further batch while others run (up to `runs`)."""


@dataclass(eq=False)
class _Job:
    pending: Pending
    threshold: float | None
    arrived: float = field(default_factory=time.monotonic)
    result: ParseResult | None = None
    error: BaseException | None = None
    handed: list[_Job] | None = None
    """A batch handed to this job's thread to run (its own job among them)."""

    @property
    def done(self) -> bool:
        return self.result is not None or self.error is not None


class Batcher:
    """`parse` for many threads at once, the model's part gathered into batches. Holds no thread of its own."""

    def __init__(self, parser: Parser, wait_ms: float = 0.0, max_size: int = 32, runs: int = 2):
        self.parser = parser
        self.wait = max(wait_ms, 0.0) / 1000
        self.max_size = max_size
        self.runs = max(runs, 1)
        lock = threading.Lock()
        self._cond = threading.Condition(lock)
        """Queued callers wait here for their result or a batch to run."""
        self._gather = threading.Condition(lock)
        """A gathering leader waits here for callers on their way."""
        self._queue: list[_Job] = []
        """Callers whose utterance is in no batch yet, oldest first."""
        self._arriving = 0
        """Callers in their grammar step: they may join the batch being gathered."""
        self._leaders = 0
        """Batches being gathered or run."""

    def parse(self, text: str, threshold: float | None = None, repair: bool | None = None) -> ParseResult:
        """The result `Parser.parse` gives, the model run with whatever other parses are waiting for it."""
        if self.max_size <= 1:
            return self.parser.parse(text, threshold=threshold, repair=repair)
        with self._cond:
            self._arriving += 1
        try:
            prepared = self.parser.prepare(text, repair)
        except BaseException:
            self._arrived()
            raise
        if isinstance(prepared, ParseResult):
            self._arrived()
            return prepared
        job = _Job(prepared, threshold)
        with self._cond:
            self._arriving -= 1
            self._queue.append(job)
            self._gather.notify_all()
            if self._leaders == 0 or (self._leaders < self.runs and len(self._queue) >= SPILL):
                self._leaders += 1
                deadline = job.arrived + self.wait
                while (job.handed is None and len(self._queue) < self.max_size and self._arriving
                       and (left := deadline - time.monotonic()) > 0):
                    self._gather.wait(left)
                if job.handed is not None:  # a leader that was done handed this job's thread the next batch (its slot too)
                    self._leaders -= 1
                    batch = job.handed
                else:
                    batch = self._take()
                    if not batch:  # another leader took this job, and the rest, meanwhile
                        self._leaders -= 1
            else:
                while not job.done and job.handed is None:
                    self._cond.wait()
                batch = job.handed or []
        if batch:
            try:
                self._run(batch)
            finally:
                with self._cond:
                    following = self._take()
                    if following:  # the oldest waiting caller runs the next batch; this one answers its own
                        following[0].handed = following
                    else:
                        self._leaders -= 1
                    self._cond.notify_all()
                    self._gather.notify_all()
        with self._cond:
            while not job.done:
                self._cond.wait()
        return _outcome(job)

    def _take(self) -> list[_Job]:
        """The next batch: the oldest queued callers, up to `max_size` (lock held)."""
        batch, self._queue = self._queue[: self.max_size], self._queue[self.max_size :]
        return batch

    def _arrived(self) -> None:
        """A caller on its way needs no batch after all (the grammar answered, or it failed)."""
        with self._cond:
            self._arriving -= 1
            self._gather.notify_all()

    def _run(self, batch: list[_Job]) -> None:
        by_threshold: dict[float | None, list[_Job]] = {}
        for job in batch:
            by_threshold.setdefault(job.threshold, []).append(job)
        for threshold, jobs in by_threshold.items():
            try:
                results = self.parser.finish([job.pending for job in jobs], threshold, batch_size=self.max_size)
            except BaseException as e:  # noqa: BLE001  every caller of the batch gets the error, none waits forever
                for job in jobs:
                    job.error = e
                continue
            for job, result in zip(jobs, results):
                job.result = result


def _outcome(job: _Job) -> ParseResult:
    if job.error is not None:
        raise job.error
    assert job.result is not None
    return job.result
