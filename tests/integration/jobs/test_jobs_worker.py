"""A real `lrlab worker` running selftest jobs: success, failure, cancel (cooperative and forced).

One worker serves the whole module (starting one costs a torch import); each test queues its own
job and waits for it, so the tests do not depend on each other's order.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobs_helpers import WorkerProcess, wait_finished, wait_for

from lrlab.store import Store

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def worker(store: Store, home: Path) -> Iterator[WorkerProcess]:
    process = WorkerProcess(store.url, home, home / "worker.log", "--cancel-grace", "2")
    wait_for(store.live_workers, "the worker to register")
    yield process
    assert process.stop() == 0, process.log()


def running_with_metrics(store: Store, job_id: int) -> bool:
    return store.get(job_id).status == "running" and bool(store.metrics_since(job_id))


def test_a_job_runs_to_success_with_its_metrics_and_result(
    store: Store, worker: WorkerProcess
) -> None:
    job_id = store.submit("selftest", {"steps": 30, "lr": 0.2})
    job = wait_finished(store, job_id)
    assert job.status == "succeeded", job.error
    assert job.worker == store.live_workers()[0].id
    assert job.progress == 1.0 and job.error is None
    assert job.result is not None
    assert job.result["steps_done"] == 30 and not job.result["stopped"]
    metrics = store.metrics_since(job_id)
    assert [m.seq for m in metrics] == list(range(1, 61))
    losses = [m.value for m in metrics if m.key == "loss"]
    assert [m.step for m in metrics if m.key == "loss"] == list(range(30))
    assert losses[-1] < losses[0] and losses[-1] == pytest.approx(job.result["final_loss"])


def test_a_runner_exception_fails_the_job_with_type_message_and_place(
    store: Store, worker: WorkerProcess
) -> None:
    job_id = store.submit("selftest", {"steps": 5, "fail_at_step": 2})
    job = wait_finished(store, job_id)
    assert job.status == "failed"
    assert job.error is not None
    assert job.error.startswith("SelfTestError: selftest: failure requested at step 2 (at ")
    assert "selftest.py:" in job.error and "in run_from_config" in job.error
    # The steps before the failure were reported and are kept.
    assert [m.step for m in store.metrics_since(job_id) if m.key == "loss"] == [0, 1]


def test_an_lrlab_error_in_the_runner_is_the_jobs_error_verbatim(
    store: Store, worker: WorkerProcess
) -> None:
    job_id = store.submit("selftest", {"steps": 0})  # bypasses submit-time validation
    job = wait_finished(store, job_id)
    assert job.status == "failed"
    assert job.error == "selftest steps: expected an integer in [1, 1000000], got 0"


def test_cancel_stops_a_cooperative_run_and_its_process(
    store: Store, worker: WorkerProcess
) -> None:
    job_id = store.submit("selftest", {"steps": 1_000_000, "step_seconds": 0.01})
    wait_for(lambda: running_with_metrics(store, job_id), "the job to report metrics")
    assert store.request_cancel(job_id) == "running"
    job = wait_finished(store, job_id)
    assert job.status == "cancelled" and job.error is None
    assert job.result is not None and job.result["stopped"]
    assert 0 < job.result["steps_done"] < 1_000_000
    gone = worker.job_process(job_id)
    wait_for(lambda: gone not in worker.spawned_children(), "the job's process to be gone")


def test_cancel_terminates_a_run_that_does_not_stop_within_the_grace_period(
    store: Store, worker: WorkerProcess
) -> None:
    # After its first step the run sleeps for a minute without looking at the stop flag.
    job_id = store.submit("selftest", {"steps": 2, "step_seconds": 60})
    wait_for(lambda: running_with_metrics(store, job_id), "the job to report its first step")
    store.request_cancel(job_id)
    job = wait_finished(store, job_id)
    assert job.status == "cancelled"
    assert job.error == "did not stop within 2 s; terminated"
    assert job.result is None
    gone = worker.job_process(job_id)
    wait_for(lambda: gone not in worker.spawned_children(), "the job's process to be gone")
    assert len(store.metrics_since(job_id)) == 2  # loss and lr of step 0


def test_a_cancelled_queued_job_is_never_run(store: Store, worker: WorkerProcess) -> None:
    blocker = store.submit("selftest", {"steps": 1_000_000, "step_seconds": 0.01})
    queued = store.submit("selftest", {"steps": 1})
    wait_for(lambda: running_with_metrics(store, blocker), "the first job to run")
    assert store.request_cancel(queued) == "cancelled"
    store.request_cancel(blocker)
    wait_finished(store, blocker)
    after = store.submit("selftest", {"steps": 1})
    assert wait_finished(store, after).status == "succeeded"
    job = store.get(queued)
    assert job.status == "cancelled" and job.worker is None and job.started is None


def _torch_loaded(pid: int) -> bool:
    """Whether process pid has torch's library mapped (it has imported torch)."""
    try:
        return "libtorch_cpu" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def test_a_job_goes_to_a_child_that_waited_warm_with_torch_imported(
    store: Store, worker: WorkerProcess
) -> None:
    waiting = wait_for(lambda: [p for p in worker.spawned_children() if _torch_loaded(p)],
                       "a warm child waiting for the next job")
    assert len(waiting) == 1
    job_id = store.submit("find", {"model": "small_cnn", "dataset": "digits", "num_points": 8,
                                   "device": "cpu"})
    assert wait_finished(store, job_id).status == "succeeded"
    assert worker.job_process(job_id) == waiting[0]  # the job ran in the warm child
    # ... which exited after its one job; a new one waits for the next
    wait_for(lambda: [p for p in worker.spawned_children() if p != waiting[0]],
             "the next warm child")
    assert waiting[0] not in worker.spawned_children()


def test_a_waiting_child_that_died_is_replaced_when_a_job_comes(
    store: Store, worker: WorkerProcess
) -> None:
    (waiting,) = wait_for(worker.spawned_children, "a child waiting for the next job")
    os.kill(waiting, signal.SIGKILL)
    wait_for(lambda: waiting not in worker.spawned_children(), "the waiting child to be gone")
    job_id = store.submit("selftest", {"steps": 3})
    assert wait_finished(store, job_id).status == "succeeded"
    assert worker.job_process(job_id) != waiting


TINY_TRAIN = {"model": "small_cnn", "width": 8, "dataset": "synthetic", "limit": 240,
              "batch_size": 32, "device": "cpu"}


def test_a_training_job_streams_metrics_and_leaves_its_run_folder(
    store: Store, worker: WorkerProcess, home: Path
) -> None:
    job_id = store.submit("train", {**TINY_TRAIN, "epochs": 2})
    job = wait_finished(store, job_id)
    assert job.status == "succeeded", job.error
    summary = job.result["summary"]
    assert summary["epochs_done"] == 2 and summary["steps"] == 12
    metrics = store.metrics_since(job_id)
    assert [m.step for m in metrics if m.key == "loss"] == list(range(12))
    assert [m.step for m in metrics if m.key == "val_top1"] == [0, 1]
    assert [m.value for m in metrics if m.key == "val_top1"][-1] == summary["final_val_top1"]
    folder = home / "runs" / str(job_id)
    assert {p.name for p in folder.iterdir()} == {"config.json", "metrics.jsonl",
                                                  "summary.json", "checkpoint.pt"}


def test_a_training_job_is_cancelled_between_steps(store: Store, worker: WorkerProcess) -> None:
    job_id = store.submit("train", {**TINY_TRAIN, "epochs": 200})
    wait_for(lambda: running_with_metrics(store, job_id), "the training job to report")
    store.request_cancel(job_id)
    job = wait_finished(store, job_id)
    assert job.status == "cancelled"
    assert any(m.key == "loss" for m in store.metrics_since(job_id))  # kept
    assert 0 < job.progress < 0.5  # how far it got, not a full bar


def test_a_diverging_training_job_fails_naming_the_step(
    store: Store, worker: WorkerProcess
) -> None:
    schedule = {"format": "lrlab.schedule/1", "base_lr": 1e9, "total_steps": 12,
                "main": {"kind": "constant"}}
    job_id = store.submit("train", {**TINY_TRAIN, "epochs": 2, "schedule": schedule})
    job = wait_finished(store, job_id)
    assert job.status == "failed"
    assert re.match(r"training stopped: non-finite loss \(nan\) at step \d+ \(epoch 1, "
                    r"lr 1e\+09\)", job.error), job.error
