"""`lrlab export-run`: a finished job in the store written to a tracker as if it had been
logged live (the same JobLog, fed the store's metrics with their report times); a ladder with
the points it queued nested under it."""

from __future__ import annotations

from typing import Any

from lrlab.core.errors import LrlabError
from lrlab.core.tracking_targets import parse_target
from lrlab.trackers.job_log import LOGGED_KINDS, JobLog


def export_run(store: Any, job_id: int, to: str) -> list[int]:
    """Write job `job_id` (and a ladder's point jobs) to `to` (tensorboard[:DIR] or
    mlflow[:URI]); the ids written. Refuses a job that has not ended."""
    target = parse_target(to, "--to")
    job = store.get(job_id)
    if not job.is_finished:
        raise LrlabError(f"job {job_id} is {job.status}: export it once it has ended (a "
                         "running job is logged live with --log-to)")
    if job.kind not in LOGGED_KINDS:
        raise LrlabError(f"job {job_id} is a {job.kind} job: only range tests, LR checks and "
                         "training runs are logged")
    written = [job_id]
    if job.kind == "check":
        _replay(store, job, target)  # the ladder's run first: its points nest under it
        for child in job.config.get("children") or []:
            point = store.get(child)
            if point.is_finished:
                _replay(store, point, target)
                written.append(child)
        return written
    _replay(store, job, target)
    return written


def _replay(store: Any, job: Any, target: Any) -> None:
    log = JobLog(job.kind, job.config, job.id, [target], background=False)
    if job.kind != "check":
        for point in store.metrics_since(job.id):
            feed = log.step if point.scope == "step" else log.epoch
            feed(point.step, {point.key: point.value}, when=point.time)
    log.finish(job.result, job.status)
    if log.failed:
        raise LrlabError(f"export of job {job.id} to {target}: {log.failed[target]}")
