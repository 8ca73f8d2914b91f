"""Your own tasks in the app: a registered task picked and set up on each page (its arguments
as widgets), and its jobs shown: the range test with its advice and "Train with this setup",
the run with its objective by name, the ladder with its verdict and "Train with the best LR",
and Runs listing them. Only registered tasks are offered or imported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app_helpers import PAGES, run_page
from streamlit.testing.v1 import AppTest

from lrlab import lr_check
from lrlab.core.reporting import NullReporter
from lrlab.store import Store
from lrlab.web import task_setup

TABULAR = "examples.tabular:build"


@pytest.fixture(autouse=True)
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tabular example registered as the app's one task (read afresh by each test)."""
    monkeypatch.setenv("LRLAB_TASKS", TABULAR)
    task_setup.offered_tasks.clear()
    yield
    task_setup.offered_tasks.clear()

SETUP = {"task": {"spec": "examples.tabular:build"}, "epochs": 2, "device": "cpu",
         "optimizer": {"name": "adam", "weight_decay": 0.0}}


@pytest.fixture(scope="module")
def results() -> dict:
    from lrlab.finder.job import run_from_config
    from lrlab.training.job import train

    found = run_from_config({"setup": SETUP, "num_points": 40}, NullReporter())
    cfg = lr_check.validate_config({**lr_check.from_range_test(found), "points": 3})
    return {"find": found, "train": train(SETUP), "check": lr_check.run_locally(cfg),
            "check_config": cfg}


def _finished(store: Store, kind: str, config: dict, result: dict) -> int:
    job_id = store.submit(kind, config)
    store.claim("w")
    store.finish(job_id, "succeeded", result=result)
    return job_id


def test_the_pages_show_a_tasks_jobs(store: Store, results: dict) -> None:
    find = _finished(store, "find", results["find"]["config"], results["find"])
    run = _finished(store, "train", results["train"]["config"], results["train"])
    check = _finished(store, "check", results["check_config"], results["check"])
    run_page("lr_finder.py", {"job": str(find)})
    trained = run_page("training.py", {"job": str(run)})
    cards = {m.label: m.value for m in trained.metric}
    assert set(cards) == {"Best val_accuracy", "Final val_accuracy", "Wall time", "Updates"}
    summary = results["train"]["summary"]
    assert cards["Final val_accuracy"] == f"{summary['final_objective']:.4g}"
    assert cards["Updates"] == f"{summary['steps']:,} of {summary['planned_updates']:,}"
    checked = run_page("check.py", {"job": str(check)})
    assert any("val_accuracy" in a.value for a in [*checked.success, *checked.warning])
    table = run_page("runs.py").dataframe[0].value.set_index("id")
    assert table.loc[run, "setup"] == "task examples.tabular:build"
    assert table.loc[run, "result"].startswith("val_accuracy ")


def test_a_registered_task_is_picked_and_its_arguments_set_on_the_lr_finder(
        store: Store) -> None:
    at = run_page("lr_finder.py")
    picker = at.selectbox(key="finder.task")
    assert picker.options == ["Image classification (built-in models and sets)",
                              "Breast-cancer MLP (tabular)"]
    picker.set_value(TABULAR).run()
    args = {w.label: w for w in at.number_input if w.key.startswith("finder.args.")}
    assert {k: w.value for k, w in args.items()} == {"hidden": 64, "batch_size": 32,
                                                     "val_share": 0.25}  # its signature's
    assert args["val_share"].help == "share of the rows held out"  # its declaration's
    assert [w for w in at.selectbox if w.key == "finder.model"] == []  # no image setup
    args["hidden"].set_value(16)
    at.selectbox(key="finder.t.opt").set_value("adam")
    at.number_input(key="finder.t.epochs").set_value(3)
    at.button[0].click().run()  # the form's "Run range test"
    assert not at.error, [e.value for e in at.error]
    (job,) = store.list_jobs(None, kind="find")
    setup = job.config["setup"]
    assert setup["task"] == {"spec": TABULAR, "args": {"hidden": 16}}  # defaults left out
    assert setup["optimizer"]["name"] == "adam" and setup["epochs"] == 3


def test_declared_bounds_hold_in_the_widgets(store: Store) -> None:
    at = run_page("lr_finder.py")
    at.selectbox(key="finder.task").set_value(TABULAR).run()
    share = at.number_input(key=f"finder.args.{TABULAR}.val_share")
    assert (share.min, share.max) == (0.05, 0.9)
    assert at.number_input(key=f"finder.args.{TABULAR}.hidden").min == 1


def test_train_with_this_setup_fills_the_task_form_and_previews_the_exact_schedule(
        store: Store, results: dict) -> None:
    found = results["find"]
    find = _finished(store, "find", found["config"], found)
    at = run_page("lr_finder.py", {"job": str(find)})
    at.button(key="finder.train").click().run()
    state = at.session_state
    assert state["training.task"] == TABULAR
    assert state["training.t.opt"] == "adam" and state["training.t.epochs"] == 2
    batches = found["planned_run"]["batches_per_epoch"]
    assert state["training.t.batches"] == batches  # counted by the range test
    assert state["training.t.schedule_source"] == "advice"
    training = run_page("training.py")
    for key in ("training.task", "training.t.opt", "training.t.epochs", "training.t.batches",
                "training.t.wd", "training.t.schedule_source", "training.origin",
                "training.schedule", f"training.args.{TABULAR}.hidden"):
        training.session_state[key] = state[key]
    training.run()
    assert not training.warning, [w.value for w in training.warning]
    advice = found["advice"]["onecycle"]
    assert any(c.value == f"This run trains this schedule: {2 * batches} updates, peak LR "
               f"{advice['base_lr']:.3g}." for c in training.caption)
    assert training.number_input(key="training.t.lr").disabled  # set by the schedule
    training.button(key="training.start").click().run()
    assert not training.error, [e.value for e in training.error]
    (run,) = store.list_jobs(None, kind="train")
    assert run.config["task"] == {"spec": TABULAR, "args": {}}
    assert run.config["schedule"]["base_lr"] == advice["base_lr"]
    assert run.config["batches_per_epoch"] == batches
    assert run.config["origin"] == {"range_test": find, "check": None}


def test_train_with_the_best_lr_of_a_tasks_ladder(store: Store, results: dict) -> None:
    find = _finished(store, "find", results["find"]["config"], results["find"])
    config = {**results["check_config"], "range_test": find}
    check = _finished(store, "check", config, results["check"])
    at = run_page("check.py", {"job": str(check)})
    at.button(key="check.adopt").click().run()
    best = lr_check.best_training_config(config, results["check"])
    state = at.session_state
    assert state["training.task"] == TABULAR and state["training.t.epochs"] == 2
    assert state["training.schedule"] == best["schedule"]
    assert state["training.t.schedule_source"] == "advice"
    assert state["training.origin"] == {"range_test": find, "check": check}


def test_a_notebooks_unregistered_task_is_not_offered_for_checking(
        store: Store, results: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A range test recorded from a notebook on a task nobody registered: the LR Check page
    says where to check it instead and queues nothing; the Training page neither imports nor
    offers the task (a marker module would leave a file if it were imported)."""
    marker = tmp_path / "imported"
    (tmp_path / "notebook_task.py").write_text(
        f"open({str(marker)!r}, 'w').close()\ndef build():\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = json.loads(json.dumps(results["find"]["config"]))
    config["setup"]["task"]["spec"] = "notebook_task:build"
    find = _finished(store, "find", config, {**results["find"], "config": config})
    check = run_page("check.py", {"find": str(find)})
    assert any("`notebook_task:build` is not registered with this app" in i.value
               for i in check.info)
    assert check.button(key="check.run").disabled
    finder = run_page("lr_finder.py", {"job": str(find)})
    finder.button(key="finder.train").click().run()
    training = AppTest.from_file(str(PAGES / "training.py"), default_timeout=60)
    training.session_state["training.task"] = finder.session_state["training.task"]
    training.run()  # the page opened with the session the button left
    assert any("'notebook_task:build' is not registered" in w.value for w in training.warning)
    assert training.selectbox(key="training.task").value == ""  # the image classification
    assert not marker.exists()
