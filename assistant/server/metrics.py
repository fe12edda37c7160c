"""Prometheus metrics: requests and latencies by endpoint, the model version in service.

Under gunicorn every worker is a process of its own, so `assistant serve`
points `PROMETHEUS_MULTIPROC_DIR` at a private folder before the workers
start and a scrape of any worker adds up all of them.
"""

from __future__ import annotations

import glob
import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

REQUESTS = Counter("assistant_requests", "HTTP requests answered.", ["endpoint", "method", "status"])
LATENCY = Histogram("assistant_request_seconds", "Time to answer a request, by endpoint.", ["endpoint"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
MODEL = Gauge("assistant_model_info", "1 for the model version in service.", ["version"], multiprocess_mode="livemax")
SWAPS = Counter("assistant_model_swaps", "Model versions swapped in while serving.")


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


def observe(endpoint: str, method: str, status: int, seconds: float) -> None:
    """Count a request. Labels come from a fixed set (routes, HTTP's methods, statuses): a label taken from
    the request as sent would let any client create series without end."""
    REQUESTS.labels(endpoint, method if method in METHODS else "other", str(status)).inc()
    LATENCY.labels(endpoint).observe(seconds)


def model_swapped(old: str | None, new: str) -> None:
    if old is not None and old != new:
        MODEL.labels(old).set(0)
        SWAPS.inc()
    MODEL.labels(new).set(1)


class _SettledFiles(MultiProcessCollector):
    """Reads the files of workers that have sized theirs. A worker starting (after SIGHUP, or one replaced)
    creates its file empty and sizes it a moment later; a scrape in between would fail to read the first
    field (prometheus_client reads it unchecked) and answer 500. An empty file holds no samples yet."""

    def collect(self):
        return self.merge([f for f in glob.glob(os.path.join(self._path, "*.db")) if _size(f) >= 8], accumulate=True)


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:  # a dead worker's live gauges are removed at any time
        return 0


def exposition() -> tuple[bytes, str]:
    """The text format of every metric, summed over the worker processes when there are several."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        _SettledFiles(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
