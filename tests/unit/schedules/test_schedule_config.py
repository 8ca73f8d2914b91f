"""Validation names the field and what is allowed; configs round-trip exactly."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lrlab.schedules import (
    Schedule,
    ScheduleError,
    dump_schedule,
    load_schedule,
    parse_schedule,
    save_schedule,
)
from lrlab.schedules.spec import KINDS


def cfg(main: dict | None = None, **top) -> dict:
    base = {"format": "lrlab.schedule/1", "base_lr": 0.1, "total_steps": 1000,
            "main": main or {"kind": "cosine"}}
    base.update(top)
    return base


BAD = [
    (cfg(base_lr=0), r"base_lr: expected a number > 0, got 0"),
    (cfg(base_lr=-0.1), r"base_lr: expected a number > 0, got -0.1"),
    (cfg(base_lr=math.nan), r"base_lr: expected a finite number"),
    (cfg(base_lr=math.inf), r"base_lr: expected a finite number"),
    (cfg(base_lr="0.1"), r"base_lr: expected a number, got '0.1'"),
    (cfg(base_lr=True), r"base_lr: expected a number, got True"),
    (cfg(total_steps=[10]), r"total_steps: expected an integer >= 1, got \[10\]"),
    (cfg(warmup={"steps": 600}, hold_steps=400), r"warmup.steps \+ hold_steps \(600 \+ 400\)"),
    (cfg({"kind": "sgdr", "T_0": 0}), r"main.T_0: expected an integer >= 1, got 0"),
    (cfg({"kind": "onecycle", "pct_start": 1.0}), r"main.pct_start: expected a number in \(0, 1\)"),
    (cfg({"kind": "onecycle", "pct_start": 0.0}), r"main.pct_start: expected a number in \(0, 1\)"),
    (cfg({"kind": "cosine", "min_lr": 0.2}), r"main.min_lr: 0.2 is above the effective"),
    (cfg({"kind": "cyclic", "base_lr": 0.1}), r"main.base_lr: the lower bound"),
    (cfg({"kind": "warmup_cosine"}), r"main.kind: expected one of constant, step, "),
    (cfg(colour="red"), r"unknown field\(s\) colour"),
    (cfg({"kind": "cosine", "eta_min": 0}), r"main: unknown field\(s\) eta_min"),
    (cfg(warmup={"steps": 10, "length": 3}), r"warmup: unknown field\(s\) length"),
    (cfg(scaling={"rule": "cubic", "reference_batch": 256, "batch": 512}),
     r"scaling.rule: expected one of linear, sqrt"),
    (cfg({"kind": "multistep", "milestones": [500, 500]}), r"main.milestones: expected strictly"),
    (cfg({"kind": "piecewise", "boundaries": [100, 50], "values": [1, 0.5, 0.1]}),
     r"main.boundaries: expected strictly"),
    (cfg({"kind": "piecewise", "boundaries": [100], "values": [1.0]}),
     r"main.values: expected 2 values"),
    ({k: v for k, v in cfg().items() if k != "format"}, r"format: expected 'lrlab.schedule/1'"),
    (cfg(format="lrlab.schedule/3"), r"format: expected 'lrlab.schedule/1' \(or"),
    (cfg(batch={"kind": "steps", "milestones": [500], "factors": [2.0]}),
     r"batch: a batch-size plan needs format 'lrlab.schedule/2'"),
    (cfg(format="lrlab.schedule/2", batch={"kind": "steps", "milestones": [500, 400],
                                          "factors": [2.0, 4.0]}),
     r"batch.milestones: expected strictly increasing"),
    (cfg(format="lrlab.schedule/2", batch={"kind": "steps", "milestones": [500],
                                          "factors": [2.0, 4.0]}),
     r"batch.factors: expected one per milestone \(1\), got 2"),
    (cfg(format="lrlab.schedule/2", batch={"kind": "steps", "milestones": [1000],
                                          "factors": [2.0]}),
     r"batch.milestones: 1000 is not before total_steps"),
    (cfg(format="lrlab.schedule/2", batch={"kind": "steps", "milestones": [10],
                                          "factors": [0.0]}),
     r"batch.factors\[0\]: expected a number > 0"),
    (cfg(format="lrlab.schedule/2", batch={"kind": "growing"}),
     r"batch.kind: expected one of constant, steps"),
    (cfg({"kind": "onecycle"}, warmup={"steps": 10}), r"warmup: onecycle carries its own"),
    (cfg({"kind": "cyclic", "base_lr": 0.01}, warmup={"steps": 10}), r"warmup: cyclic carries"),
    (cfg(warmup={"steps": 10, "start_factor": 0.0, "shape": "exponential"}),
     r"warmup.start_factor: an exponential warmup needs > 0"),
    (cfg({"kind": "onecycle"}, momentum={"value": 0.9}), r"momentum: onecycle cycles momentum"),
    (cfg({"kind": "cyclic", "base_lr": 0.01, "mode": "sawtooth"}),
     r"main.mode: expected one of triangular, triangular2, exp_range, got 'sawtooth'"),
    (cfg({"kind": "onecycle", "three_phase": "yes"}), r"main.three_phase: expected true or false"),
    (cfg({"kind": "multistep", "milestones": [100, 0]}),
     r"main.milestones\[1\]: expected an integer >= 1, got 0"),
    (cfg({"kind": "multistep", "milestones": []}), r"main.milestones: expected a non-empty list"),
    (cfg({"kind": "cyclic", "base_lr": 0.01, "step_size_down": 0}),
     r"main.step_size_down: expected an integer >= 1, got 0"),
    (cfg(hold_steps=-1), r"hold_steps: expected an integer >= 0, got -1"),
    (cfg(warmup={"steps": 10, "start_factor": 1.5}),
     r"warmup.start_factor: expected a number in \[0, 1\], got 1.5"),
    (cfg(momentum={"value": 1.0}), r"momentum.value: expected a number in \[0, 1\), got 1.0"),
    (cfg(scaling={"rule": "linear", "reference_batch": 0, "batch": 512}),
     r"scaling.reference_batch: expected an integer >= 1, got 0"),
]


@pytest.mark.parametrize(("config", "message"), BAD, ids=[m for _, m in BAD])
def test_invalid_configs_name_the_field(config: dict, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        Schedule.from_dict(config)


def _example(kind: str) -> dict:
    main = {"kind": kind}
    top = {}
    if kind == "cyclic":
        main["base_lr"] = 0.01
    if not KINDS[kind].own_warmup:
        top = {"warmup": {"steps": 50, "start_factor": 0.1, "shape": "exponential"},
               "hold_steps": 20, "momentum": {"value": 0.9}}
    return cfg(main, scaling={"rule": "linear", "reference_batch": 256, "batch": 512}, **top)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_every_kind_round_trips_exactly(kind: str, fmt: str, tmp_path) -> None:
    schedule = Schedule.from_dict(_example(kind))
    text = dump_schedule(schedule, fmt)
    again = parse_schedule(text, source=f"x.{fmt}")
    assert again.to_dict() == schedule.to_dict()
    assert dump_schedule(again, fmt) == text
    path = tmp_path / f"s.{'yml' if fmt == 'yaml' else fmt}"
    save_schedule(schedule, path)
    assert load_schedule(path).to_dict() == schedule.to_dict()


def test_defaults_are_filled_from_the_kind_table() -> None:
    main = Schedule.from_dict(cfg({"kind": "onecycle"})).to_dict()["main"]
    assert main == {"kind": "onecycle", **KINDS["onecycle"].defaults()}


def test_yaml_reads_scientific_notation_without_a_dot() -> None:
    text = ("format: lrlab.schedule/1\nbase_lr: 3e-4\ntotal_steps: 100\n"
            "main: {kind: cosine, min_lr: 1e-6}\n")
    schedule = parse_schedule(text)
    assert schedule.base_lr == 3e-4 and schedule.params["min_lr"] == 1e-6


def test_files_that_are_not_schedules_say_so(tmp_path) -> None:
    bad = tmp_path / "notes.yaml"
    bad.write_text("{not: [valid")
    with pytest.raises(ScheduleError, match=r"notes.yaml: not valid JSON or YAML"):
        load_schedule(bad)
    listy = tmp_path / "list.json"
    listy.write_text(json.dumps([1, 2]))
    with pytest.raises(ScheduleError, match=r"list.json: expected a JSON/YAML mapping"):
        load_schedule(listy)
    with pytest.raises(ScheduleError, match=r"missing.json: no such file"):
        load_schedule(tmp_path / "missing.json")
    with pytest.raises(ScheduleError, match=r"x.json: main.T_0"):
        parse_schedule(json.dumps(cfg({"kind": "sgdr", "T_0": 0})), source="x.json")


def test_batch_scaling_rules() -> None:
    linear = Schedule.from_dict(cfg(scaling={"rule": "linear", "reference_batch": 256,
                                             "batch": 1024}))
    sqrt = Schedule.from_dict(cfg(scaling={"rule": "sqrt", "reference_batch": 256,
                                           "batch": 1024}))
    assert linear.effective_base_lr == pytest.approx(0.4)
    assert sqrt.effective_base_lr == pytest.approx(0.2)
    assert linear.lr(np.array([0]))[0] == pytest.approx(0.4)


def test_steps_must_be_non_negative_whole_numbers() -> None:
    schedule = Schedule.from_dict(cfg())
    with pytest.raises(ScheduleError, match="steps: expected >= 0"):
        schedule.lr(np.array([-1]))
    with pytest.raises(ScheduleError, match="whole numbers"):
        schedule.lr(np.array([0.5]))


def test_plateau_needs_enough_metrics() -> None:
    schedule = Schedule.from_dict(cfg({"kind": "plateau"}))
    with pytest.raises(ScheduleError, match=r"metrics: plateau needs one metric per step"):
        schedule.lr(np.arange(10), metrics=[1.0, 2.0])


def test_a_batch_plan_is_format_2_and_no_plan_stays_format_1() -> None:
    plan = {"kind": "steps", "milestones": [300, 600], "factors": [2.0, 8.0]}
    with_plan = Schedule.from_dict(cfg(format="lrlab.schedule/2", batch=plan))
    assert with_plan.to_dict()["format"] == "lrlab.schedule/2"
    assert with_plan.to_dict()["batch"] == plan
    np.testing.assert_array_equal(with_plan.batch_factor([0, 299, 300, 599, 600, 999]),
                                  [1, 1, 2, 2, 8, 8])
    assert [with_plan.batch_size(t, 48) for t in (0, 300, 999)] == [48, 96, 384]
    constant = Schedule.from_dict(cfg(format="lrlab.schedule/2", batch={"kind": "constant"}))
    assert constant.to_dict()["format"] == "lrlab.schedule/1" and "batch" not in constant.config
    old = Schedule.from_dict(cfg())
    assert old.to_dict()["format"] == "lrlab.schedule/1"
    np.testing.assert_array_equal(old.batch_factor([0, 999]), [1.0, 1.0])
