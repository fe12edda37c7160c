"""Corpus parsing on a Ray cluster: the same job as `corpus.parse_corpus`, spread over many machines.

Ray Data reads the corpus (text lines, JSON lines with a `text` field, or
Parquet with a `text` column; a local path or any URI pyarrow reads, such as
s3://), hands it in batches to a pool of actors, one `Parser` each, and writes
JSON lines or Parquet files into an output folder, in input order. No shared
disk is assumed: the driver reads the model folder's runtime files once and
puts them in Ray's object store; each actor writes them to its own temporary
folder and loads them. Every input row gets one output row: its own columns,
`intent`, `confidence`, `in_scope` and `source` for analytics in any
dataframe tool, and `result`, the whole `ParseResult` as JSON (what `assistant
parse` prints for the line). Needs the `cluster` extra (`ray[data]`).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from assistant.errors import AssistantError
from assistant.nlu import bundle

log = logging.getLogger(__name__)

RUNTIME_FILES = (bundle.METADATA, bundle.LABELS, bundle.ONNX_INT8, bundle.TOKENIZER, bundle.DOMAIN, bundle.SCOPE)
"""What a `Parser` reads from a model folder (speech files, intent sources and reports stay behind)."""
IO_TASKS = {"num_cpus": 0}
"""Reading and writing tasks reserve no CPU: they are light next to parsing, and with one actor per CPU (the
default) a read that waits for a free CPU would wait for ever, the actors holding every one."""


class ClusterError(AssistantError):
    """The cluster job cannot run as asked (Ray missing, unreadable input); the message says why."""


class ParseActor:
    """One model per actor, loaded once from the files the driver shipped; parses a batch of rows at a time."""

    def __init__(self, model: dict[str, bytes], threshold: float | None = None, repair: bool = False):
        import ray

        from assistant.nlu.runtime import Parser

        if isinstance(model, ray.ObjectRef):
            model = ray.get(model)
        self._folder = tempfile.TemporaryDirectory(prefix="assistant-model-")
        for name, data in model.items():
            (Path(self._folder.name) / name).write_bytes(data)
        self.parser = Parser(self._folder.name, threads=1, threshold=threshold, repair=repair)

    def __call__(self, batch: dict) -> dict:
        texts = ["" if t is None else str(t) for t in batch["text"]]
        results = self.parser.parse_batch(texts, batch_size=64)
        out = dict(batch)
        out["intent"] = [r.intent.name if r.intent else None for r in results]
        out["confidence"] = [r.intent.confidence if r.intent else None for r in results]
        out["in_scope"] = [r.in_scope for r in results]
        out["source"] = [r.source for r in results]
        out["result"] = [r.model_dump_json() for r in results]
        return out


def pack(folder: str | Path) -> dict[str, bytes]:
    """The runtime files of a model folder, checked, as bytes to ship to machines that do not share its disk."""
    folder = Path(folder).resolve()
    bundle.check_folder(folder)
    return {name: (folder / name).read_bytes() for name in RUNTIME_FILES if (folder / name).is_file()}


def parse_on_ray(folder: str | Path, source: str, target: str, address: str | None = None, actors: int | None = None,
                 batch_size: int = 256, threshold: float | None = None, repair: bool = False) -> None:
    """Parse the corpus `source` into the folder `target` (Parquet when its name ends in .parquet, else JSON lines)
    with `actors` parsers (default: one per CPU of the cluster).

    `address`: the cluster to join ("auto", "ray://head:10001"); None starts Ray on this machine (or joins the
    instance this process already started).
    """
    try:
        import ray
    except ImportError:
        raise ClusterError("Ray is not installed: pip install 'assistant[cluster]'") from None
    model = pack(folder)
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # output rows in input order, as `assistant parse` writes them
    context.enable_progress_bars = True
    dataset = _read(source)
    if "text" not in dataset.columns():
        raise ClusterError(f"{source}: no `text` column (columns: {', '.join(dataset.columns())})")
    actors = actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
    parsed = dataset.map_batches(ParseActor, fn_constructor_kwargs={"model": ray.put(model), "threshold": threshold, "repair": repair},
                                 batch_size=batch_size, concurrency=actors, num_cpus=1, batch_format="numpy")
    if target.rstrip("/").endswith(".parquet"):
        parsed.write_parquet(target, ray_remote_args=IO_TASKS)
    else:
        parsed.write_json(target, ray_remote_args=IO_TASKS)
    log.info("parsed on Ray into %s", target)


def _read(source: str):
    import ray

    name = source.rstrip("/")
    if name.endswith(".parquet"):
        return ray.data.read_parquet(source, ray_remote_args=IO_TASKS)
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return ray.data.read_json(source, lines=True, ray_remote_args=IO_TASKS)
    return ray.data.read_text(source, drop_empty_lines=False, ray_remote_args=IO_TASKS)
