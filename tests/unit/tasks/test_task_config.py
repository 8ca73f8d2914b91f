"""The task form of lrlab.train/3 and /4: defaults, mistakes named without importing the task,
and the run's length in updates (epochs of whole updates, or max_steps)."""

from __future__ import annotations

import pytest

from lrlab.core.errors import LrlabError
from lrlab.tasks.setups import planned_updates, validate_setup
from lrlab.tasks.task_config import validate_config

TASK = {"task": {"spec": "nowhere.at_all:build", "args": {"hidden": 8}}}


def test_defaults_fill_in_and_the_task_is_never_imported() -> None:
    cfg = validate_setup(TASK)  # the module does not exist: validation must not import it
    assert cfg["format"] == "lrlab.train/4" and cfg["task"] == TASK["task"]
    assert validate_setup({**TASK, "format": "lrlab.train/3"})["format"] == "lrlab.train/4"
    assert cfg["optimizer"]["name"] == "sgd" and cfg["schedule"] is None
    assert (cfg["epochs"], cfg["accumulation_steps"], cfg["max_steps"], cfg["nproc"]) == (
        5, 1, None, 1)


@pytest.mark.parametrize(("change", "words"), [
    ({"model": "resnet18"}, "unknown field(s) model"),
    ({"task": {"spec": "not a spec"}}, "task.spec: expected package.module:function"),
    ({"task": {"spec": "a.b:c", "args": [1]}}, "task.args: expected a mapping"),
    ({"task": {"spec": "a.b:c", "kwargs": {}}}, "task: unknown field(s) kwargs"),
    ({"format": "lrlab.train/2"}, "format: a task needs 'lrlab.train/3' or 'lrlab.train/4'"),
    ({"max_steps": 0}, "max_steps: expected an integer >= 1"),
    ({"optimizer": {"name": "lion"}}, "optimizer.name: expected one of"),
    ({"schedule_fit": "squeeze"}, "schedule_fit: expected one of refuse, stretch, keep"),
])
def test_each_mistake_names_its_field(change: dict, words: str) -> None:
    with pytest.raises(LrlabError) as err:
        validate_config({**TASK, **change})
    assert words in str(err.value)


def test_a_run_is_epochs_of_whole_updates_or_max_steps() -> None:
    cfg = validate_setup({**TASK, "epochs": 3, "accumulation_steps": 4})
    assert planned_updates(cfg, batches=10) == 3 * 2  # 10 batches: 2 whole updates of 4
    assert planned_updates({**cfg, "batches_per_epoch": 12}, batches=10) == 3 * 3
    assert planned_updates({**cfg, "max_steps": 50}) == 50
    with pytest.raises(LrlabError) as err:
        planned_updates(cfg, batches=None)
    assert "an epoch of task 'nowhere.at_all:build' holds is not known" in str(err.value)


def test_the_image_form_reads_as_before() -> None:
    cfg = validate_setup({"model": "small_cnn", "dataset": "digits", "format": "lrlab.train/1"})
    assert cfg["format"] == "lrlab.train/4" and "task" not in cfg


def test_the_plan_is_known_here_only_when_the_config_says_its_updates() -> None:
    from lrlab.tasks.task_config import known_plan

    assert known_plan(validate_config(TASK)) is None  # only the worker can count the batches
    schedule, fit = known_plan(validate_config({**TASK, "max_steps": 12,
                                                "optimizer": {"lr": 0.05}}))
    assert (schedule.total_steps, schedule.lr_at(11), fit["mode"]) == (12, 0.05, "fits")
    schedule, _ = known_plan(validate_config({**TASK, "batches_per_epoch": 7, "epochs": 2}))
    assert schedule.total_steps == 14
