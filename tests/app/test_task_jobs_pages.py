"""Jobs of your own tasks (queued from the command line) shown by the app's pages without a
traceback: the range test with its advice, the run with its objective, the ladder with its
verdict, and Runs listing them."""

from __future__ import annotations

import pytest
from app_helpers import run_page

from lrlab import lr_check
from lrlab.core.reporting import NullReporter
from lrlab.store import Store

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
    finder = run_page("lr_finder.py", {"job": str(find)})
    assert [b for b in finder.button if b.key == "finder.train"] == []  # no image setup
    run_page("training.py", {"job": str(run)})
    checked = run_page("check.py", {"job": str(check)})
    assert any("val_accuracy" in a.value for a in [*checked.success, *checked.warning])
    table = run_page("runs.py").dataframe[0].value.set_index("id")
    assert table.loc[run, "setup"] == "task examples.tabular:build"
    assert table.loc[run, "result"].startswith("val_accuracy ")
