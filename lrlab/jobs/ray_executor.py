"""Placing claimed jobs on a Ray cluster (`lrlab worker --executor ray`), opt-in.

The worker still claims each job from the store, heartbeats its lease and records its outcome:
the store stays the one source of truth, and pages and CLI see no difference. The job itself
runs as a Ray task with the resources it asks for (one GPU per job on a cluster with GPUs,
fractional allowed; one CPU otherwise), and streams its metrics from there straight into the
store. A cancel reaches the task through the store (the runner stops at its next step) and, past
the grace period, through `ray.cancel`. A task whose Ray worker or node dies is not retried: the
job is failed with Ray's reason, and what it reported stays. Ray is imported only here.
"""

from __future__ import annotations

import os
import time
from typing import Any

from lrlab.jobs.child_task import run_child_task
from lrlab.store import Store

CANCEL_POLL_S = 0.5


class _CancelFlag:
    """The job's cancel flag as the task sees it: the store's, read at most every 0.5 s."""

    def __init__(self, store: Store, job_id: int) -> None:
        self.store, self.job_id = store, job_id
        self._checked, self._set = 0.0, False

    def is_set(self) -> bool:
        now = time.monotonic()
        if not self._set and now - self._checked >= CANCEL_POLL_S:
            self._checked = now
            self._set = self.store.get(self.job_id).cancel_requested
        return self._set


def run_task(task: Any) -> tuple[str, Any]:
    """A job inside a Ray worker: ("ok", result) or ("error", text), as a local child sends."""
    return run_child_task(task, lambda store: _CancelFlag(store, task.job_id),
                          note=f"running in Ray worker process {os.getpid()}")


class RayPlacement:
    """The worker's handle on the cluster: start a job's task, wait for it, cancel it."""

    def __init__(self, address: str | None, gpus_per_job: float | None) -> None:
        import ray

        if not ray.is_initialized():
            ray.init(address=address or os.environ.get("RAY_ADDRESS") or None,
                     include_dashboard=False, log_to_driver=False)
        self.ray = ray
        cluster_gpus = ray.cluster_resources().get("GPU", 0)
        self.gpus = (1.0 if cluster_gpus else 0.0) if gpus_per_job is None else gpus_per_job
        # max_retries=0: a job whose process died is failed with the reason, never run twice.
        self._task = ray.remote(max_retries=0)(run_task)

    def describe(self) -> str:
        resources = self.ray.cluster_resources()
        return (f"Ray cluster with {resources.get('CPU', 0):g} CPUs and "
                f"{resources.get('GPU', 0):g} GPUs ({self.gpus:g} GPU per job)")

    def place(self, task: Any) -> RayJob:
        """The job as a Ray task asking for what it needs: a data-parallel run (nproc ranks)
        asks for nproc CPUs and nproc × the per-job GPUs."""
        ranks = int(task.config.get("nproc", 1) or 1)
        return RayJob(self.ray, self._task.options(num_cpus=ranks,
                                                   num_gpus=self.gpus * ranks).remote(task))


class RayJob:
    """A job running as a Ray task, as the worker supervises it (see jobs.worker._ChildJob)."""

    reaps_others = False

    def __init__(self, ray: Any, ref: Any) -> None:
        self.ray, self.ref = ray, ref

    def finished(self, timeout_s: float) -> bool:
        ready, _ = self.ray.wait([self.ref], timeout=timeout_s)
        return bool(ready)

    def ask_to_stop(self, cancel: bool) -> None:
        """A cancel reaches the task through the store (it reads the flag); a worker's shutdown
        interrupts it."""
        if not cancel:
            self.ray.cancel(self.ref, force=False)

    def terminate(self) -> None:
        self.ray.cancel(self.ref, force=True)

    def outcome(self) -> tuple[str, Any]:
        """The task's outcome, or why Ray has none (cancelled, its worker or node died)."""
        try:
            return self.ray.get(self.ref)
        except self.ray.exceptions.TaskCancelledError:
            return ("error", "cancelled in Ray before it reported a result")
        except self.ray.exceptions.RayError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return ("error", f"the job's Ray task died ({type(exc).__name__}): {reason}")

    def cancel_seen(self, store: Store, job_id: int) -> bool:
        """The task reads the cancel flag itself and may stop before a heartbeat saw it."""
        return store.get(job_id).cancel_requested

    def how_it_ended(self) -> str:
        return "ended"  # a Ray task always reports an outcome (outcome() says why not)

    def close(self) -> None:
        pass
