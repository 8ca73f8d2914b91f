"""The LR Finder page under AppTest on a real store: what a submit queues, what it refuses, a
running test's live chart and cancel, and a finished test (a real sweep) with its suggestions,
verdict and advice that opens in the Schedule Designer."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_helpers import PAGES, run_page
from streamlit.testing.v1 import AppTest

from lrlab.core.reporting import NullReporter
from lrlab.jobs import kinds
from lrlab.store import MetricPoint, Store

PAGE = str(PAGES / "lr_finder.py")
SUBMIT = "FormSubmitter:finder.form-Run range test"


def _page(query: dict[str, str] | None = None) -> AppTest:
    return run_page("lr_finder.py", query)


def test_submit_queues_a_validated_range_test(store: Store) -> None:
    at = _page()
    at.selectbox(key="finder.opt").set_value("adam")
    at.number_input(key="finder.label_smoothing").set_value(0.2)
    at.number_input(key="finder.epochs").set_value(3)
    at.number_input(key="finder.points").set_value(40)
    at.number_input(key="finder.seeds").set_value(3)
    at.button(key=SUBMIT).click().run()
    assert not at.exception, at.exception
    (job,) = store.list_jobs(None)
    assert job.kind == "find" and job.status == "queued"
    setup = job.config["setup"]  # the one setup form: the loss and the planned run too
    assert setup["optimizer"]["name"] == "adam" and setup["tricks"]["label_smoothing"] == 0.2
    assert setup["epochs"] == 3
    assert job.config["num_points"] == 40 and job.config["seeds"] == 3
    assert at.query_params["job"] == str(job.id)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        # in the page's own words: its fields' labels, not config keys
        ({"finder.dataset": "cifar10", "finder.root": "/no/such/folder"},
         "Data folder: folder '/no/such/folder' does not exist"),
        ({"finder.dataset": "image_folder"}, "Data folder: dataset 'image_folder' needs a data"),
        ({"finder.start": 1.0, "finder.end": 0.5},
         "End LR: expected a number above Start LR=1"),
    ],
)
def test_impossible_settings_are_refused_before_anything_is_queued(
    store: Store, changes: dict, message: str
) -> None:
    at = _page()
    for key, value in changes.items():
        widget = at.selectbox(key=key) if key == "finder.dataset" else (
            at.text_input(key=key) if key == "finder.root" else at.number_input(key=key))
        widget.set_value(value)
    at.button(key=SUBMIT).click().run()
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert store.list_jobs(None) == []


def test_a_running_test_draws_its_points_and_can_be_cancelled(store: Store, figure) -> None:
    job_id = store.submit("find", kinds.validate("find", {"model": "small_cnn",
                                                            "dataset": "digits"}))
    store.claim("w")
    points = []
    for i in range(15):
        points += [MetricPoint("step", i, "lr", 1e-6 * 2**i, 0.0),
                   MetricPoint("step", i, "loss", 2.3 - 0.05 * i, 0.0)]
    store.append_metrics(job_id, points, progress=(0.15, "point 15/100"))
    at = _page({"job": str(job_id)})
    chart = figure(at)
    raw = chart["data"][0]
    assert len(raw["x"]) == 15 and raw["y"][0] == pytest.approx(2.3)
    at.button(key="finder.cancel").click().run()
    assert store.get(job_id).cancel_requested


@pytest.fixture(scope="module")
def sweep() -> dict:
    """A real range test on digits (small, but every step real)."""
    from lrlab.finder.job import run_from_config

    return run_from_config({"model": "small_cnn", "dataset": "digits", "batch_size": 32,
                            "start_lr": 1e-5, "end_lr": 10.0, "num_points": 40,
                            "device": "cpu"}, NullReporter())


def test_a_finished_test_shows_suggestions_verdict_and_advice(
    store: Store, sweep: dict, figure
) -> None:
    job_id = store.submit("find", sweep["config"])
    store.claim("w")
    store.finish(job_id, "succeeded", result=sweep)
    at = _page({"job": str(job_id)})
    consensus = sweep["suggestions"]["consensus"]
    assert at.metric[0].value == f"{consensus:.3g}"
    verdicts = [m.value for m in [*at.success, *at.warning, *at.error]]
    assert any(sweep["trust"]["verdict"] in v for v in verdicts)
    methods = at.dataframe[0].value["method"].tolist()
    assert methods == [k for k in sweep["suggestions"] if k != "consensus"]
    chart = figure(at)
    names = [t["name"] for t in chart["data"]]
    assert names[:2] == ["loss (raw)", "smoothed"]
    marked = {k for k, v in sweep["suggestions"].items() if v is not None and k != "consensus"}
    assert marked <= set(names)  # every method's suggestion is marked on the curve
    consensus_lines = [a for a in chart["layout"]["annotations"] if "consensus" in a["text"]]
    assert len(consensus_lines) == 1  # and the consensus is the highlighted line
    advice_buttons = [b for b in at.button if b.key and ".advice." in b.key]
    assert len(advice_buttons) == len(sweep["advice"]) > 0


def test_advice_opens_in_the_schedule_designer(store: Store, sweep: dict) -> None:
    job_id = store.submit("find", sweep["config"])
    store.claim("w")
    store.finish(job_id, "succeeded", result=sweep)
    at = _page({"job": str(job_id)})
    config = next(iter(sweep["advice"].values()))
    at.button(key=f"finder.{job_id}.advice.0").click().run()
    assert at.session_state["training.schedule"] == config
    assert at.session_state["d.base_lr"] == pytest.approx(config["base_lr"])
    assert at.session_state["d.total_steps"] == config["total_steps"]


@pytest.mark.parametrize(
    ("link", "message"),
    [("999", "Job 999 does not exist; it may have been deleted."),
     ("abc", "The link's job='abc' is not a job number.")],
)
def test_a_stale_or_mistyped_link_gets_a_sentence_and_the_form(
    store: Store, link: str, message: str
) -> None:
    at = _page({"job": link})  # _page asserts no exception reached the page
    assert [w.value for w in at.warning] == [message]
    assert "job" not in at.query_params  # the dead link is dropped
    assert at.button(key=SUBMIT)  # the form is there to start a new test


def test_a_link_to_another_kind_of_job_says_where_it_lives(store: Store) -> None:
    job_id = store.submit("selftest", {"steps": 2})
    at = _page({"job": str(job_id)})
    assert [w.value for w in at.warning] == [
        f"Job {job_id} is a worker self-test, not a LR range test; open it from the Runs page."]


def test_a_cancelled_test_shows_how_far_it_got(store: Store) -> None:
    job_id = store.submit("find", kinds.validate("find", {"model": "small_cnn",
                                                            "dataset": "digits"}))
    store.claim("w")
    store.append_metrics(job_id, [], progress=(0.12, "point 12/100"))
    store.request_cancel(job_id)
    store.finish(job_id, "cancelled")
    at = _page({"job": str(job_id)})
    (bar,) = at.get("progress")
    assert bar.proto.value == 12  # percent: the point it reached, not a full bar
    assert bar.proto.text == ":orange[cancelled at 12%]"


def test_a_data_folder_outside_the_allowed_ones_is_refused_when_serving_others(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed = tmp_path / "datasets"
    allowed.mkdir()
    monkeypatch.setenv("LRLAB_DATA_DIRS", str(allowed))
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    at.selectbox(key="finder.dataset").set_value("image_folder")
    at.text_input(key="finder.root").set_value(str(allowed / ".." / "secret"))
    monkeypatch.setattr("lrlab.web.ui.serving_others", lambda: True)
    at.button(key=SUBMIT).click().run()
    assert any("Data folder: " in e.value and "outside the folders this app may read" in e.value
               for e in at.error), [e.value for e in at.error]
    assert store.list_jobs(None) == []
    # the same folder on loopback (the host's own user) is not confined: validation speaks
    monkeypatch.setattr("lrlab.web.ui.serving_others", lambda: False)
    at.button(key=SUBMIT).click().run()
    assert not any("outside the folders" in e.value for e in at.error)
