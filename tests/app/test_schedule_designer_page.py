"""The Schedule Designer page under Streamlit's AppTest: widgets in, figure data out."""

from __future__ import annotations

import json

import pytest
from app_helpers import PAGES
from streamlit.testing.v1 import AppTest

from lrlab.schedules.targets import TARGETS

PAGE = str(PAGES / "schedule_designer.py")


@pytest.fixture
def at() -> AppTest:
    app = AppTest.from_file(PAGE, default_timeout=60)
    app.run()
    assert not app.exception, app.exception
    return app


def traces(at: AppTest, figure) -> dict[str, dict]:
    return {t["name"]: t for t in figure(at)["data"]}


def widget(elements, key: str):
    return next(e for e in elements if e.key == key)


def test_default_page_shows_a_cosine_preview(at: AppTest, figure) -> None:
    current = traces(at, figure)["current"]
    assert current["y"][0] == pytest.approx(0.1)
    assert current["y"][-1] < 1e-3
    assert not at.error


def test_changing_widgets_redraws_the_figure(at: AppTest, figure) -> None:
    widget(at.number_input, "d.base_lr").set_value(0.5).run()
    assert traces(at, figure)["current"]["y"][0] == pytest.approx(0.5)

    widget(at.selectbox, "d.kind").set_value("onecycle").run()
    data = traces(at, figure)
    assert "current (momentum)" in data
    assert max(data["current"]["y"]) == pytest.approx(0.5)
    assert data["current"]["y"][0] == pytest.approx(0.5 / 25)

    widget(at.number_input, "d.total_steps").set_value(3000).run()
    assert traces(at, figure)["current"]["x"][-1] == 2999


def test_warmup_changes_the_start_of_the_curve(at: AppTest, figure) -> None:
    widget(at.checkbox, "d.warmup.on").check().run()
    widget(at.number_input, "d.warmup.steps").set_value(200).run()
    y = traces(at, figure)["current"]["y"]
    x = traces(at, figure)["current"]["x"]
    assert y[0] == 0.0
    assert y[x.index(100)] == pytest.approx(0.05)


def test_invalid_settings_show_a_message_and_the_page_keeps_working(at: AppTest, figure) -> None:
    widget(at.checkbox, "d.warmup.on").check().run()
    widget(at.number_input, "d.warmup.steps").set_value(5000).run()
    assert not at.exception
    assert any("warmup" in e.value for e in at.error)
    widget(at.number_input, "d.warmup.steps").set_value(100).run()
    assert not at.error and traces(at, figure)["current"]


def test_bad_upload_shows_the_validation_message(at: AppTest, figure) -> None:
    bad = {"format": "lrlab.schedule/1", "base_lr": -1, "total_steps": 100,
           "main": {"kind": "cosine"}}
    at.file_uploader[0].set_value(("bad.json", json.dumps(bad).encode(), "application/json"))
    at.run()
    assert not at.exception
    assert any("base_lr" in e.value for e in at.error)
    assert traces(at, figure)["current"]["y"][0] == pytest.approx(0.1), "form unchanged"

    at.file_uploader[0].set_value(("junk.yaml", b"{not: [valid", "application/yaml")).run()
    assert any("junk.yaml" in e.value for e in at.error)


def test_good_upload_fills_the_form(at: AppTest, figure) -> None:
    config = ("format: lrlab.schedule/1\nbase_lr: 0.2\ntotal_steps: 600\n"
              "main: {kind: step, step_size: 100, gamma: 0.5}\n")
    at.file_uploader[0].set_value(("step.yaml", config.encode(), "application/yaml")).run()
    assert not at.exception and not at.error
    assert widget(at.selectbox, "d.kind").value == "step"
    y = traces(at, figure)["current"]["y"]
    assert y[0] == pytest.approx(0.2) and y[-1] == pytest.approx(0.2 * 0.5**5)


def test_kept_schedules_overlay(at: AppTest, figure) -> None:
    at.button[0].click().run()  # keep the cosine
    widget(at.selectbox, "d.kind").set_value("sgdr").run()
    names = set(traces(at, figure))
    assert {"current", "cosine"} <= names
    table = at.dataframe[0].value.set_index("figure")
    assert list(table.columns) == ["current", "cosine"]  # side by side, a column each
    assert table.loc["peak LR", "cosine"] == "0.1"


def test_export_offers_every_target_with_its_measured_label(at: AppTest) -> None:
    """The default (cosine, 1000 steps) has a built-in form everywhere but ignite (curved) and
    csv (a table by nature); each shows its label before the download."""
    table = {"ignite", "csv"}
    for target in TARGETS:
        at.selectbox(key="designer.export_to").set_value(target).run()
        assert not at.exception, target
        assert not at.error, (target, [e.value for e in at.error])
        assert len(at.get("download_button")) == 1, target
        shown = at.info if target in table else at.success
        assert len(shown) == 1, target
        assert shown[0].value.startswith("via table" if target in table else "exact"), target
    at.selectbox(key="designer.export_to").set_value("hf").run()
    assert "lr_scheduler_type='cosine'" in at.code[-1].value


def test_export_says_why_a_target_cannot_take_a_schedule(at: AppTest) -> None:
    at.selectbox(key="d.kind").set_value("plateau").run()
    at.selectbox(key="designer.export_to").set_value("keras").run()
    assert not at.exception
    assert "plateau schedule follows a validation metric" in at.error[0].value
    assert not at.get("download_button")
    at.selectbox(key="designer.export_to").set_value("pytorch").run()
    assert not at.error and len(at.get("download_button")) == 1


def test_noise_panel_shows_two_schedules_are_equivalent(at: AppTest) -> None:
    """Kept: base LR 0.1 at the panel's batch 128. Current: the same LR scaled linearly to
    batch 512 (effective 0.4). Their noise scales agree to the −1 term of N/B − 1."""
    at.button[0].click().run()  # keep the default cosine (0.1, 1000 steps)
    at.checkbox(key="d.scaling.on").check().run()
    at.number_input(key="d.scaling.reference_batch").set_value(128).run()
    at.number_input(key="d.scaling.batch").set_value(512).run()
    assert not at.exception
    table = at.dataframe[-1].value
    rows = {r["schedule"]: r for r in table.to_dict("records")}
    kept, current = rows["cosine"], rows["current"]
    # g = η/(1 − 0.9)·(N/B − 1) at the peak: 0.1/0.1·(50000/128 − 1) and 0.4/0.1·(50000/512 − 1)
    assert kept["g at the peak"] == pytest.approx(50_000 / 128 - 1)
    assert current["g at the peak"] == pytest.approx(4 * (50_000 / 512 - 1))
    assert abs(current["mean g"] / kept["mean g"] - 1) < 0.01


def test_equivalent_batch_schedule_is_kept_with_the_same_noise(at: AppTest) -> None:
    at.selectbox(key="d.kind").set_value("multistep").run()
    at.number_input(key="d.noise.dataset_size").set_value(50_000).run()
    at.number_input(key="d.noise.batch_size").set_value(128).run()
    at.button(key="designer.batch_plan").click().run()
    assert not at.exception and not at.error
    assert any("with batches 128, 1251, 10212 and the same noise scale" in c.value
               for c in at.caption)
    rows = {r["schedule"]: r for r in at.dataframe[-1].value.to_dict("records")}
    plan = next(r for name, r in rows.items() if name.startswith("batch plan of"))
    # Same noise at the start (no decay yet) and, by construction, after each change.
    assert plan["g at the peak"] == pytest.approx(rows["current"]["g at the peak"])
    assert plan["final g"] == pytest.approx(rows["current"]["final g"], rel=1e-9)


def test_train_with_this_schedule_hands_it_to_training_stretched_to_the_run(
    at: AppTest, store
) -> None:
    """From the Designer: the Training page takes this form's schedule, its length taken from
    the run (the form's 1000 steps become the 55 updates of 5 digits epochs at batch 128)."""
    widget(at.number_input, "d.base_lr").set_value(0.3).run()
    at.button(key="designer.train").click().run()
    assert at.session_state["training.schedule_source"] == "designer"
    assert at.session_state["training.schedule_fit"] == "stretch"
    training = AppTest.from_file(str(PAGES / "training.py"), default_timeout=60)
    for key in ("training.schedule_source", "training.schedule_fit", "d.base_lr"):
        training.session_state[key] = at.session_state[key]
    training.run()
    training.button(key="training.start").click().run()
    assert not training.exception and not training.error, [e.value for e in training.error]
    (job,) = store.list_jobs(None, kind="train")
    assert job.config["schedule"]["base_lr"] == 0.3
    assert job.config["schedule"]["total_steps"] == 1000
    assert job.config["schedule_fit"] == "stretch"  # the run rescales it to its 55 updates


def test_a_kind_change_names_the_schedule_after_the_new_kind(at: AppTest) -> None:
    widget(at.text_input, "d.name").set_value("my cosine").run()
    widget(at.selectbox, "d.kind").set_value("onecycle").run()
    assert widget(at.text_input, "d.name").value == "onecycle"


def test_the_x_axis_choice_shows_only_when_epochs_are_known(at: AppTest) -> None:
    """Length in steps: no one-option radio. Length from epochs: step or epoch."""
    assert not [r for r in at.radio if r.label == "x axis"]
    widget(at.radio, "d.steps_mode").set_value("Epochs × steps per epoch").run()
    assert [r.options for r in at.radio if r.label == "x axis"] == [["step", "epoch"]]
