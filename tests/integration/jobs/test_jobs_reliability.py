"""The reliability promises, with real processes: exactly-once claims, dead workers, shutdown."""

from __future__ import annotations

import collections
import re
import signal
from pathlib import Path

import pytest
from jobs_helpers import WorkerProcess, wait_finished, wait_for

from lrlab.store import Store

pytestmark = pytest.mark.timeout(240)
LONG_RUN = {"steps": 1_000_000, "step_seconds": 0.01}


@pytest.fixture
def store(lrlab_home: Path) -> Store:
    with Store(f"sqlite:///{lrlab_home / 'jobs.db'}") as s:
        yield s


def test_two_workers_racing_over_the_queue_claim_each_job_exactly_once(
    store: Store, lrlab_home: Path
) -> None:
    ids = [store.submit("selftest", {"steps": 2}) for _ in range(40)]
    workers = [WorkerProcess(store.url, lrlab_home, lrlab_home / f"w{i}.log") for i in range(2)]
    try:
        for job_id in ids:
            assert wait_finished(store, job_id).status == "succeeded"
    finally:
        codes = [w.stop() for w in workers]
    assert codes == [0, 0]
    # Every start of a job is logged by the worker that claimed it: each id once, over both logs.
    starts = collections.Counter(
        int(m) for w in workers for m in re.findall(r"job (\d+) \(selftest\): started", w.log())
    )
    assert sorted(starts) == ids
    assert set(starts.values()) == {1}
    # Each job ran under the worker that logged it, and produced its own two steps of metrics.
    by_worker = collections.Counter(store.get(i).worker for i in ids)
    assert sum(by_worker.values()) == 40, by_worker
    assert all(len(store.metrics_since(i)) == 4 for i in ids)


def test_kill_9_of_a_worker_fails_its_job_and_a_restarted_worker_takes_the_next(
    store: Store, lrlab_home: Path
) -> None:
    timeout = ["--heartbeat-timeout", "3"]
    first = WorkerProcess(store.url, lrlab_home, lrlab_home / "first.log", *timeout)
    doomed = store.submit("selftest", LONG_RUN)
    wait_for(
        lambda: store.get(doomed).status == "running" and len(store.metrics_since(doomed)) >= 10,
        "the job to run and report metrics",
    )
    dead_worker = store.get(doomed).worker
    first.stop(signal.SIGKILL)
    written_before_reap = len(store.metrics_since(doomed))
    following = store.submit("selftest", {"steps": 3})

    second = WorkerProcess(store.url, lrlab_home, lrlab_home / "second.log", *timeout)
    try:
        job = wait_finished(store, doomed)
        assert job.status == "failed"
        assert job.error is not None
        assert re.fullmatch(
            rf"worker {re.escape(dead_worker)} stopped heartbeating \(presumed dead\) at "
            r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC",
            job.error,
        ), job.error
        kept = store.metrics_since(doomed)
        assert len(kept) >= written_before_reap
        assert [m.seq for m in kept] == list(range(1, len(kept) + 1))

        nxt = wait_finished(store, following)
        assert nxt.status == "succeeded"
        assert nxt.worker != dead_worker
    finally:
        assert second.stop() == 0


def test_sigterm_stops_the_worker_and_fails_its_running_job_clearly(
    store: Store, lrlab_home: Path
) -> None:
    worker = WorkerProcess(store.url, lrlab_home, lrlab_home / "w.log", "--cancel-grace", "5")
    job_id = store.submit("selftest", LONG_RUN)
    wait_for(lambda: store.metrics_since(job_id), "the job to report metrics")
    assert worker.stop(signal.SIGTERM) == 0
    job = store.get(job_id)
    assert job.status == "failed"
    assert job.error == f"worker {job.worker} was stopped (SIGTERM) while running this job"
    assert job.result is not None and job.result["stopped"]  # the run stopped cooperatively
    assert store.live_workers() == []
    assert "stopped (SIGTERM)" in worker.log()
