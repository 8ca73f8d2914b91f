"""The chain find -> check -> train under AppTest on a real store: a finished range test hands its
setup to Training and its advice to the LR Check page; a ladder is queued from the page, shown
live with every method's suggestion marked, and its best LR goes to Training with the run's
origin, which the run's page links back to."""

from __future__ import annotations

import pytest
from app_helpers import run_page

from lrlab import lr_check
from lrlab.core.reporting import NullReporter
from lrlab.jobs import kinds
from lrlab.store import Store
from lrlab.web import ui

SETUP = {"model": "small_cnn", "width": 8, "dataset": "digits", "limit": 400, "epochs": 4,
         "batch_size": 32, "device": "cpu", "tricks": {"label_smoothing": 0.05}}


@pytest.fixture(scope="module")
def sweep() -> dict:
    """A real range test of SETUP (small, but every step real)."""
    from lrlab.finder.job import run_from_config

    return run_from_config({"setup": SETUP, "num_points": 30}, NullReporter())


def finished(store: Store, kind: str, config: dict, result: dict) -> int:
    job_id = store.submit(kind, config)
    store.claim("w")
    store.finish(job_id, "succeeded", result=result)
    return job_id


def test_train_with_this_setup_fills_the_training_form_and_its_schedule(
    store: Store, sweep: dict
) -> None:
    job_id = finished(store, "find", sweep["config"], sweep)
    at = run_page("lr_finder.py", {"job": str(job_id)})
    at.button(key="finder.train").click().run()
    state = at.session_state
    assert state["training.model"] == "small_cnn" and state["training.width"] == 8
    assert state["training.batch"] == 32 and state["training.epochs"] == 4
    assert state["training.label_smoothing"] == 0.05
    assert state["training.schedule_source"] == "advice"
    assert state["training.origin"] == {"range_test": job_id}
    # the session carries the filled form to the Training page (a page of its own here)
    training = run_page("training.py")
    for key in [f"training.{short}" for short in ui.SETUP_KEYS.values()] + [
            "training.origin", "training.schedule_source", "training.schedule"]:
        training.session_state[key] = state[key]
    training.run()
    training.button(key="training.start").click().run()
    assert not training.exception, training.exception
    assert not training.error, [e.value for e in training.error]
    (run,) = store.list_jobs(None, kind="train")
    assert run.config["origin"] == {"range_test": job_id, "check": None}
    assert run.config["schedule"]["base_lr"] == sweep["advice"]["onecycle"]["base_lr"]
    assert run.config["tricks"]["label_smoothing"] == 0.05
    page = run_page("training.py", {"job": str(run.id)})
    assert [b.label for b in page.button if b.key == "training.from.range_test"] == [
        f"From range test #{job_id}"]


def test_a_ladder_is_queued_from_a_range_test(store: Store, sweep: dict) -> None:
    job_id = finished(store, "find", sweep["config"], sweep)
    at = run_page("check.py", {"find": str(job_id)})
    at.number_input(key="check.points").set_value(3)
    at.number_input(key="check.epochs").set_value(1)
    at.number_input(key="check.seeds").set_value(2)
    at.multiselect(key="check.log_to").select("tensorboard")
    at.run()
    budget = next(c.value for c in at.caption if c.value.startswith("Budget: "))
    # 3 points, 2 seeds; 1 epoch of 320 training digits at batch 32
    assert budget.startswith("Budget: 6 runs of 10 updates each (1 of the run's 4 epochs")
    at.button(key="check.run").click().run()
    assert not at.exception, at.exception
    (check,) = store.list_jobs(None, kind="check")
    assert check.status == "running" and check.config["seeds"] == 2
    children = [store.get(i) for i in check.config["children"]]
    assert [c.config["seed"] for c in children] == [0, 1] * 3  # three points, two seeds each
    assert {c.config["origin"]["check"] for c in children} == {check.id}
    assert check.config["setup"]["log_to"] == ["tensorboard"]  # the ladder and its points
    assert {tuple(c.config["log_to"]) for c in children} == {("tensorboard",)}
    assert check.config["range_test"] == job_id
    peak = sweep["advice"]["onecycle"]["base_lr"]
    lrs = [p["lr"] for p in lr_check.points(check.config)]
    assert lrs == pytest.approx([peak / 10, peak, peak * 10])
    assert at.query_params["job"] == str(check.id) and "find" not in at.query_params


def test_only_a_clear_best_is_green(store: Store, sweep: dict) -> None:
    find_id = finished(store, "find", sweep["config"], sweep)
    config = kinds.validate("check", {**lr_check.from_range_test(
        sweep, setup=sweep["config"]["setup"], job=find_id), "points": 3, "epochs": 1})
    check_id = kinds.submit(store, "check", config)
    for child, top1 in zip(store.get(check_id).config["children"], (0.8, 0.95, 0.7),
                           strict=True):
        store.claim("w")
        store.finish(child, "succeeded", result={"summary": {
            "final_val_top1": top1, "best_val_top1": top1, "final_val_loss": 1 - top1},
            "data": {"num_classes": 10}})
    at = run_page("check.py", {"job": str(check_id)})
    verdict = store.get(check_id).result["verdict"]
    assert verdict.startswith("The advice") and any(verdict in s.value for s in at.success)
    assert not at.warning


def test_a_finished_ladder_shows_its_verdict_and_hands_the_best_lr_to_training(
    store: Store, sweep: dict, figure
) -> None:
    find_id = finished(store, "find", sweep["config"], sweep)
    config = kinds.validate("check", {**lr_check.from_range_test(
        sweep, setup=sweep["config"]["setup"], job=find_id), "points": 3, "epochs": 1})
    check_id = kinds.submit(store, "check", config)
    children = store.get(check_id).config["children"]
    for child, top1 in zip(children, (0.5, 0.7, 0.9), strict=True):
        store.claim("w")
        store.finish(child, "succeeded", result={"summary": {
            "final_val_top1": top1, "best_val_top1": top1, "final_val_loss": 1 - top1}})
    at = run_page("check.py", {"job": str(check_id)})
    job = store.get(check_id)
    assert job.status == "succeeded"  # the page's view ended the ladder
    assert job.result["best"]["factor"] == 10.0
    # the best is at the ladder's top end: it cannot tell, in amber, never in green
    assert "the best is at the ladder's top end" in job.result["verdict"]
    assert any(job.result["verdict"] in w.value for w in at.warning)
    assert not at.success
    chart = figure(at)
    assert chart["data"][0]["y"] == pytest.approx([0.5, 0.7, 0.9])
    # every method's suggestion in the legend, not as labels stacked on the chart
    named = {trace["name"] for trace in chart["data"]}
    assert {"lrlab", "torch_lr_finder", "consensus"} <= named
    assert {a["text"] for a in chart["layout"]["annotations"]} == {"final val top-1",
                                                                   "final val loss"}
    assert chart["layout"]["yaxis"]["range"] == [0, 1]  # accuracy on 0-100 %
    assert chart["layout"]["yaxis2"]["type"] == "log"
    # drawn by the tick that ended it, the page's buttons wait for the page's own run
    assert at.button(key="check.adopt").disabled
    at.run()
    at.button(key="check.adopt").click().run()
    state = at.session_state
    peak = sweep["advice"]["onecycle"]["base_lr"]
    assert state["training.schedule"]["base_lr"] == pytest.approx(peak * 10)
    assert state["training.schedule"]["total_steps"] == sweep["advice"]["onecycle"]["total_steps"]
    assert state["training.epochs"] == 4 and state["training.schedule_source"] == "advice"
    assert state["training.origin"] == {"range_test": find_id, "check": check_id}


def test_an_imported_curve_is_kept_in_runs_and_checked_on_a_setup_given_here(
        store: Store, sweep: dict) -> None:
    """Another tool's curve: analysed, kept as a range test, listed in Runs, and its advice
    checked on the setup the LR Check page asks for (the optimizer and batch size the curve
    was measured with filled in)."""
    curve = "lr,loss\n" + "".join(f"{lr},{loss}\n" for lr, loss in
                                  zip(sweep["lr"], sweep["loss"], strict=True))
    at = run_page("lr_finder.py")
    at.file_uploader(key="finder.upload").set_value(("mine.csv", curve.encode(), "text/csv"))
    at.number_input(key="finder.up_batch").set_value(32)
    at.run()
    at.button(key="finder.keep").click().run()
    assert not at.exception, at.exception
    (kept,) = store.list_jobs(None, kind="find")
    assert kept.status == "succeeded" and kept.config["imported"]["file"] == "mine.csv"
    assert kept.config["imported"]["batch_size"] == 32
    assert kept.result["advice"]["onecycle"]["base_lr"] > 0
    assert any(f"Kept as range test #{kept.id}" in s.value for s in at.success)
    assert at.button(key="finder.keep").disabled  # the same reading is not kept twice

    opened = run_page("lr_finder.py", {"job": str(kept.id)})
    assert [b for b in opened.button if b.key == "finder.train"] == []  # no setup to train
    assert opened.button(key="finder.check") is not None

    runs = run_page("runs.py")
    assert runs.dataframe[0].value["setup"].tolist() == ["curve mine.csv"]

    check = run_page("check.py", {"find": str(kept.id)})
    assert check.session_state["check.setup.batch"] == 32
    assert check.session_state["check.setup.opt"] == "sgd"
    check.selectbox(key="check.setup.dataset").set_value("digits")
    check.number_input(key="check.setup.limit").set_value(400)
    check.number_input(key="check.points").set_value(3)
    check.number_input(key="check.epochs").set_value(1)
    check.run()
    check.button(key="check.run").click().run()
    assert not check.exception, check.exception
    assert not check.error, [e.value for e in check.error]
    (ladder,) = store.list_jobs(None, kind="check")
    assert ladder.config["range_test"] == kept.id
    assert ladder.config["setup"]["dataset"] == "digits"
    assert ladder.config["setup"]["batch_size"] == 32
    peak = kept.result["advice"]["onecycle"]["base_lr"]
    assert [p["lr"] for p in lr_check.points(ladder.config)] == pytest.approx(
        [peak / 10, peak, peak * 10])


def test_a_ladder_with_lr_free_baselines_is_queued_drawn_and_each_can_be_trained(
        store: Store, sweep: dict, figure) -> None:
    find_id = finished(store, "find", sweep["config"], sweep)
    at = run_page("check.py", {"find": str(find_id)})
    at.number_input(key="check.points").set_value(3)
    at.number_input(key="check.epochs").set_value(1)
    at.multiselect(key="check.baselines").select("prodigy").select("dog")
    at.run()
    budget = next(c.value for c in at.caption if c.value.startswith("Budget: "))
    assert budget.startswith("Budget: 5 runs of 10 updates each")  # 3 points, 2 baselines
    at.button(key="check.run").click().run()
    assert not at.exception, at.exception
    (check,) = store.list_jobs(None, kind="check")
    assert check.config["baselines"] == ["prodigy", "dog"]
    children = check.config["children"]
    assert [store.get(i).config["optimizer"]["name"] for i in children] == [
        "sgd", "sgd", "sgd", "prodigy", "dog"]
    # the points at 0.6 / 0.9 / 0.8, Prodigy at 0.85, DoG failed
    for child, top1 in zip(children, (0.6, 0.9, 0.8, 0.85, None), strict=True):
        store.claim("w")
        if top1 is None:
            store.finish(child, "failed", error="DoG: the loss diverged")
            continue
        store.finish(child, "succeeded", result={"summary": {
            "final_val_top1": top1, "best_val_top1": top1, "final_val_loss": 1 - top1},
            "data": {"num_classes": 10}})
    page = run_page("check.py", {"job": str(check.id)})
    job = store.get(check.id)
    assert job.status == "succeeded"
    assert ("The tuned 1cycle at LR" in job.result["verdict"]
            and "is 5.0 points above Prodigy (85.0 %), the best LR-free baseline; one seed "
                "each" in job.result["verdict"])
    assert "Other baselines: DoG failed (DoG: the loss diverged)." in job.result["verdict"]
    assert any(job.result["verdict"] in s.value for s in page.success)
    chart = figure(page)
    line = next(t for t in chart["data"] if t.get("name") == "Prodigy (LR-free)")
    assert line["y"] == pytest.approx([0.85, 0.85])
    table = page.dataframe[0].value
    assert table["run"].tolist() == ["ladder point"] * 3 + ["Prodigy", "DoG"]
    assert table["status"].tolist()[-2:] == ["succeeded", "failed"]
    assert [b.key for b in page.button if b.key.startswith("check.adopt.")] == [
        "check.adopt.prodigy"]  # a failed baseline offers nothing to train
    page.run()
    page.button(key="check.adopt.prodigy").click().run()
    state = page.session_state
    assert state["training.opt"] == "prodigy" and state["training.lr"] == 1.0
    assert state["training.schedule"]["main"]["kind"] == "cosine"
    assert state["training.epochs"] == 4 and state["training.schedule_source"] == "advice"
    assert state["training.origin"] == {"range_test": find_id, "check": check.id}
    training = run_page("training.py")
    for key in [f"training.{short}" for short in ui.SETUP_KEYS.values()] + [
            "training.origin", "training.schedule_source", "training.schedule"]:
        training.session_state[key] = state[key]
    training.run()
    assert not training.exception, training.exception
    assert not training.warning, [e.value for e in training.warning]
    assert any(c.value.startswith("Prodigy carries its own step size") and
               "not the whole story" in c.value for c in training.caption), [
        c.value for c in training.caption]
