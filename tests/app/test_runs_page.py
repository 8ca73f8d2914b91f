"""The Runs page under AppTest, on a real store holding real jobs, metrics and analyses."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from app_helpers import run_page
from streamlit.testing.v1 import AppTest

from lrlab.finder.analysis import analyze
from lrlab.store import MetricPoint, Store


def _finished_train(store: Store, lr: float, top1: float) -> int:
    job_id = store.submit("train", {"model": "small_cnn", "dataset": "digits",
                                    "optimizer": {"name": "sgd", "lr": lr}})
    store.claim("w")
    now = time.time()
    points = [MetricPoint("step", i, "loss", 2.0 / (i + 1), now) for i in range(20)]
    points += [MetricPoint("epoch", e, "val_top1", top1 - 0.1 * (1 - e), now) for e in range(2)]
    store.append_metrics(job_id, points)
    store.finish(job_id, "succeeded",
                 result={"summary": {"best_val_top1": top1, "final_val_top1": top1}})
    return job_id


def _finished_find(store: Store) -> int:
    job_id = store.submit("find", {"model": "small_cnn", "dataset": "digits"})
    store.claim("w")
    lr = np.logspace(-6, 1, 80)
    loss = 2.3 - 1.5 / (1 + np.exp(-(np.log10(lr) + 2.5) * 3)) + np.where(lr > 1, lr, 0)
    result = {"format": "lrlab.range_test/1", **analyze(lr, loss).to_dict()}
    store.finish(job_id, "succeeded", result=json.loads(json.dumps(result)))
    return job_id


def _page(query: dict[str, str] | None = None) -> AppTest:
    return run_page("runs.py", query)


def test_empty_store_says_how_to_start(store: Store) -> None:
    at = _page()
    assert any("No runs yet" in i.value for i in at.info)


def test_lists_every_run_newest_first(store: Store) -> None:
    a = _finished_train(store, 0.1, 0.95)
    b = _finished_find(store)
    at = _page()
    ids = list(at.dataframe[0].value["id"])
    assert ids == [b, a]


def test_the_table_carries_each_runs_headline_in_one_format_without_none(store: Store) -> None:
    low = _finished_train(store, 0.1, 0.91)
    find = _finished_find(store)
    high = _finished_train(store, 0.4, 0.97)
    table = _page().dataframe[0].value.set_index("id")
    # every kind in one table: each run's headline in words, each figure in its one format
    assert table.loc[high, "result"] == "top-1 97.00 %"
    assert table.loc[low, "result"] == "top-1 91.00 %"
    consensus = store.get(find).result["suggestions"]["consensus"]
    level = store.get(find).result["trust"]["level"]
    assert table.loc[find, "result"] == f"LR {consensus:.3g} · trust {level}"
    assert table.loc[find, "peak LR"] == ""  # a range test has no peak: empty, not "None"
    assert not table.isna().any().any()


def test_a_kinds_own_table_keeps_numbers_so_it_sorts_by_value(store: Store) -> None:
    low = _finished_train(store, 0.1, 0.91)
    _finished_find(store)
    high = _finished_train(store, 0.4, 0.97)
    at = _page()
    at.segmented_control(key="runs.kind").set_value("train").run()
    table = at.dataframe[0].value.set_index("id")
    assert table.loc[high, "best top-1"] == pytest.approx(97.0)
    assert (table["duration (s)"] >= 0).all()
    assert table["best top-1"].sort_values(ascending=False).index.tolist() == [high, low]


def test_a_stale_link_to_runs_says_so_and_shows_the_table(store: Store) -> None:
    job = _finished_train(store, 0.1, 0.95)
    at = _page({"jobs": f"{job},999,abc"})
    assert [w.value for w in at.warning] == [
        "The link names 'abc': not a job number; job 999 does not exist; it may have been "
        "deleted."]
    results = at.dataframe[1].value.set_index("figure")
    assert results.loc["best val top-1", f"#{job} train"] == "95.00 %"  # the valid one opens


def test_opening_a_training_run_shows_its_charts_and_results(store: Store, figure) -> None:
    job = _finished_train(store, 0.1, 0.97)
    at = _page({"jobs": str(job)})
    chart = figure(at)
    loss = next(t for t in chart["data"] if t["xaxis"] == "x")
    assert len(loss["y"]) == 20
    results = at.dataframe[1].value.set_index("figure")
    assert results.loc["best val top-1", f"#{job} train"] == "97.00 %"  # as a percent


def test_opening_a_range_test_shows_its_suggestions(store: Store, figure) -> None:
    job = _finished_find(store)
    at = _page({"jobs": str(job)})
    chart = figure(at)
    names = {t.get("name") for t in chart["data"]}
    assert {"loss (raw)", "smoothed", "lrlab", "fastai_valley"} <= names
    consensus = store.get(job).result["suggestions"]["consensus"]
    results = at.dataframe[1].value.set_index("figure")
    assert results.loc["consensus LR", f"#{job} find"] == f"{consensus:.3g}"
    verdict = store.get(job).result["trust"]["verdict"]
    assert any(verdict in c.value for c in at.caption)  # the sentence under the table


def test_comparing_two_runs_shows_what_differs(store: Store, figure) -> None:
    a = _finished_train(store, 0.1, 0.95)
    b = _finished_train(store, 0.4, 0.97)
    at = _page({"jobs": f"{a},{b}"})
    diff = at.dataframe[2].value
    assert diff["setting"].tolist() == ["optimizer.lr"]
    chart = figure(at)
    assert len([t for t in chart["data"] if t["xaxis"] == "x"]) == 2


def test_delete_asks_first_then_removes_the_run(store: Store) -> None:
    keep = _finished_train(store, 0.1, 0.95)
    gone = _finished_train(store, 0.2, 0.96)
    at = _page({"jobs": str(gone)})
    next(b for b in at.button if b.label == "Delete").click().run()
    assert any("cannot be undone" in w.value for w in at.warning)
    assert len(store.list_jobs()) == 2, "nothing deleted before confirmation"
    next(b for b in at.button if b.label == "Yes, delete").click().run()
    assert [j.id for j in store.list_jobs()] == [keep]
