"""The Schedule Designer's logic, without a browser: form <-> config, steps, previews, summaries."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrlab.core.errors import LrlabError
from lrlab.schedules import Schedule
from lrlab.schedules.io import parse_metric_series
from lrlab.schedules.spec import KINDS
from lrlab.web import designer
from lrlab.web.plots import schedule_figure


def form(**overrides: object) -> dict:
    f = designer.default_form()
    f.update(overrides)
    return f


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_default_form_of_every_kind_is_a_valid_schedule(kind: str) -> None:
    config = designer.config_from_form(form(kind=kind))
    schedule = Schedule.from_dict(config)
    assert schedule.total_steps == 1000
    assert config["main"]["kind"] == kind


def test_warmup_hold_cosine_matches_the_published_formula() -> None:
    f = form(kind="cosine", base_lr=0.4, total_steps=500, **{
        "warmup.on": True, "warmup.steps": 50, "warmup.start_factor": 0.0, "hold_steps": 20})
    schedule = Schedule.from_dict(designer.config_from_form(f))
    t = np.arange(500)
    lr = schedule.lr(t)
    W, H, N = 50, 20, 500
    np.testing.assert_allclose(lr[:W], 0.4 * t[:W] / W, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(lr[W:W + H], 0.4, rtol=1e-12)
    main = t[W + H:]
    expected = 0.5 * 0.4 * (1 + np.cos(np.pi * (main - W - H) / (N - W - H)))
    np.testing.assert_allclose(lr[W + H:], expected, rtol=1e-12, atol=1e-15)


def test_onecycle_drops_warmup_and_constant_momentum_it_does_not_allow() -> None:
    config = designer.config_from_form(form(kind="onecycle", **{
        "warmup.on": True, "hold_steps": 10, "momentum.on": True}))
    assert "warmup" not in config and "hold_steps" not in config and "momentum" not in config


@pytest.mark.parametrize(
    ("mode", "extra", "steps"),
    [
        (designer.STEPS_DIRECT, {"total_steps": 777}, 777),
        (designer.STEPS_FROM_EPOCHS, {"epochs": 12, "steps_per_epoch": 391}, 12 * 391),
        (designer.STEPS_FROM_DATASET, {"epochs": 3, "dataset_size": 50_000, "batch_size": 128},
         3 * 391),
        (designer.STEPS_FROM_DATASET,
         {"epochs": 3, "dataset_size": 50_000, "batch_size": 128, "drop_last": True}, 3 * 390),
    ],
)
def test_total_steps_from_each_length_mode(mode: str, extra: dict, steps: int) -> None:
    assert designer.form_total_steps(form(steps_mode=mode, **extra)) == steps


def test_steps_per_epoch_refuses_impossible_batches() -> None:
    with pytest.raises(LrlabError, match="batch_size"):
        designer.steps_per_epoch(100, 0)
    with pytest.raises(LrlabError, match="larger than the dataset"):
        designer.steps_per_epoch(100, 128, drop_last=True)


def test_number_lists_parse_and_name_the_field() -> None:
    assert designer.parse_number_list("500, 750;900", "main.milestones", integer=True) == [
        500, 750, 900]
    assert designer.parse_number_list("1, 0.1", "main.values", integer=False) == [1.0, 0.1]
    with pytest.raises(LrlabError, match=r"main\.milestones: 'x' is not a number"):
        designer.parse_number_list("500, x", "main.milestones", integer=True)
    with pytest.raises(LrlabError, match="whole numbers"):
        designer.parse_number_list("500.5", "main.milestones", integer=True)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_form_round_trips_through_config(kind: str) -> None:
    f = form(kind=kind, base_lr=0.3, total_steps=2000, **{
        "scaling.on": True, "scaling.rule": "sqrt", "scaling.batch": 512})
    if not KINDS[kind].own_warmup:
        f.update({"warmup.on": True, "warmup.steps": 40, "warmup.start_factor": 0.1,
                  "hold_steps": 5})
    config = designer.config_from_form(f)
    back = designer.config_from_form({**designer.default_form(),
                                      **designer.form_from_config(config)})
    assert Schedule.from_dict(back).to_dict() == Schedule.from_dict(config).to_dict()


def test_extreme_preserving_decimation_keeps_restart_jumps_and_extremes() -> None:
    schedule = Schedule.from_dict({
        "format": "lrlab.schedule/1", "base_lr": 1.0, "total_steps": 1_000_000,
        "main": {"kind": "sgdr", "T_0": 1000, "T_mult": 1, "min_lr": 0.0}})
    p = designer.preview(schedule, "sgdr", max_points=4000)
    assert len(p.steps) <= 4000
    assert p.lr.max() == pytest.approx(1.0) and p.lr.min() < 1e-4
    # Every restart in the run keeps its peak: 1000 cycles -> 1000 points at the top.
    assert np.sum(p.lr > 0.999) >= 1000
    assert np.all(np.diff(p.steps) > 0)


def test_decimation_is_identity_for_short_series() -> None:
    values = np.sin(np.arange(50))
    np.testing.assert_array_equal(designer.extreme_preserving_indices(values, 100), np.arange(50))


def test_summary_figures_by_hand() -> None:
    schedule = Schedule.from_dict({
        "format": "lrlab.schedule/1", "base_lr": 0.1, "total_steps": 100,
        "warmup": {"steps": 10, "start_factor": 0.0, "shape": "linear"},
        "main": {"kind": "linear", "end_factor": 0.0}})
    s = designer.preview(schedule, "x").summary
    lr = 0.1 * np.concatenate([np.arange(10) / 10, 1 - np.arange(90) / 90])
    assert s["peak_lr"] == pytest.approx(0.1)
    assert s["warmup_steps"] == 10
    assert s["final_lr"] == pytest.approx(lr[-1])
    assert s["area"] == pytest.approx(lr.sum())
    assert s["mean_lr"] == pytest.approx(lr.mean())


def test_summary_table_sets_schedules_side_by_side_in_one_format() -> None:
    schedule = Schedule.from_dict({"format": "lrlab.schedule/1", "base_lr": 0.123456,
                                   "total_steps": 100, "main": {"kind": "constant"}})
    same = designer.preview(schedule, "x")
    table = {row["figure"]: row for row in designer.summary_table([same, same])}
    assert table["peak LR"] == {"figure": "peak LR", "x": "0.123", "x (2)": "0.123"}
    assert table["total steps"]["x"] == "100" and table["area (Σ LR)"]["x"] == "12.3"


def test_plateau_preview_uses_the_metric_series() -> None:
    metrics = parse_metric_series("loss\n1.0\n0.9\n" + "0.9\n" * 40, "m.csv")
    config = designer.config_from_form(form(kind="plateau", total_steps=len(metrics), **{
        "main.plateau.patience": 3}))
    p = designer.preview(Schedule.from_dict(config), "plateau", metrics=metrics)
    assert p.lr[0] == pytest.approx(0.1) and p.lr[-1] < 0.1


def test_metric_series_errors_name_the_file_and_line() -> None:
    with pytest.raises(LrlabError, match=r"m\.csv: line 3: 'abc' is not a number"):
        parse_metric_series("loss\n1.0\nabc\n", "m.csv")
    with pytest.raises(LrlabError, match="finite"):
        parse_metric_series("1.0\nnan\n", "m.csv")
    with pytest.raises(LrlabError, match="no metric values"):
        parse_metric_series("loss\n", "m.csv")


def test_unique_names() -> None:
    assert designer.unique_name("cos", []) == "cos"
    assert designer.unique_name("cos", ["cos", "cos (2)"]) == "cos (3)"


def test_figure_has_one_trace_per_schedule_and_a_momentum_row() -> None:
    cos = Schedule.from_dict(designer.config_from_form(form(kind="cosine")))
    one = Schedule.from_dict(designer.config_from_form(form(kind="onecycle")))
    fig = schedule_figure([designer.preview(cos, "cos"), designer.preview(one, "1cycle")],
                          log_y=True, steps_per_epoch=100, x_unit="epoch")
    names = [t.name for t in fig.data]
    assert names == ["cos", "1cycle", "1cycle (momentum)"]
    assert fig.layout.yaxis.type == "log"
    assert math.isclose(fig.data[0].x[-1], 999 / 100)
    assert "epoch" in fig.data[0].hovertemplate and "%{y:.6g}" in fig.data[0].hovertemplate


def test_figure_refuses_epochs_without_steps_per_epoch() -> None:
    cos = Schedule.from_dict(designer.config_from_form(form(kind="cosine")))
    with pytest.raises(ValueError, match="steps_per_epoch"):
        schedule_figure([designer.preview(cos, "cos")], x_unit="epoch")


def test_a_config_loaded_into_a_session_comes_back_as_the_same_schedule() -> None:
    config = {"format": "lrlab.schedule/1", "base_lr": 0.4, "total_steps": 550,
              "warmup": {"steps": 55, "start_factor": 0.1, "shape": "linear"},
              "main": {"kind": "cosine", "min_lr": 0.001}}
    session: dict = {"other.page": 1}
    designer.load_into_session(session, config)
    assert all(k.startswith(designer.FORM_PREFIX) for k in session if k != "other.page")
    steps = np.arange(600)
    got = Schedule.from_dict(designer.schedule_from_session(session)).lr(steps)
    np.testing.assert_array_equal(got, Schedule.from_dict(config).lr(steps))
    # an untouched session is the Designer's default schedule
    assert designer.schedule_from_session({}) == Schedule.from_dict(
        designer.config_from_form(designer.default_form())).to_dict()


def test_a_training_runs_schedule_comes_from_the_source_chosen() -> None:
    advice = {"format": "lrlab.schedule/1", "base_lr": 0.2, "total_steps": 100,
              "main": {"kind": "onecycle"}}
    assert designer.chosen_schedule("tricks", {}) is None
    assert designer.chosen_schedule("advice", {designer.ADVICE_KEY: advice}) == advice
    with pytest.raises(LrlabError, match="no LR Finder advice chosen yet"):
        designer.chosen_schedule("advice", {})
    text = "format: lrlab.schedule/1\nbase_lr: 1e-2\ntotal_steps: 10\nmain: {kind: constant}\n"
    got = designer.chosen_schedule("file", {}, ("s.yaml", text))
    assert got["base_lr"] == 0.01 and got["main"]["kind"] == "constant"
    with pytest.raises(LrlabError, match="upload a schedule file"):
        designer.chosen_schedule("file", {})
    with pytest.raises(LrlabError, match=r"s\.yaml"):
        designer.chosen_schedule("file", {}, ("s.yaml", "base_lr: [1, 2"))
