"""Following jobs through the store, comparing runs, and the figures built from them."""

from __future__ import annotations

import time

import numpy as np
import pytest
import sqlalchemy as sa

from lrlab.store import MetricPoint, Store
from lrlab.store.schema import jobs_table
from lrlab.web import comparison, monitor
from lrlab.web.plots import range_test_figure, training_figure


@pytest.fixture
def store(lrlab_home) -> Store:
    s = Store(f"sqlite:///{lrlab_home / 'jobs.db'}")
    yield s
    s.close()


def _running_job(store: Store) -> int:
    job_id = store.submit("selftest", {"steps": 5})
    assert store.claim("w1").id == job_id
    return job_id


def test_follower_reads_each_metric_once_by_cursor(store: Store) -> None:
    job_id = _running_job(store)
    now = time.time()
    store.append_metrics(job_id, [MetricPoint("step", i, "loss", 1.0 / (i + 1), now)
                                  for i in range(3)])
    f = monitor.JobFollower(job_id)
    f.poll(store)
    store.append_metrics(job_id, [MetricPoint("step", 3, "loss", 0.2, now),
                                  MetricPoint("epoch", 0, "val_top1", 0.9, now)])
    f.poll(store)
    f.poll(store)  # nothing new: nothing duplicated
    steps, values = f.series("loss")
    np.testing.assert_array_equal(steps, [0, 1, 2, 3])
    np.testing.assert_allclose(values, [1.0, 0.5, 1 / 3, 0.2])
    assert f.series("val_top1", "epoch")[1].tolist() == [0.9]
    assert set(f.all_series()) == {("step", "loss"), ("epoch", "val_top1")}
    assert f.cursor == 5


def test_two_followers_of_one_job_are_independent(store: Store) -> None:
    job_id = _running_job(store)
    store.append_metrics(job_id, [MetricPoint("step", 0, "loss", 1.0, time.time())])
    a, b = monitor.JobFollower(job_id), monitor.JobFollower(job_id)
    a.poll(store)
    store.append_metrics(job_id, [MetricPoint("step", 1, "loss", 0.5, time.time())])
    a.poll(store)
    b.poll(store)
    assert a.series("loss")[1].tolist() == b.series("loss")[1].tolist() == [1.0, 0.5]


class _FirstMetricOnThirdRead:
    """The store as a job seen just after its submit: its first metric lands while the page
    is polling (before the page's third read)."""

    def __init__(self, store: Store, job_id: int) -> None:
        self.store, self.job_id, self.reads = store, job_id, 0

    def metrics_since(self, *args, **kwargs):
        self.reads += 1
        if self.reads == 3:
            self.store.append_metrics(self.job_id, [MetricPoint("step", 0, "loss", 2.3,
                                                                time.time())])
        return self.store.metrics_since(*args, **kwargs)

    def get(self, job_id: int):
        return self.store.get(job_id)


def test_the_submitting_poll_waits_for_the_first_metric(store: Store) -> None:
    job_id = _running_job(store)
    watched = _FirstMetricOnThirdRead(store, job_id)
    plain = monitor.JobFollower(job_id)
    plain.poll(watched)  # a tick does not wait: nothing yet
    assert plain.cursor == 0
    held = monitor.JobFollower(job_id)
    held.poll(watched, wait_s=60.0)  # returns once the metric came, long before the limit
    assert held.series("loss")[1].tolist() == [2.3] and watched.reads == 3
    store.append_metrics(job_id, [MetricPoint("step", 1, "loss", 2.2, time.time())])
    held.poll(store, wait_s=60.0)  # once a job has reported, a held poll is a plain one
    assert held.series("loss")[1].tolist() == [2.3, 2.2]


def test_a_held_poll_ends_when_the_job_ends_without_a_metric(store: Store) -> None:
    job_id = _running_job(store)
    store.finish(job_id, "failed", error="data folder missing")
    assert monitor.JobFollower(job_id).poll(store, wait_s=60.0).status == "failed"


class _EndsOnThirdRead:
    """The store as a job at 95 % seen by a tick: it ends on the page's third read of its row."""

    def __init__(self, store: Store, job_id: int) -> None:
        self.store, self.job_id, self.reads = store, job_id, 0

    def metrics_since(self, *args, **kwargs):
        return self.store.metrics_since(*args, **kwargs)

    def get(self, job_id: int):
        self.reads += 1
        if self.reads == 3:
            self.store.append_metrics(job_id, [MetricPoint("step", 99, "loss", 0.4, time.time())])
            self.store.finish(job_id, "succeeded", result={"done": True})
        return self.store.get(job_id)


def _nearly_done_job(store: Store, progress: float) -> int:
    """A job claimed 10 s ago at `progress`: its ETA is 10 s x (1 - p) / p."""
    job_id = _running_job(store)
    with store._write() as conn:
        conn.execute(sa.update(jobs_table).where(jobs_table.c.id == job_id)
                     .values(started=time.time() - 10.0))
    store.set_progress(job_id, progress)
    return job_id


def test_the_tick_that_finds_a_job_about_to_end_holds_for_its_end(store: Store) -> None:
    job_id = _nearly_done_job(store, 0.95)  # ETA 0.53 s
    watched = _EndsOnThirdRead(store, job_id)
    follower = monitor.JobFollower(job_id)
    job = follower.poll(watched, end_within_s=60.0)  # returns at the end, long before the limit
    assert job.status == "succeeded" and watched.reads == 3
    assert follower.series("loss")[1].tolist() == [0.4]  # the last metrics come with it


def test_a_tick_does_not_hold_for_an_end_beyond_the_next_or_twice(store: Store) -> None:
    far = _nearly_done_job(store, 0.5)  # ETA 10 s
    watched = _EndsOnThirdRead(store, far)
    monitor.JobFollower(far).poll(watched, end_within_s=1.0)
    assert watched.reads == 1
    near = _nearly_done_job(store, 0.99)  # ETA 0.1 s
    follower = monitor.JobFollower(near)
    started = time.monotonic()
    assert follower.poll(store, end_within_s=0.2).status == "running"  # held, it did not end
    assert time.monotonic() - started >= 0.2
    watched = _EndsOnThirdRead(store, near)
    follower.poll(watched, end_within_s=60.0)  # once per job: the next tick is a plain read
    assert watched.reads == 1


def test_eta_from_progress(store: Store) -> None:
    job_id = _running_job(store)
    store.set_progress(job_id, 0.25)
    job = store.get(job_id)
    assert monitor.eta_seconds(job, now=job.started + 10.0) == pytest.approx(30.0)
    store.set_progress(job_id, 0.0)
    assert monitor.eta_seconds(store.get(job_id)) is None


@pytest.mark.parametrize(("seconds", "text"), [(None, "—"), (42.4, "42 s"), (185, "3 min 05 s"),
                                               (3720, "1 h 02 min")])
def test_format_duration(seconds: float | None, text: str) -> None:
    assert monitor.format_duration(seconds) == text


def test_config_diff_shows_only_settings_that_differ() -> None:
    a = {"model": "resnet18", "optimizer": {"name": "sgd", "lr": 0.1}, "tricks": {"mixup": 0.2}}
    b = {"model": "resnet18", "optimizer": {"name": "sgd", "lr": 0.4}}
    rows = comparison.config_diff({"a": a, "b": b})
    assert rows == [
        {"setting": "optimizer.lr", "a": "0.1", "b": "0.4"},
        {"setting": "tricks.mixup", "a": "0.2", "b": "—"},
    ]
    assert comparison.config_diff({"a": a, "a2": a}) == []


def test_results_table_reads_each_kind(store: Store) -> None:
    job_id = _running_job(store)
    store.finish(job_id, "succeeded",
                 result={"summary": {"best_val_top1": 0.981, "final_val_top1": 0.975}})
    train = store.get(job_id)
    object.__setattr__(train, "kind", "train")
    table = {row["figure"]: row[f"#{job_id} train"] for row in comparison.results_table([train])}
    assert table["best val top-1"] == "98.10 %" and table["status"] == "succeeded"
    assert table["images/s"] == ""  # not in this result: an empty cell, never None


def test_results_side_by_side_keep_sentences_out_of_the_table(store: Store) -> None:
    find = store.submit("find", {"model": "small_cnn"})
    store.claim("w")
    store.finish(find, "succeeded", result={"suggestions": {"consensus": 0.0123456},
                                            "trust": {"level": "low", "verdict": "Spread."}})
    failed = store.submit("train", {"model": "small_cnn"})
    store.claim("w")
    store.finish(failed, "failed", error="It diverged.")
    jobs = [store.get(find), store.get(failed)]
    table = {row["figure"]: row for row in comparison.results_table(jobs)}
    assert table["consensus LR"] == {"figure": "consensus LR", f"#{find} find": "0.0123",
                                     f"#{failed} train": ""}
    assert "verdict" not in table
    assert comparison.run_notes(jobs) == [(f"#{find} find small_cnn", "Spread.", False),
                                          (f"#{failed} train small_cnn", "It diverged.", True)]


def test_range_test_figure_marks_suggestions_and_consensus() -> None:
    lr = np.logspace(-6, 1, 60)
    loss = 2.0 - np.tanh(np.log10(lr) + 2.5) + np.where(lr > 1, (lr - 1) * 3, 0)
    fig = range_test_figure(lr, loss, smoothed=loss, suggestions={"fastai_valley": 1e-3,
                                                                  "consensus": 2e-3},
                            consensus=2e-3, band=(lr, loss - 0.1, loss + 0.1))
    names = [t.name for t in fig.data]
    assert "fastai_valley" in names and "consensus" not in names and "seed band" in names
    marker = next(t for t in fig.data if t.name == "fastai_valley")
    assert marker.y[0] == pytest.approx(np.interp(-3, np.log10(lr), loss))
    assert fig.layout.xaxis.type == "log"
    assert any("consensus" in (a.text or "") for a in fig.layout.annotations)


def test_training_figure_puts_each_metric_in_its_panel() -> None:
    series = {("step", "loss"): (np.arange(5), np.linspace(2, 1, 5)),
              ("epoch", "val_top1"): (np.arange(2), np.array([0.8, 0.9]))}
    fig = training_figure([("run a", series), ("run b", series)])
    assert len(fig.data) == 4
    loss_traces = [t for t in fig.data if t.xaxis == "x"]
    assert [t.name for t in loss_traces] == ["run a", "run b"]
    assert all(t.showlegend for t in loss_traces), "one legend entry per run, in the first panel"
    val_traces = [t for t in fig.data if t.xaxis == "x6"]
    assert len(val_traces) == 2 and not any(t.showlegend for t in val_traces)


def test_metrics_exports_round_trip(store: Store) -> None:
    import json as _json

    job_id = _running_job(store)
    now = time.time()
    store.append_metrics(job_id, [MetricPoint("step", 0, "loss", 2.5, now),
                                  MetricPoint("step", 1, "loss", float("nan"), now),
                                  MetricPoint("epoch", 0, "val_top1", 0.5, now)])
    f = monitor.JobFollower(job_id)
    f.poll(store)
    assert monitor.metrics_csv(f).splitlines() == [
        "scope,index,key,value", "step,0,loss,2.5", "step,1,loss,nan", "epoch,0,val_top1,0.5"]
    data = _json.loads(monitor.metrics_json(f))
    assert data["step"]["loss"] == {"index": [0, 1], "values": [2.5, None]}
    assert data["epoch"]["val_top1"]["values"] == [0.5]


def test_summary_cards_show_dashes_for_a_run_without_epochs() -> None:
    from lrlab.web.monitor import summary_cards

    full = summary_cards({"best_val_top1": 0.9916, "final_val_top1": 0.98,
                          "wall_time_s": 75.2, "images_per_s": 1520.4})
    assert full == [("Best val top-1", "99.16%"), ("Final val top-1", "98.00%"),
                    ("Wall time", "1 min 15 s"), ("Images / s", "1,520")]
    empty = summary_cards({"best_val_top1": None, "final_val_top1": None,
                           "wall_time_s": 3.0, "images_per_s": None})
    assert [text for _, text in empty] == ["—", "—", "3 s", "—"]


def test_listed_jobs_are_a_persons_runs_with_headlines_only(store: Store) -> None:
    train = store.submit("train", {"model": "small_cnn"})
    store.claim("w")
    store.finish(train, "succeeded", result={"summary": {"best_val_top1": 0.97,
                                                         "final_val_top1": 0.95},
                                             "epochs": [{"val_top1": 0.95}] * 50})
    find = store.submit("find", {"model": "small_cnn"})
    store.claim("w")
    store.finish(find, "succeeded", result={"lr": [1e-3, 1e-2, 1e-1], "loss": [2, 1, 3],
                                            "suggestions": {"consensus": 0.01, "fastai": 0.02},
                                            "trust": {"level": "medium", "verdict": "..."}})
    store.submit("selftest", {})
    listed = comparison.listed_jobs(store)
    assert [j.id for j in listed] == [find, train]  # newest first, no self-test
    assert listed[1].result == {"summary": {"best_val_top1": 0.97, "final_val_top1": 0.95}}
    assert listed[0].result == {"suggestions": {"consensus": 0.01}, "trust": {"level": "medium"}}
    assert comparison.headline(listed[0])["consensus LR"] == 0.01
    assert [j.id for j in comparison.listed_jobs(store, "train")] == [train]
    # the full record still holds the curve, and overlays read it
    (label, lrs, losses), = comparison.range_test_overlays([store.get(find), store.get(train)])
    assert label == f"#{find} find small_cnn"  # no dataset in this config: no "on ..."
    assert lrs == [1e-3, 1e-2, 1e-1] and losses == [2, 1, 3]


def test_runs_group_a_ladders_points_under_it_with_their_lr_schedule_and_origin(
        store: Store) -> None:
    from lrlab import lr_check
    from lrlab.jobs import kinds

    setup = {"model": "small_cnn", "dataset": "digits", "epochs": 2}
    before = kinds.submit(store, "train", setup)
    check = kinds.submit(store, "check", {"setup": setup, "points": 3, "epochs": 1})
    after = kinds.submit(store, "train", {**setup, "optimizer": {"lr": 0.4}})
    rows = comparison.jobs_table(comparison.listed_jobs(store))
    points = store.get(check).config["children"]
    assert [r["id"] for r in rows] == [after, check, *points, before]
    centre = lr_check.peak_lr(lr_check.validate_config({"setup": setup})["setup"])
    assert rows[1]["peak LR"] == pytest.approx(centre)
    assert [r["peak LR"] for r in rows[2:5]] == pytest.approx([centre / 10, centre, centre * 10])
    assert {r["from"] for r in rows[2:5]} == {f"↳ LR check #{check}"}
    assert rows[0]["peak LR"] == pytest.approx(0.4 * 128 / 256)  # linear scaling to batch 128
    assert rows[0]["schedule"] == "warmup + cosine" and rows[0]["from"] == ""
    assert all(r[k] is not None for r in rows
               for k in ("setup", "schedule", "from", "result"))
    assert rows[0]["setup"] == "small_cnn on digits"
    assert rows[0]["status"] == "🕒 queued" and rows[0]["kind"] == "train"


def test_one_kinds_table_gives_each_headline_a_column_and_the_mixed_one_words(
        store: Store) -> None:
    train = store.submit("train", {"model": "small_cnn"})
    store.claim("w")
    store.set_progress(train, 0.784)
    find = store.submit("find", {"model": "small_cnn"})
    store.claim("w")
    store.finish(find, "succeeded", result={"suggestions": {"consensus": 0.038712},
                                            "trust": {"level": "medium"}})
    mixed = {r["id"]: r for r in comparison.jobs_table([store.get(find), store.get(train)])}
    assert mixed[find]["result"] == "LR 0.0387 · trust medium"
    assert mixed[train]["result"] == "" and mixed[train]["status"] == "⏳ running 78 %"
    (only,) = comparison.jobs_table([store.get(train)], kind="train")
    assert "kind" not in only and "result" not in only
    assert only["best top-1"] is None and only["duration (s)"] >= 0
