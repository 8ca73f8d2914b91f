"""Trackers on the pages: the Training and LR Check pages send a job where the user chooses
(LRLAB_LOG_TO's targets chosen to start with), and Runs exports a finished job to MLflow, read
back with MLflow's own client."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_helpers import run_page

import lrlab
from lrlab.store import Store

REPO = Path(__file__).resolve().parents[2]


def test_the_training_page_logs_the_run_where_chosen(
        store: Store, monkeypatch: pytest.MonkeyPatch, lrlab_home: Path) -> None:
    monkeypatch.setenv("LRLAB_LOG_TO", "tensorboard")
    at = run_page("training.py")
    choice = at.multiselect(key="training.log_to")
    assert choice.value == ["tensorboard"] and choice.options == ["TensorBoard", "MLflow"]
    assert any(c.value == f"TensorBoard: {lrlab_home / 'tensorboard'}" for c in at.caption)
    choice.select("mlflow").run()
    at.button(key="training.start").click().run()
    assert not at.error, [e.value for e in at.error]
    (job,) = store.list_jobs(None, kind="train")
    assert job.config["log_to"] == ["tensorboard", "mlflow"]


def test_a_bad_lrlab_log_to_is_one_sentence_and_nothing_starts(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LRLAB_LOG_TO", "wandb")
    at = run_page("training.py")
    assert [w.value for w in at.warning] == [
        "Log to: LRLAB_LOG_TO: expected tensorboard[:DIR] or mlflow[:URI], got 'wandb' (no "
        "tracker 'wandb')"]
    assert at.button(key="training.start").disabled


def test_runs_exports_a_finished_run_to_mlflow(store: Store, lrlab_home: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.syspath_prepend(str(REPO))
    monkeypatch.delenv("LRLAB_LOG_TO", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    run = lrlab.train("examples.tabular:build", epochs=1, lr=0.003, optimizer="adam",
                      device="cpu")
    at = run_page("runs.py", {"jobs": str(run["job"])})
    at.button(key="runs.export.mlflow").click().run()
    uri = f"sqlite:///{lrlab_home / 'mlflow.db'}"
    assert [s.value for s in at.success] == [f"Job #{run['job']} written to MLflow ({uri})."]
    client = MlflowClient(uri)
    (exported,) = client.search_runs([client.get_experiment_by_name("lrlab").experiment_id])
    assert exported.info.run_name == f"train-{run['job']}"
    losses = client.get_metric_history(exported.info.run_id, "train/loss")
    assert len(losses) == run["summary"]["steps"]
