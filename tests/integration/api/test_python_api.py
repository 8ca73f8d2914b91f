"""`lrlab.find`, `lrlab.check` and `lrlab.train` in your own process: the same results as the
command line, each kept in the store as a job with its metrics while it runs, a cancel from the
store honoured, a failure recorded with its sentence, and nothing stored with record=False."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
from jobs_helpers import wait_for
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lrlab
from lrlab.core.errors import LrlabError
from lrlab.store import Store

pytestmark = pytest.mark.timeout(300)


def build(seed: int = 0, n: int = 256) -> lrlab.Task:
    """A task defined where it is used, as in a notebook."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = (x[:, 0] - x[:, 1] > 0).long()
    return lrlab.Task(model=nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)),
                      train=DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True),
                      val=DataLoader(TensorDataset(x[:64], y[:64]), batch_size=64))


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jobs.db'}"


def test_find_check_train_are_recorded_with_their_metrics(db: str, tmp_path: Path) -> None:
    found = lrlab.find(build, optimizer="adam", weight_decay=0.0, epochs=4, num_points=60, db=db)
    assert found["format"] == "lrlab.range_test/2" and found["suggestions"]["consensus"]
    assert found["config"]["setup"]["task"]["spec"] == f"{__name__}:build"
    ladder = lrlab.check(found, points=3, db=db)
    assert ladder["objective"] == "val_loss" and len(ladder["points"]) == 3
    run = lrlab.train(build, schedule=found["advice"]["onecycle"], optimizer="adam",
                      weight_decay=0.0, epochs=4, out=tmp_path / "run", db=db)
    assert run["schedule"]["total_steps"] == run["summary"]["steps"] == 32
    assert (tmp_path / "run" / "weights.pt").exists()
    with Store(db) as store:
        jobs = {j.kind: store.get(j.id) for j in store.list_jobs(None)}
        assert {k: j.status for k, j in jobs.items()} == {
            "find": "succeeded", "check": "succeeded", "train": "succeeded"}
        assert jobs["find"].id == found["job"] and jobs["check"].config["range_test"] == \
            found["job"]
        assert jobs["find"].result["suggestions"] == found["suggestions"]
        losses = [m for m in store.metrics_since(found["job"]) if m.key == "loss"]
        assert len(losses) == len(found["lr"])  # every point, live in the store
        assert [m.key for m in store.metrics_since(run["job"])].count("lr") == 32


def test_record_false_keeps_the_store_empty(db: str) -> None:
    result = lrlab.train(build, lr=0.01, epochs=1, record=False, db=db)
    assert result["job"] is None and result["summary"]["steps"] == 8
    with Store(db) as store:
        assert store.list_jobs(None) == []


def test_a_failure_is_recorded_with_its_sentence_and_raised(db: str) -> None:
    with pytest.raises(LrlabError, match="its arguments do not fit the factory"):
        lrlab.train(build, args={"depth": 3}, epochs=1, db=db)
    with Store(db) as store:
        (job,) = store.list_jobs(None)
        assert job.status == "failed" and "do not fit the factory" in job.error


def test_a_cancel_from_the_store_stops_the_call(db: str) -> None:
    done: dict = {}
    worker = threading.Thread(target=lambda: done.update(lrlab.train(
        build, args={"n": 4096}, lr=1e-3, epochs=50, db=db)))
    worker.start()
    with Store(db) as store:
        job_id = wait_for(lambda: next((j.id for j in store.list_jobs(None)), None),
                          "the run to be recorded")
        wait_for(lambda: store.metrics_since(job_id), "the run's first metrics")
        store.request_cancel(job_id)
        worker.join(timeout=120)
        assert not worker.is_alive()
        assert store.get(job_id).status == "cancelled"
    assert done["summary"]["stop_reason"].startswith("cancelled")
    assert done["summary"]["steps"] < 50 * 128
