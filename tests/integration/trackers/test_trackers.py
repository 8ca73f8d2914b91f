"""Jobs logged to TensorBoard and MLflow, read back with their own readers (TensorBoard's
event accumulator, an MLflow client on an SQLite tracking store): metric names, steps and
values equal the store's, a ladder's points nested under it, the files; an export of a
finished job equal to live logging; an unreachable tracker costing the job nothing but one
warning. Each test logs the tabular example task (a few seconds)."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from jobs_helpers import WorkerProcess, wait_finished, wait_for

import lrlab
from lrlab.jobs import kinds
from lrlab.store import Store
from lrlab.trackers import TrackerWarning, export_run, metric_name

pytestmark = pytest.mark.timeout(300)
pytest.importorskip("mlflow")
pytest.importorskip("tensorboard")

REPO = Path(__file__).resolve().parents[3]
TABULAR = "examples.tabular:build"
RUN = {"optimizer": "adam", "weight_decay": 0.0, "device": "cpu", "precision": "fp32"}


def tb_scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value)]} of every event file in `folder` itself."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)]
            for tag in events.Tags()["scalars"]}


def tb_tags(folder: Path) -> dict[str, list[str]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder), size_guidance={"images": 0, "tensors": 0})
    events.Reload()
    return events.Tags()


def mlflow_runs(uri: str) -> dict[str, object]:
    """{run name: run} of the lrlab experiment."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("lrlab")
    return {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}


def history(uri: str, run_id: str, key: str) -> list[tuple[int, float]]:
    from mlflow.tracking import MlflowClient

    return sorted((m.step, m.value) for m in MlflowClient(uri).get_metric_history(run_id, key))


def artifacts(uri: str, run_id: str) -> set[str]:
    from mlflow.tracking import MlflowClient

    return {a.path for a in MlflowClient(uri).list_artifacts(run_id)}


def stored(store: Store, job_id: int, kind: str) -> dict[str, list[tuple[int, float]]]:
    """The store's metrics of a job under their tracker names."""
    out: dict[str, list[tuple[int, float]]] = {}
    for m in store.metrics_since(job_id):
        out.setdefault(metric_name(kind, m.scope, m.key), []).append((m.step, m.value))
    return {k: sorted(v) for k, v in out.items()}


def close(a: dict[str, list[tuple[int, float]]], b: dict[str, list[tuple[int, float]]],
          rel: float = 0.0) -> None:
    """Equal names, steps and values (TensorBoard keeps float32: `rel`)."""
    assert sorted(a) == sorted(b)
    for key in a:
        assert [s for s, _ in a[key]] == [s for s, _ in b[key]], key
        assert [v for _, v in a[key]] == pytest.approx([v for _, v in b[key]], rel=rel), key


@pytest.fixture
def where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    monkeypatch.syspath_prepend(str(REPO))
    monkeypatch.delenv("LRLAB_LOG_TO", raising=False)
    db = f"sqlite:///{tmp_path / 'jobs.db'}"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return {"db": db, "uri": uri, "tb": tmp_path / "tb",
            "log_to": [f"tensorboard:{tmp_path / 'tb'}", f"mlflow:{uri}"]}


def test_a_training_run_is_logged_live_as_the_store_keeps_it(where: dict) -> None:
    run = lrlab.train(TABULAR, epochs=2, lr=0.003, log_to=where["log_to"], db=where["db"],
                      **RUN)
    job = run["job"]
    with Store(where["db"]) as store:
        metrics = stored(store, job, "train")
    assert {"train/loss", "train/lr", "eval/val_accuracy", "eval/val_loss"} <= set(metrics)
    assert len(metrics["train/loss"]) == run["summary"]["steps"]

    tb = tb_scalars(where["tb"] / f"train-{job}")
    summary = {k: v for k, v in tb.items() if k.startswith("summary/")}
    close({k: v for k, v in tb.items() if k not in summary}, metrics, rel=1e-6)
    assert summary["summary/final_objective"] == [
        (0, pytest.approx(run["summary"]["final_objective"], rel=1e-6))]
    texts = tb_tags(where["tb"] / f"train-{job}")["tensors"]
    assert {"config/text_summary", "schedule.json/text_summary"} <= set(texts)

    mlrun = mlflow_runs(where["uri"])[f"train-{job}"]
    assert mlrun.info.status == "FINISHED" and mlrun.data.tags["lrlab.job"] == str(job)
    assert mlrun.data.params["task.spec"] == TABULAR
    assert mlrun.data.params["optimizer.name"] == "adam"
    close({k: history(where["uri"], mlrun.info.run_id, k) for k in metrics}, metrics)
    assert artifacts(where["uri"], mlrun.info.run_id) == {"config.json", "schedule.json",
                                                         "summary.json"}
    kept = where["tb"].parent / "mlflow-artifacts"  # beside the database, not in the cwd
    assert {p.name for p in kept.glob(f"{mlrun.info.run_id}/artifacts/*")} == {
        "config.json", "schedule.json", "summary.json"}


def test_a_range_test_is_logged_with_its_suggestions_and_figure(where: dict) -> None:
    found = lrlab.find(TABULAR, epochs=2, num_points=30, log_to=where["log_to"],
                       db=where["db"], **RUN)
    job = found["job"]
    with Store(where["db"]) as store:
        metrics = stored(store, job, "find")
    assert {"range_test/lr", "range_test/loss"} <= set(metrics)
    assert [v for _, v in metrics["range_test/lr"]] == pytest.approx(found["lr"])
    close(tb_scalars(where["tb"] / f"find-{job}"), metrics, rel=1e-6)
    assert tb_tags(where["tb"] / f"find-{job}")["images"] == ["range_test"]
    mlrun = mlflow_runs(where["uri"])[f"find-{job}"]
    close({k: history(where["uri"], mlrun.info.run_id, k) for k in metrics}, metrics)
    tags = mlrun.data.tags
    assert float(tags["suggestion.consensus"]) == pytest.approx(
        found["suggestions"]["consensus"], rel=1e-5)
    assert tags["trust.level"] == found["trust"]["level"]
    assert artifacts(where["uri"], mlrun.info.run_id) == {"range_test.png", "result.json"}


def test_a_ladder_in_one_process_nests_its_points(where: dict) -> None:
    found = lrlab.find(TABULAR, epochs=2, num_points=30, record=False, **RUN)
    ladder = lrlab.check(found, points=3, baselines=["prodigy"], log_to=where["log_to"],
                         db=where["db"])
    runs = mlflow_runs(where["uri"])
    parent = runs[f"check-{ladder['job']}"]
    children = [r for r in runs.values()
                if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == 4 and all(r.info.status == "FINISHED" for r in children)
    peaks = sorted(float(r.data.params["schedule.base_lr"]) if "schedule.base_lr" in
                   r.data.params else r.info.run_name for r in children)
    assert len(set(peaks)) == 4  # three points and the baseline at Prodigy's 1.0
    assert parent.data.tags["verdict"] == ladder["verdict"]
    (prodigy,) = ladder["baselines"]
    assert parent.data.metrics["baseline/prodigy"] == pytest.approx(prodigy["final_objective"])
    assert parent.data.metrics["baseline/gap"] == pytest.approx(ladder["versus"]["gap"])
    assert artifacts(where["uri"], parent.info.run_id) == {"ladder.json"}
    folders = sorted(p.name for p in (where["tb"] / f"check-{ladder['job']}").iterdir()
                     if p.is_dir())
    assert len(folders) == 4 and all(f.startswith("point-") for f in folders)
    assert [f for f in folders if "prodigy" in f] == ["point-4-prodigy-seed0"]
    for folder in folders:  # HParams: each point's peak LR against its objective
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
        from tensorboard.plugins.hparams import plugin_data_pb2

        events = EventAccumulator(str(where["tb"] / f"check-{ladder['job']}" / folder))
        events.Reload()
        start = plugin_data_pb2.HParamsPluginData.FromString(
            events.PluginTagToContent("hparams")["_hparams_/session_start_info"])
        assert set(start.session_start_info.hparams) == {"peak_lr", "seed"}
        assert events.Scalars("objective")


def test_a_ladder_on_workers_nests_the_point_jobs_under_it(where: dict, tmp_path: Path) -> None:
    found = lrlab.find(TABULAR, epochs=2, num_points=30, record=False, **RUN)
    from lrlab import lr_check

    config = lr_check.from_range_test(found)
    config["setup"]["log_to"] = where["log_to"]
    with Store(where["db"]) as store:
        worker = WorkerProcess(store.url, tmp_path, tmp_path / "worker.log", "--task", TABULAR,
                               env={"PYTHONPATH": str(REPO)})
        try:
            ladder_id = kinds.submit(store, "check", {**config, "points": 3})
            ended = wait_for(lambda: (j := kinds.refresh(store, store.get(ladder_id)))
                             .is_finished and j, "the ladder to end")
            assert ended.status == "succeeded", ended.error
            children = ended.config["children"]
            for child in children:
                wait_finished(store, child)
        finally:
            assert worker.stop() == 0, worker.log()
        wait_for(lambda: "verdict" in mlflow_runs(where["uri"]).get(
            f"check-{ladder_id}", type("R", (), {"data": type("D", (), {"tags": {}})})
        ).data.tags, "the ladder's verdict in MLflow")
        runs = mlflow_runs(where["uri"])
        parent = runs[f"check-{ladder_id}"]
        nested = {r.info.run_name for r in runs.values()
                  if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
        assert nested == {f"train-{c}" for c in children}
        assert [r for r in runs.values() if r.info.run_name == f"check-{ladder_id}"] == [parent]
        for child in children:  # each point job as the store keeps it
            mlrun = runs[f"train-{child}"]
            metrics = stored(store, child, "train")
            close({k: history(where["uri"], mlrun.info.run_id, k) for k in metrics}, metrics)
            assert (where["tb"] / f"check-{ladder_id}" / f"train-{child}").is_dir()
        # exported afterwards, the ladder nests its point jobs the same way
        other = f"sqlite:///{tmp_path / 'exported.db'}"
        assert export_run(store, ladder_id, f"mlflow:{other}") == [ladder_id, *children]
    exported = mlflow_runs(other)
    top = exported[f"check-{ladder_id}"]
    assert top.data.tags["verdict"] == parent.data.tags["verdict"]
    assert {r.info.run_name for r in exported.values()
            if r.data.tags.get("mlflow.parentRunId") == top.info.run_id} == nested


def test_export_run_writes_a_finished_job_as_live_logging_did(where: dict,
                                                              tmp_path: Path) -> None:
    run = lrlab.train(TABULAR, epochs=2, lr=0.003, log_to=where["log_to"], db=where["db"],
                      **RUN)
    job = run["job"]
    other = f"sqlite:///{tmp_path / 'exported.db'}"
    done = subprocess.run([sys.executable, "-m", "lrlab.cli", "export-run", str(job), "--db",
                           where["db"], "--to", f"mlflow:{other}", "--to",
                           f"tensorboard:{tmp_path / 'tb-exported'}"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"job #{job} written to mlflow:{other}" in done.stdout
    live, exported = (mlflow_runs(where["uri"])[f"train-{job}"],
                      mlflow_runs(other)[f"train-{job}"])
    assert exported.data.params == live.data.params
    tags = {k: v for k, v in live.data.tags.items() if not k.startswith("mlflow.")}
    assert {k: v for k, v in exported.data.tags.items() if not k.startswith("mlflow.")} == tags
    for key in live.data.metrics:
        if not key.startswith("summary/"):  # the summary's time is the logging's own
            assert history(other, exported.info.run_id, key) == history(
                where["uri"], live.info.run_id, key), key
    assert artifacts(other, exported.info.run_id) == artifacts(where["uri"], live.info.run_id)
    close(tb_scalars(tmp_path / "tb-exported" / f"train-{job}"),
          tb_scalars(where["tb"] / f"train-{job}"))
    found = lrlab.find(TABULAR, epochs=2, num_points=30, log_to=where["log_to"],
                       db=where["db"], **RUN)
    with Store(where["db"]) as store:
        export_run(store, found["job"], f"mlflow:{other}")
    live, exported = (mlflow_runs(where["uri"])[f"find-{found['job']}"],
                      mlflow_runs(other)[f"find-{found['job']}"])
    for key in live.data.metrics:
        assert history(other, exported.info.run_id, key) == history(
            where["uri"], live.info.run_id, key), key
    assert exported.data.tags["suggestion.consensus"] == live.data.tags["suggestion.consensus"]
    assert artifacts(other, exported.info.run_id) == {"range_test.png", "result.json"}


def test_lrlab_log_to_is_the_default_where_a_job_runs(where: dict,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LRLAB_LOG_TO", f"tensorboard:{where['tb']}")
    logged = lrlab.train(TABULAR, epochs=1, lr=0.003, db=where["db"], **RUN)
    assert tb_scalars(where["tb"] / f"train-{logged['job']}")["train/loss"]
    unlogged = lrlab.train(TABULAR, epochs=1, lr=0.003, db=where["db"], log_to=[], **RUN)
    assert not (where["tb"] / f"train-{unlogged['job']}").exists()  # [] is nowhere


def test_an_unreachable_tracker_costs_the_job_one_warning(where: dict) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = lrlab.train(TABULAR, epochs=2, lr=0.003, db=where["db"],
                          log_to=["mlflow:http://127.0.0.1:9", f"tensorboard:{where['tb']}"],
                          **RUN)
    ours = [w for w in caught if issubclass(w.category, TrackerWarning)]
    assert len(ours) == 1, [str(w.message) for w in ours]
    message = str(ours[0].message)
    assert message.startswith(f"lrlab: not logging job #{run['job']} to "
                              "mlflow:http://127.0.0.1:9")
    assert f"lrlab export-run {run['job']} --to mlflow:http://127.0.0.1:9" in message
    with Store(where["db"]) as store:
        job = store.get(run["job"])
        assert job.status == "succeeded"
        steps = [m for m in store.metrics_since(job.id) if m.key == "loss"]
    assert len(steps) == run["summary"]["steps"]  # the store has every metric
    assert tb_scalars(where["tb"] / f"train-{run['job']}")["train/loss"]  # the other one ran


def test_trackers_are_named_in_one_sentence_when_misnamed(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "lrlab.cli", "train", "--task", TABULAR,
                           "--log-to", "wandb"], capture_output=True, text=True, timeout=120,
                          cwd=REPO, env={"LRLAB_HOME": str(tmp_path), "PATH": "/usr/bin"})
    assert done.returncode == 2
    assert done.stderr.strip() == ("lrlab: error: log_to: expected tensorboard[:DIR] or "
                                   "mlflow[:URI], got 'wandb' (no tracker 'wandb')")


def test_submit_carries_log_to_where_each_kind_keeps_it(where: dict, tmp_path: Path) -> None:
    def lrlab_cli(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lrlab.cli", *argv, "--db", where["db"]],
                              capture_output=True, text=True, timeout=120, cwd=REPO)

    train = lrlab_cli("submit", "train", "--task", TABULAR, "--log-to", "tensorboard",
                      "--log-to", "mlflow:sqlite:///x.db")
    find = lrlab_cli("submit", "find", "--task", TABULAR, "--log-to", "mlflow")
    assert train.returncode == 0 and find.returncode == 0, train.stderr + find.stderr
    with Store(where["db"]) as store:
        assert store.get(int(train.stdout)).config["log_to"] == ["tensorboard",
                                                                 "mlflow:sqlite:///x.db"]
        assert store.get(int(find.stdout)).config["setup"]["log_to"] == ["mlflow"]
    queued = lrlab_cli("export-run", train.stdout.strip(), "--to", "tensorboard")
    assert queued.returncode == 2
    assert queued.stderr.strip() == (f"lrlab: error: job {train.stdout.strip()} is queued: "
                                     "export it once it has ended (a running job is logged "
                                     "live with --log-to)")


def test_an_unreadable_lrlab_log_to_warns_and_the_job_runs(where: dict,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LRLAB_LOG_TO", "wandb")
    with pytest.warns(TrackerWarning, match="not logging this job: LRLAB_LOG_TO: expected "
                                            r"tensorboard\[:DIR\] or mlflow\[:URI\]"):
        run = lrlab.train(TABULAR, epochs=1, lr=0.003, db=where["db"], **RUN)
    with Store(where["db"]) as store:
        assert store.get(run["job"]).status == "succeeded"
