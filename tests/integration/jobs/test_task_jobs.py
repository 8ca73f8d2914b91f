"""Tasks on workers: a worker builds only the task specs registered with it, and fails any other
job with one sentence before importing anything of it; a registered task's range test, ladder
and training run on the worker's child processes and on Ray, shipped by PYTHONPATH."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobs_helpers import WorkerProcess, wait_finished, wait_for

from lrlab import lr_check
from lrlab.jobs import kinds
from lrlab.store import Store

pytestmark = pytest.mark.timeout(300)

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parents[1]  # tests/integration: the test task factories
PATH = os.pathsep.join([str(REPO), str(HERE)])
SPY = "task_factories:linear"
TABULAR = "examples.tabular:build"


@pytest.fixture(scope="module")
def marker(home: Path) -> Path:
    return home / "imported.txt"


@pytest.fixture(scope="module")
def worker(store: Store, home: Path, marker: Path) -> Iterator[WorkerProcess]:
    """A worker that trusts the tabular example only (its own --task), with both modules on
    its PYTHONPATH: importable, so only registration keeps the other out."""
    process = WorkerProcess(store.url, home, home / "worker.log", "--task", TABULAR,
                            env={"PYTHONPATH": PATH, "LRLAB_TEST_IMPORT_MARKER": str(marker),
                                 "LRLAB_TASKS": ""})
    wait_for(store.live_workers, "the worker to register")
    yield process
    assert process.stop() == 0, process.log()


def _train(spec: str, **extra: object) -> dict:
    return {"task": {"spec": spec}, "optimizer": {"name": "adam", "weight_decay": 0.0},
            "epochs": 2, **extra}


def test_an_unregistered_task_fails_unread(store: Store, worker: WorkerProcess,
                                           marker: Path) -> None:
    job = wait_finished(store, kinds.submit(store, "train", _train(SPY)))
    assert job.status == "failed"
    assert job.error.startswith(f"task '{SPY}' is not registered with this worker, so it was "
                                "not imported")
    assert f"--task {SPY}" in job.error and "\n" not in job.error
    find = wait_finished(store, kinds.submit(store, "find", {"setup": _train(SPY)}))
    assert find.status == "failed" and "not registered" in find.error
    assert not marker.exists()  # nothing of the module ran, here or in a child


def test_a_registered_tasks_find_check_and_train_run_on_the_worker(
        store: Store, worker: WorkerProcess) -> None:
    find = wait_finished(store, kinds.submit(store, "find", {"setup": _train(TABULAR),
                                                             "num_points": 40}))
    assert find.status == "succeeded", find.error
    assert find.result["config"]["setup"]["task"]["spec"] == TABULAR
    ladder = lr_check.from_range_test(find.result, job=find.id)
    check = kinds.submit(store, "check", {**ladder, "points": 3})
    wait_for(lambda: lr_check.refresh(store, store.get(check)).is_finished,
             "the ladder's three points")
    result = store.get(check).result
    assert result["objective"] == "val_accuracy" and len(result["points"]) == 3
    assert all(p["status"] == "succeeded" for p in result["points"])
    assert result["best"]["final_objective"] == max(p["final_objective"]
                                                    for p in result["points"])


def test_a_task_runs_as_a_ray_task(home: Path) -> None:
    pytest.importorskip("ray")
    with Store(f"sqlite:///{home / 'ray.db'}") as store:  # its own queue: only Ray claims
        ray_worker = WorkerProcess(store.url, home, home / "ray.log", "--executor", "ray",
                                   env={"PYTHONPATH": PATH, "LRLAB_TASKS": TABULAR})
        try:
            job = wait_finished(store, kinds.submit(store, "train", _train(TABULAR, epochs=1)))
            assert job.status == "succeeded", job.error
            assert job.result["summary"]["steps"] == 14
            assert f"job {job.id} (train): placed on Ray" in ray_worker.log()
        finally:
            assert ray_worker.stop() == 0, ray_worker.log()
