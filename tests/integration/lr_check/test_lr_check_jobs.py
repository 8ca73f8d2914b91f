"""The LR check ladder as jobs: queued as one training job per point, run by real workers in
parallel, aggregated when its last point ends, a dead worker's point failed and the rest kept,
cancelled as one; and `lrlab check` on the command line."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobs_helpers import WorkerProcess, wait_finished, wait_for

from lrlab import lr_check
from lrlab.cli import main
from lrlab.jobs import kinds
from lrlab.store import Store

pytestmark = pytest.mark.timeout(300)

# A small, quick setup: 300 digits, a narrow CNN, 2 updates an epoch at batch 128.
SETUP = {"model": "small_cnn", "width": 8, "dataset": "digits", "limit": 300, "epochs": 2,
         "device": "cpu"}


@pytest.fixture
def own_store(tmp_path: Path) -> Iterator[Store]:
    """A store of the test's own, for tests that drive the queue by hand: the module's shared
    store would hand them (and later workers) jobs other tests left queued."""
    with Store(f"sqlite:///{tmp_path / 'jobs.db'}") as s:
        yield s


def submit_ladder(store: Store, **fields) -> int:
    config = kinds.validate("check", {"setup": SETUP, "points": 3, "epochs": 1, **fields})
    return kinds.submit(store, "check", config)


def test_a_ladder_queues_one_training_job_per_point_and_is_never_claimed(
    own_store: Store,
) -> None:
    ladder_id = submit_ladder(own_store, points=5)
    ladder = own_store.get(ladder_id)
    assert ladder.status == "running" and ladder.worker is None
    children = [own_store.get(i) for i in ladder.config["children"]]
    assert [c.kind for c in children] == ["train"] * 5
    assert all(c.status == "queued" for c in children)
    lrs = [c.config["optimizer"]["lr"] for c in children]
    assert lrs == pytest.approx([0.01, 0.1 / 10 ** 0.5, 0.1, 0.1 * 10 ** 0.5, 1.0])
    # each point names its ladder, so its run page links back to it
    assert all(c.config["origin"] == {"range_test": None, "check": ladder_id} for c in children)
    assert kinds.validate("train", children[0].config)["origin"]["check"] == ladder_id
    claimed = [own_store.claim("w") for _ in range(6)]
    assert [j.id for j in claimed if j is not None] == ladder.config["children"]
    for job in claimed[:5]:
        own_store.finish(job.id, "cancelled")
    kinds.reap(own_store)
    ended = own_store.get(ladder_id)  # ended by the store's upkeep once its last point did
    assert ended.status == "failed" and ended.error.startswith("No point of the ladder finished")


def test_a_ladders_points_keep_the_range_test_it_came_from(own_store: Store) -> None:
    ladder_id = submit_ladder(own_store, setup={**SETUP, "origin": {"range_test": 7}})
    points = [own_store.get(i) for i in own_store.get(ladder_id).config["children"]]
    assert [p.config["origin"] for p in points] == [{"range_test": 7, "check": ladder_id}] * 3


def test_a_ladder_with_seeds_queues_each_points_seeds_and_ends_with_their_mean(
    own_store: Store,
) -> None:
    ladder_id = submit_ladder(own_store, points=1, seeds=2)
    ids = own_store.get(ladder_id).config["children"]
    assert [own_store.get(i).config["seed"] for i in ids] == [0, 1]
    for job_id, top1 in zip(ids, (0.90, 0.94), strict=True):
        assert own_store.claim("w").id == job_id
        own_store.finish(job_id, "succeeded", result={"summary": {
            "final_val_top1": top1, "best_val_top1": top1, "final_val_loss": 0.3,
            "final_train_loss": 0.2}})
    kinds.reap(own_store)  # the store's upkeep refreshes the ladder
    ended = own_store.get(ladder_id)
    assert ended.status == "succeeded"
    assert ended.result["best"]["final_val_top1"] == pytest.approx(0.92)
    assert ended.result["best"]["seed_final_val_top1"] == [0.90, 0.94]
    assert "mean of 2 seeds" in ended.result["verdict"]


def test_two_workers_run_a_ladder_in_parallel_and_it_ends_with_the_aggregate(
    store: Store, home: Path
) -> None:
    workers = [WorkerProcess(store.url, home, home / f"ladder-w{i}.log") for i in range(2)]
    try:
        wait_for(lambda: len(store.live_workers()) >= 2, "both workers to register")
        ladder_id = submit_ladder(store, suggestions={"fastai_valley": 0.02})
        ladder = wait_finished(store, ladder_id)
        assert ladder.status == "succeeded", ladder.error
        result = ladder.result
        assert result["format"] == "lrlab.check/4" and len(result["points"]) == 3
        children = [store.get(i) for i in ladder.config["children"]]
        assert {c.worker for c in children} == {w.id for w in store.live_workers()}
        top1 = {c.id: c.result["summary"]["final_val_top1"] for c in children}
        best = max(top1.values())
        assert result["best"]["final_val_top1"] == best
        assert [p["final_val_top1"] for p in result["points"]] == list(top1.values())
        assert result["advice"]["factor"] == 1.0 and "of 3 points" in result["verdict"]
        assert result["suggestions"] == {"fastai_valley": 0.02}
    finally:
        for worker in workers:
            worker.stop()


def test_a_worker_dying_mid_ladder_fails_its_point_and_the_rest_are_kept(
    store: Store, home: Path
) -> None:
    ladder_id = submit_ladder(store, epochs=30)  # long enough to be killed mid-run
    first = store.get(ladder_id).config["children"][0]
    doomed = WorkerProcess(store.url, home, home / "ladder-doomed.log")
    try:
        wait_for(lambda: store.get(first).status == "running" and store.metrics_since(first),
                 "the first point to train")
    finally:
        doomed.stop(signal.SIGKILL)
    survivor = WorkerProcess(store.url, home, home / "ladder-survivor.log",
                             "--heartbeat-timeout", "2")
    try:
        ladder = wait_finished(store, ladder_id)
    finally:
        survivor.stop()
    assert ladder.status == "succeeded", ladder.error
    statuses = [p["status"] for p in ladder.result["points"]]
    assert statuses == ["failed", "succeeded", "succeeded"]
    assert "stopped heartbeating" in ladder.result["points"][0]["error"]
    assert "1 of 3 points did not finish" in ladder.result["verdict"]


def test_cancel_cancels_the_whole_ladder(store: Store, home: Path) -> None:
    ladder_id = submit_ladder(store, epochs=50)
    first = store.get(ladder_id).config["children"][0]
    worker = WorkerProcess(store.url, home, home / "ladder-cancel.log", "--cancel-grace", "5")
    try:
        wait_for(lambda: store.get(first).status == "running", "the first point to start")
        assert store.request_cancel(ladder_id) == "running"
        ladder = wait_finished(store, ladder_id)
    finally:
        worker.stop()
    assert ladder.status == "cancelled"
    assert [store.get(i).status for i in ladder.config["children"]] == ["cancelled"] * 3


def test_a_ladders_baselines_are_jobs_beside_its_points_cancelled_with_it(
    own_store: Store,
) -> None:
    ladder_id = submit_ladder(own_store, points=1, seeds=2, baselines=["prodigy", "dog"])
    children = [own_store.get(i) for i in own_store.get(ladder_id).config["children"]]
    assert [c.config["optimizer"]["name"] for c in children] == ["sgd"] * 2 + [
        "prodigy", "prodigy", "dog", "dog"]
    assert [c.config["seed"] for c in children] == [0, 1] * 3  # the points' seeds
    assert {c.config["origin"]["check"] for c in children} == {ladder_id}
    first = own_store.claim("w")
    assert first.id == children[0].id
    assert own_store.request_cancel(ladder_id) == "running"
    statuses = [own_store.get(c.id).status for c in children]
    assert statuses == ["running"] + ["cancelled"] * 5  # the baselines' queued jobs included
    assert own_store.get(first.id).cancel_requested  # the running point is told to stop
    own_store.finish(first.id, "cancelled")
    kinds.reap(own_store)
    ended = own_store.get(ladder_id)
    assert ended.status == "cancelled"
    assert [b["status"] for b in ended.result["baselines"]] == ["cancelled", "cancelled"]


def test_a_worker_runs_a_ladder_with_lr_free_baselines_and_compares_them(
    store: Store, home: Path
) -> None:
    worker = WorkerProcess(store.url, home, home / "ladder-baselines.log")
    try:
        ladder_id = submit_ladder(store, points=1, seeds=2, baselines=["schedulefree", "dog"])
        ladder = wait_finished(store, ladder_id)
    finally:
        worker.stop()
    assert ladder.status == "succeeded", ladder.error
    result = ladder.result
    assert [b["baseline"] for b in result["baselines"]] == ["schedulefree", "dog"]
    for row, job_ids in zip(result["baselines"], (ladder.config["children"][2:4],
                                                  ladder.config["children"][4:6]), strict=True):
        runs = [store.get(i) for i in job_ids]
        assert [r.status for r in runs] == ["succeeded", "succeeded"]
        finals = [r.result["summary"]["final_val_top1"] for r in runs]
        assert row["seed_final_val_top1"] == finals
        assert row["final_val_top1"] == pytest.approx(sum(finals) / 2)
    versus = result["versus"]
    best = max(result["baselines"], key=lambda b: b["final_val_top1"])
    assert versus["baseline"] == best["baseline"]
    assert versus["gap"] == pytest.approx(result["best"]["final_val_top1"]
                                          - best["final_val_top1"])
    assert f"{best['title']} (" in result["verdict"]
    assert "LR-free baseline" in result["verdict"] and "seeds each" in result["verdict"]


def test_lrlab_check_trains_the_baselines_it_is_asked_for(tmp_path, capsys) -> None:
    out = tmp_path / "check.json"
    assert main(["check", "--model", "small_cnn", "--width", "8", "--dataset", "digits",
                 "--limit", "300", "--epochs", "2", "--device", "cpu", "--points", "1",
                 "--baselines", "prodigy", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    result = json.loads(out.read_text())
    assert result["format"] == "lrlab.check/4"
    (prodigy,) = result["baselines"]
    assert prodigy["status"] == "succeeded" and prodigy["lr"] == 1.0
    assert "<- LR-free baseline: Prodigy" in printed.out
    assert "Prodigy (" in result["verdict"] and "one seed each" in result["verdict"]
    assert "budget: 2 runs of" in printed.err
    assert "Using decoupled weight decay" not in printed.out  # D-Adaptation's own print


def test_lrlab_check_runs_a_ladder_from_a_range_test_file(tmp_path, capsys) -> None:
    find_out, check_out = tmp_path / "find.json", tmp_path / "check.json"
    setup_flags = ["--model", "small_cnn", "--width", "8", "--dataset", "digits", "--limit",
                   "300", "--batch-size", "32", "--device", "cpu"]
    assert main(["find", *setup_flags, "--epochs", "4", "--num-points", "30",
                 "--out", str(find_out)]) == 0
    found = json.loads(find_out.read_text())
    assert found["advice"]["onecycle"]["total_steps"] == found["planned_run"]["updates"] == 28
    capsys.readouterr()
    assert main(["check", "--from", str(find_out), "--points", "3", "--fraction", "0.25",
                 "--seeds", "2", "--out", str(check_out)]) == 0
    out = capsys.readouterr().out
    result = json.loads(check_out.read_text())
    assert result["epochs"] == 1 and len(result["points"]) == 3 and result["seeds"] == 2
    for point in result["points"]:  # each point the mean of its two seeds
        runs = point["seed_final_val_top1"]
        assert len(runs) == 2 and point["final_val_top1"] == pytest.approx(sum(runs) / 2)
    assert "seed spread" in out
    peak = found["advice"]["onecycle"]["base_lr"]
    assert [p["lr"] for p in result["points"]] == pytest.approx([peak / 10, peak, peak * 10])
    assert "<- advice" in out and result["verdict"] in out
    assert set(result["suggestions"]) >= {"lrlab", "torch_lr_finder", "consensus"}


def test_lrlab_check_refuses_a_result_without_the_advice_named(tmp_path, capsys) -> None:
    path = tmp_path / "curve.json"
    path.write_text(json.dumps({"format": "lrlab.range_test/2", "config": {"setup": SETUP},
                                "advice": {}}))
    assert main(["check", "--from", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "advice" in err


def test_a_worker_runs_a_range_test_of_a_setup_on_its_own_device(
    store: Store, home: Path
) -> None:
    """"auto" in the setup means the worker's device (the setup holds it since /2)."""
    config = kinds.validate("find", {"setup": {**SETUP, "device": "auto"}, "num_points": 20})
    job_id = store.submit("find", config)
    worker = WorkerProcess(store.url, home, home / "find-worker.log")
    try:
        job = wait_finished(store, job_id)
    finally:
        worker.stop()
    assert job.status == "succeeded", job.error
    assert job.result["config"]["setup"]["device"] == "cpu"
    assert job.result["format"] == "lrlab.range_test/2"


def test_the_default_check_on_digits_tells_or_says_it_cannot(tmp_path) -> None:
    """The app's defaults (small_cnn on digits, 5 epochs, "Check this advice"): each point used
    to train 11 updates and crowned a 45 % point in green. Now the ladder either says it cannot
    tell, or names a point whose full run is within a point of the best full run among its
    LRs."""
    from lrlab.core.reporting import NullReporter
    from lrlab.finder.job import run_from_config
    from lrlab.training.job import train

    setup = {"model": "small_cnn", "dataset": "digits", "epochs": 5, "device": "cpu"}
    found = run_from_config({"setup": setup}, NullReporter())
    cfg = lr_check.validate_config(lr_check.from_range_test(found))
    result = lr_check.run_locally(cfg)
    if not result["judgement"]["clear"]:
        assert result["verdict"].startswith("Cannot tell which LR is best")
        return
    full = {}
    for point in lr_check.points(cfg):
        config = {**point["config"], "epochs": setup["epochs"]}
        full[point["lr"]] = (result["points"][len(full)]["final_val_top1"]
                             if lr_check.budget_epochs(cfg) == setup["epochs"]
                             else train(config)["summary"]["final_val_top1"])
    assert full[result["best"]["lr"]] >= max(full.values()) - 0.01


def test_an_imported_curve_is_checked_on_the_setup_given(tmp_path, capsys) -> None:
    """`lrlab analyze` of another tool's curve keeps no setup; `lrlab check --from` it with a
    setup (flags or --config) checks its advice on that setup."""
    import numpy as np

    lrs = np.logspace(-5, 1, 60)
    losses = 2.3 - 2.0 / (1 + np.exp(-3 * (np.log10(lrs) + 1.5))) + 3 * (lrs > 2) * lrs
    curve, analysis = tmp_path / "curve.csv", tmp_path / "analysis.json"
    curve.write_text("lr,loss\n" + "\n".join(f"{a},{b}" for a, b in zip(lrs, losses,
                                                                          strict=True)))
    assert main(["analyze", str(curve), "--batch-size", "64", "--total-steps", "20",
                 "--out", str(analysis)]) == 0
    capsys.readouterr()
    out = tmp_path / "check.json"
    assert main(["check", "--from", str(analysis), "--model", "small_cnn", "--width", "8",
                 "--dataset", "digits", "--limit", "300", "--batch-size", "64",
                 "--epochs", "2", "--device", "cpu", "--points", "1", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    peak = json.loads(analysis.read_text())["advice"]["onecycle"]["base_lr"]
    assert [p["lr"] for p in result["points"]] == pytest.approx([peak])
    assert result["points"][0]["status"] == "succeeded"
