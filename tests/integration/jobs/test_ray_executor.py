"""`lrlab worker --executor ray` on a local Ray instance: claim, run, stream, cancel, and a Ray
worker killed mid-job (the job fails with the reason, the next job still runs). Without the
flag nothing imports Ray."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobs_helpers import WorkerProcess, wait_finished, wait_for

from lrlab.store import Store

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def worker(store: Store, home: Path) -> Iterator[WorkerProcess]:
    process = WorkerProcess(store.url, home, home / "worker.log", "--executor", "ray",
                            "--cancel-grace", "3")
    wait_for(store.live_workers, "the Ray worker to register")
    yield process
    assert process.stop() == 0, process.log()


def _ray_task_pids() -> list[int]:
    """Ray worker processes running a job: Ray titles them after the task's function."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if b"ray::run_task" in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_a_job_runs_as_a_ray_task_and_streams_into_the_store(store: Store,
                                                               worker: WorkerProcess) -> None:
    job_id = store.submit("selftest", {"steps": 30, "step_seconds": 0.05})
    wait_for(lambda: store.metrics_since(job_id), "metrics from the Ray task")
    job = wait_finished(store, job_id)
    assert job.status == "succeeded", job.error
    assert job.result["steps_done"] == 30
    losses = [m for m in store.metrics_since(job_id) if m.key == "loss"]
    assert len(losses) == 30
    assert f"job {job_id} (selftest): placed on Ray" in worker.log()
    assert "Ray cluster with" in (store.live_workers()[0].device or "")


def test_cancel_reaches_the_ray_task(store: Store, worker: WorkerProcess) -> None:
    job_id = store.submit("selftest", {"steps": 2000, "step_seconds": 0.05})
    wait_for(lambda: store.metrics_since(job_id), "the job to report")
    store.request_cancel(job_id)
    job = wait_finished(store, job_id)
    assert job.status == "cancelled"
    assert 0 < job.result["steps_done"] < 2000  # stopped between steps, result kept


def test_a_killed_ray_worker_fails_its_job_and_the_next_job_runs(
    store: Store, worker: WorkerProcess
) -> None:
    job_id = store.submit("selftest", {"steps": 2000, "step_seconds": 0.05})
    wait_for(lambda: store.metrics_since(job_id), "the job to report")
    reported = len(store.metrics_since(job_id))
    pids = wait_for(_ray_task_pids, "the Ray worker running the job")
    os.kill(pids[0], signal.SIGKILL)
    job = wait_finished(store, job_id)
    assert job.status == "failed"
    assert "the job's Ray task died" in job.error
    assert len(store.metrics_since(job_id)) >= reported  # nothing reported is lost
    after = store.submit("selftest", {"steps": 5})
    assert wait_finished(store, after).status == "succeeded"


def test_the_local_executor_imports_no_ray() -> None:
    code = ("import sys; from lrlab.jobs.worker import Worker, WorkerOptions; "
            "import lrlab.cli.jobs; assert 'ray' not in sys.modules, 'ray imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
