"""Retraining from the API: each job a process of its own, its state a JSON file any worker can read.

Training runs in a separate, lower-priority process on one thread, so the
server keeps answering at full speed on the other core and never holds torch
in memory. Everything a job writes (the uploaded intent files, its state, its
log) stays in its folder under the server's private temporary folder; the only
thing it adds elsewhere is the new model version in the store. One job runs at
a time; a second gets 409 while the first is running.

    python -m assistant.server.jobs JOB_FOLDER     (what the server starts)
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from assistant.config import Settings
from assistant.errors import AssistantError
from assistant.files import write_atomic
from assistant.intents import load_domain
from assistant.intents.errors import IntentFileError
from assistant.nlu import bundle, store
from assistant.server.schemas import Comparison, TrainJob, TrainRequest
from assistant.speech.engines import prepare

log = logging.getLogger(__name__)

STATE = "job.json"
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\.ya?ml$")


class JobError(AssistantError):
    """A training request refused, with the HTTP status to answer it with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def write_state(folder: Path, job: TrainJob) -> None:
    write_atomic(folder / STATE, job.model_dump_json(indent=1))  # readers see the old state or the new, never half a file


def read(jobs: Path, job_id: str) -> TrainJob:
    if not re.fullmatch(r"[0-9a-f]{12}", job_id) or not (jobs / job_id / STATE).is_file():
        raise JobError(404, f"no training job {job_id!r}")
    folder = jobs / job_id
    job = TrainJob.model_validate_json((folder / STATE).read_bytes())
    if job.state in ("queued", "running") and (folder / "pid").exists() and not _alive(folder):
        job = job.model_copy(update={"state": "failed", "stage": "failed", "error": "the training process ended without a result (see its log)",
                                     "finished": datetime.now(timezone.utc)})
    return job


def _alive(folder: Path) -> bool:
    try:
        pid = int((folder / "pid").read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    try:  # a finished child not yet reaped by its parent is a zombie: not running
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def submit(jobs: Path, settings: Settings, request: TrainRequest, served: Path | None = None) -> TrainJob:
    """Check the upload, write it into a job folder and start training it; 409 while another job runs.
    `served`: the folder of the version in service (the base of `base: served`, and what the new one is compared with)."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        raise JobError(503, "training is not installed on this server: pip install 'assistant[train]'")
    for name in request.files:
        if not FILE_NAME.match(name):
            raise JobError(422, f"{name!r}: intent file names are plain names ending in .yaml or .yml")
    if not request.files and request.base is None:
        raise JobError(422, "files: give at least one intent file (or base: served)")
    if request.base == "served" and (served is None or not (served / bundle.INTENTS).is_dir()):
        raise JobError(409, f"the served version {served.name if served else '(none)'} keeps no intent files to start from "
                            "(trained before versions kept them): upload the files instead")
    with open(jobs / ".lock", "w") as lock:  # workers are processes: the check and the start happen under one file lock
        fcntl.flock(lock, fcntl.LOCK_EX)
        for other in sorted(jobs.glob("*/" + STATE)):
            if read(jobs, other.parent.name).state in ("queued", "running"):
                raise JobError(409, f"training job {other.parent.name} is still running; one job at a time")
        return _start(jobs, settings, request, served)


def _start(jobs: Path, settings: Settings, request: TrainRequest, served: Path | None) -> TrainJob:
    job_id = uuid.uuid4().hex[:12]
    folder = jobs / job_id
    intents = folder / "intents"
    if request.base == "served":
        shutil.copytree(served / bundle.INTENTS, intents)
    intents.mkdir(parents=True, exist_ok=True)
    for name, text in request.files.items():
        (intents / name).write_text(text, encoding="utf-8")
    try:
        domain = load_domain(intents)
    except IntentFileError as e:
        shutil.rmtree(folder, ignore_errors=True)
        raise JobError(422, str(e).replace(str(intents) + os.sep, "")) from None
    if not domain.intents:
        shutil.rmtree(folder, ignore_errors=True)
        raise JobError(422, "the files declare no intents")
    job = TrainJob(id=job_id, state="queued", stage="queued", progress=0.0, activate=request.activate, created=datetime.now(timezone.utc))
    overrides = request.model_dump(include={"epochs", "max_minutes", "seed", "max_per_intent"}, exclude_none=True)
    if "epochs" in overrides:
        overrides["min_steps"] = 0  # epochs asked for are taken as given
    (folder / "settings.json").write_text(json.dumps({"settings": settings.model_dump(mode="json", exclude={"server"}),
                                                      "overrides": overrides, "served": str(served) if served else None}), encoding="utf-8")
    write_state(folder, job)
    with open(folder / "log", "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "assistant.server.jobs", str(folder)], stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    (folder / "pid").write_text(str(process.pid))
    log.info("training job %s started (%d intents)", job_id, len(domain.intents))
    return job


def run(folder: Path) -> int:
    """The job process: train a new version, check it, activate it when asked; the state file tells how far it got."""
    os.nice(10)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("assistant").setLevel(logging.INFO)
    job = TrainJob.model_validate_json((folder / STATE).read_bytes())
    saved = json.loads((folder / "settings.json").read_text())
    settings = Settings.model_validate(saved["settings"])
    last = 0.0

    def update(**changes) -> None:
        nonlocal job
        job = job.model_copy(update=changes)
        write_state(folder, job)

    def progress(stage: str, fraction: float, detail: dict) -> None:
        nonlocal last
        if stage == "training" and time.monotonic() - last < 1.0:
            return
        last = time.monotonic()
        update(stage=stage, progress=round(fraction, 4), detail={k: v for k, v in detail.items() if v is not None} or job.detail)

    update(state="running", stage="preparing")
    try:
        config = settings.train.updated(threads=1, **saved["overrides"])
        models = settings.path(settings.nlu.models)
        version, trained, decision = store.train_version(models, folder / "intents", settings.path(settings.nlu.encoder), config,
                                                         make_current=False, progress=progress)
        update(version=version, stage="comparing", gate=decision)
        try:
            update(comparison=_compare(models / version, saved.get("served"), folder / "intents", config, trained.metadata.data_hash))
        except Exception:  # the version is trained and sound: a comparison that fails leaves it without one
            log.exception("comparing the new version failed")
        update(stage="preparing speech")
        prepare(models / version, settings)
        if job.activate == "force" or (job.activate and decision.activate):
            update(stage="activating", gate=decision.model_copy(update={"forced": not decision.activate}))
            store.activate(models, version)
    except Exception as e:  # any failure ends the job with its reason; the served model is untouched
        log.exception("training job failed")
        update(state="failed", stage="failed", error=str(e).splitlines()[0] if str(e) else type(e).__name__,
               finished=datetime.now(timezone.utc))
        return 1
    update(state="succeeded", stage="done", progress=1.0, finished=datetime.now(timezone.utc))
    return 0


def _compare(new: Path, served: str | None, intents: Path, config, data_hash: str) -> Comparison | None:
    """The new version against the served one on the new one's dev sentences (drawn again with the training's
    seed: the same sentences, which the data hash confirms), with its report written into its folder."""
    from assistant.intents import load_training_data
    from assistant.nlu.evaluate import compare

    data = load_training_data(intents, seed=config.seed, max_per_intent=config.max_per_intent, slips=config.slips)
    if bundle.data_hash(data.train + data.dev) != data_hash:
        log.warning("the dev sentences drawn again differ from the training's: the comparison uses the new draw")
    if not data.dev:
        return None
    return Comparison.model_validate(compare(new, Path(served) if served else None, data.dev, new / bundle.REPORT))


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1])))
