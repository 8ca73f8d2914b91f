"""Logging a job as it runs: its reporter and its trackers' log hear the same reports (a Tee),
and its end logs its result.
Every place a job runs (a worker's child, `lrlab find|check|train`, `lrlab.find|check|train`)
wraps it in `tracking`; a ladder whose points ran on workers is logged when it ends."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from lrlab.core.errors import LrlabError
from lrlab.core.reporting import Reporter, Tee
from lrlab.core.tracking_targets import resolve_targets
from lrlab.trackers.job_log import LOGGED_KINDS, JobLog, TrackerWarning


def log_to_of(kind: str, config: Mapping[str, Any]) -> Any:
    """A job's ``log_to``: its training config's, or its setup's (a range test, a ladder)."""
    setup = config.get("setup") if kind in ("find", "check") else config
    return (setup or {}).get("log_to") if isinstance(setup, Mapping) else None


@dataclass
class Tracked:
    """A job being tracked: the reporter to run it with, and its end to say."""

    reporter: Reporter
    log: JobLog | None = None
    result: dict[str, Any] | None = None
    status: str = "failed"
    points: int = 0  # points of a ladder trained in this process so far

    def ended(self, result: Mapping[str, Any], status: str = "succeeded") -> None:
        self.result, self.status = dict(result), status

    def point(self, config: Mapping[str, Any], train: Callable[[Reporter], dict[str, Any]],
              reporter: Reporter) -> dict[str, Any]:
        """Train one point of a ladder run in this process, logged nested under the ladder."""
        if self.log is None:
            return train(reporter)
        from lrlab.core.optimizer_table import OPTIMIZERS
        from lrlab.lr_check.plan import peak_lr  # here: importing the trackers stays light

        self.points += 1
        optimizer = config["optimizer"]["name"]
        what = (optimizer if OPTIMIZERS[optimizer].lr_free  # an LR-free baseline
                else f"lr{peak_lr(config):.4g}")
        child = self.log.child("train", config, f"point-{self.points}-{what}"
                                                f"-seed{config.get('seed', 0)}")
        try:
            result = train(Tee(reporter, child))
        except BaseException:
            child.finish(None, "failed")
            raise
        child.finish(result, "succeeded")
        return result


@contextmanager
def tracking(kind: str, config: Mapping[str, Any], reporter: Reporter,
             job_id: int | None = None) -> Iterator[Tracked]:
    """Run a job inside: its ``log_to`` (or ``LRLAB_LOG_TO``) trackers follow its reports, and
    get its result once `Tracked.ended` says it; a job that raises is logged as failed."""
    try:
        targets = resolve_targets(log_to_of(kind, config)) if kind in LOGGED_KINDS else []
    except LrlabError as exc:  # LRLAB_LOG_TO that cannot be read never fails a job
        warnings.warn(TrackerWarning(f"lrlab: not logging this job: {exc}"), stacklevel=3)
        targets = []
    if not targets:
        yield Tracked(reporter)
        return
    log = JobLog(kind, config, job_id, targets)
    tracked = Tracked(Tee(reporter, log), log)
    try:
        yield tracked
    finally:
        log.finish(tracked.result, tracked.status)


def log_ended_ladder(job: Any) -> threading.Thread | None:
    """A ladder whose points ran as jobs, logged once it has ended: its run (which its points
    are nested under) gets the verdict and the ladder's files. Written by a thread of its own,
    so the page or worker that ended the ladder never waits on a tracker (not a daemon: a
    command that ended it finishes the writing before it exits)."""
    targets = resolve_targets(log_to_of("check", job.config))
    if not targets:
        return None
    thread = threading.Thread(name=f"lrlab-trackers-check-{job.id}", target=lambda: JobLog(
        "check", job.config, job.id, targets, background=False).finish(job.result, job.status))
    thread.start()
    return thread
