"""The Training page under AppTest on a real store: what a submit queues, what it refuses, a
running job's progress and cancel, and a finished run (trained for real) with its summary,
charts and downloads."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_helpers import run_page
from streamlit.testing.v1 import AppTest

from lrlab.jobs import kinds
from lrlab.store import Store
from lrlab.store.reporter import StoreReporter


def _page(query: dict[str, str] | None = None) -> AppTest:
    return run_page("training.py", query)


def _submit(at: AppTest) -> AppTest:
    at.run()  # the page checks what it would queue before the button is pressed
    at.button(key="training.start").click().run()
    assert not at.exception, at.exception
    return at


def _refused(at: AppTest, store: Store, *phrases: str) -> None:
    """Said on the page before anything is queued, with the button off."""
    at.run()
    assert not at.exception, at.exception
    assert any(all(p in w.value for p in phrases) for w in at.warning), [
        w.value for w in at.warning]
    assert at.button(key="training.start").disabled
    assert store.list_jobs(None) == []


def test_submit_queues_a_validated_training_job(store: Store) -> None:
    at = _page()
    at.selectbox(key="training.model").set_value("resnet18")
    at.number_input(key="training.width").set_value(16)
    at.number_input(key="training.epochs").set_value(3)
    at.number_input(key="training.mixup").set_value(0.2)
    at.toggle(key="training.cosine").set_value(False)
    at = _submit(at)
    jobs = store.list_jobs(None)
    assert len(jobs) == 1 and jobs[0].kind == "train" and jobs[0].status == "queued"
    config = jobs[0].config
    assert config["model"] == "resnet18" and config["variant"] == "D" and config["width"] == 16
    assert config["epochs"] == 3 and config["format"] == "lrlab.train/4"
    assert config["tricks"]["mixup"] == 0.2 and config["tricks"]["cosine"] is False
    assert config["schedule"] is None and config["tricks"]["distillation"] is None
    assert at.query_params["job"] == str(jobs[0].id)


def test_the_model_size_follows_the_choice_before_submitting(store: Store) -> None:
    at = _page()
    assert any(c.value.startswith("small_cnn: 0.09 M parameters") for c in at.caption)
    at.selectbox(key="training.model").set_value("resnet18").run()
    at.number_input(key="training.width").set_value(16).run()
    assert any(c.value.startswith("resnet18-D: 0.70 M parameters")
               and c.value.endswith("per 8×8×1 image") for c in at.caption)


def test_fields_for_resnets_only_are_off_for_other_models(store: Store) -> None:
    at = _page()  # small_cnn: He et al.'s variants and Fixup's norm do not apply
    assert at.selectbox(key="training.variant").disabled
    assert at.selectbox(key="training.norm").disabled
    at.selectbox(key="training.model").set_value("resnet18").run()
    assert not at.selectbox(key="training.variant").disabled
    assert not at.selectbox(key="training.norm").disabled


def test_a_missing_data_folder_is_refused_before_anything_is_queued(store: Store) -> None:
    at = _page()
    at.selectbox(key="training.dataset").set_value("cifar10")
    at.text_input(key="training.root").set_value("/no/such/folder")
    _refused(at, store, "Data folder: folder '/no/such/folder' does not exist")


def test_upload_source_without_a_file_is_refused(store: Store) -> None:
    at = _page()
    at.radio(key="training.schedule_source").set_value("file")
    _refused(at, store, "upload a schedule file")


def test_a_schedule_of_another_length_is_refused_with_both_numbers(store: Store) -> None:
    """The Designer's default is 1000 steps; 5 epochs of digits at batch 128 are 55 updates."""
    at = _page()
    at.radio(key="training.schedule_source").set_value("designer")
    _refused(at, store, "its total_steps is 1000 but this run makes 55 updates",
             "“If the schedule's length differs” stretch")


@pytest.mark.parametrize("fit", ["stretch", "keep"])
def test_designer_schedule_is_sent_with_the_job(store: Store, fit: str) -> None:
    at = _page()
    at.radio(key="training.schedule_source").set_value("designer").run()
    at.selectbox(key="training.schedule_fit").set_value(fit)  # on once a schedule is given
    at = _submit(at)
    assert not at.error
    config = store.list_jobs(None)[0].config
    assert config["schedule_fit"] == fit
    assert config["schedule"]["format"] == "lrlab.schedule/1"
    assert config["schedule"]["total_steps"] == 1000  # fitted when the run starts


def test_a_running_job_shows_progress_and_can_be_cancelled(store: Store) -> None:
    job_id = store.submit("train", kinds.validate("train", {"epochs": 2}))
    store.claim("w")
    store.set_progress(job_id, 0.25, "epoch 1/2, step 5/20")
    at = _page({"job": str(job_id)})
    assert at.get("progress")[0].proto.value == 25
    at.button(key="training.cancel").click().run()
    assert store.get(job_id).cancel_requested


def test_a_finished_run_shows_summary_charts_and_downloads(
    store: Store, lrlab_home: Path, figure
) -> None:
    config = kinds.validate("train", {"model": "small_cnn", "width": 8,
                                        "dataset": "synthetic", "limit": 240, "epochs": 2,
                                        "batch_size": 32, "device": "cpu"})
    job_id = store.submit("train", config)
    store.claim("w")
    with StoreReporter(store, job_id) as reporter:
        result = kinds.run("train", config, reporter, lrlab_home / "runs" / str(job_id))
    store.finish(job_id, "succeeded", result=result)

    at = _page({"job": str(job_id)})
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Best val top-1"] == f"{result['summary']['best_val_top1']:.2%}"
    chart = figure(at, 1)  # after the form's schedule preview
    losses = [t for t in chart["data"] if t["xaxis"] == "x"]
    assert len(losses[0]["y"]) == result["summary"]["steps"]
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Metrics (CSV)", "Metrics (JSON)", "Model (checkpoint.pt)"]


def test_a_stale_link_gets_a_sentence_and_the_form(store: Store) -> None:
    at = _page({"job": "999"})  # _page asserts no exception reached the page
    assert [w.value for w in at.warning] == ["Job 999 does not exist; it may have been deleted."]
    assert "job" not in at.query_params
    assert at.button(key="training.start")


def test_a_run_folder_this_host_cannot_reach_is_said_not_crashed(store: Store) -> None:
    config = kinds.validate("train", {"model": "small_cnn", "dataset": "synthetic"})
    job_id = store.submit("train", config)
    store.claim("w")
    store.finish(job_id, "succeeded", result={"summary": {}, "artifacts":
                                              "file:///no/such/share/runs/1"})
    at = _page({"job": str(job_id)})
    assert [b.proto.label for b in at.get("download_button")] == ["Metrics (CSV)",
                                                                  "Metrics (JSON)"]
    assert any("checkpoint.pt: not readable from this host" in c.value for c in at.caption)


@pytest.mark.parametrize("source", ["tricks", "designer"])
def test_the_preview_is_the_schedule_the_run_trains(store: Store, lrlab_home: Path, figure,
                                                    source: str) -> None:
    """What the page draws before queueing is, update for update, the schedule the run then
    records: the paper's (from the tricks), or the Designer's 1000 steps stretched to the run's
    55 updates (5 epochs of digits at batch 128)."""
    import numpy as np

    from lrlab.core.reporting import NullReporter
    from lrlab.schedules import Schedule

    at = _page()
    at.radio(key="training.schedule_source").set_value(source).run()
    if source == "designer":
        at.selectbox(key="training.schedule_fit").set_value("stretch").run()
        assert at.number_input(key="training.lr").disabled  # the schedule sets the peak
    assert any(c.value.startswith("This run trains this schedule: 55 updates")
               for c in at.caption)
    (drawn,) = [t for t in figure(at)["data"] if t["name"] == "this run"]
    at.button(key="training.start").click().run()
    (job,) = store.list_jobs(None)
    result = kinds.run("train", job.config, NullReporter(), lrlab_home / "runs" / "1")
    recorded = Schedule.from_dict(result["schedule"])
    assert recorded.total_steps == 55
    np.testing.assert_allclose(recorded.lr(np.asarray(drawn["x"], dtype=int)), drawn["y"],
                               rtol=1e-12)


def test_a_missing_teacher_is_refused_before_anything_is_queued(store: Store) -> None:
    at = _page()
    at.text_input(key="training.teacher").set_value("/no/such/run").run()
    at.button(key="training.start").click().run()
    assert any("Distillation teacher: no checkpoint at '/no/such/run'" in e.value
               for e in at.error), [
        e.value for e in at.error]
    assert store.list_jobs(None) == []
