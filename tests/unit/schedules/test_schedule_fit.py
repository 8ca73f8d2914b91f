"""A schedule fitted to a run of another length: stretch rescales every step-valued field, and
training refuses a mismatch unless told to stretch or keep."""

from __future__ import annotations

import numpy as np
import pytest

from lrlab.core.errors import LrlabError
from lrlab.schedules import Schedule, ScheduleError
from lrlab.schedules.fit import stretch
from lrlab.schedules.spec import KINDS
from lrlab.training.job import train

BASE = {"format": "lrlab.schedule/1", "base_lr": 0.2, "total_steps": 1000}
MAIN = {
    "step": {"step_size": 200}, "multistep": {"milestones": [400, 700]},
    "exponential": {"gamma": 0.997}, "power": {"s": 50.0}, "sgdr": {"T_0": 100, "T_mult": 2},
    "cyclic": {"base_lr": 0.01, "step_size_up": 100, "step_size_down": 150},
    "piecewise": {"boundaries": [300, 600]}, "inverse_sqrt": {"timescale": 80.0},
    "wsd": {"decay_steps": 200}, "onecycle": {}, "cosine": {}, "plateau": {"patience": 20},
}


@pytest.mark.parametrize("kind", list(MAIN))
@pytest.mark.parametrize("new_total", [500, 2000])
def test_every_step_valued_field_is_rescaled(kind: str, new_total: int) -> None:
    top = {} if KINDS[kind].own_warmup else {"warmup": {"steps": 100}, "hold_steps": 40}
    schedule = Schedule.from_dict({**BASE, **top, "main": {"kind": kind, **MAIN[kind]}})
    fitted = stretch(schedule, new_total)
    ratio = new_total / 1000
    assert fitted.total_steps == new_total
    assert fitted.warmup_steps == round(schedule.warmup_steps * ratio)
    assert fitted.hold_steps == round(schedule.hold_steps * ratio)
    for field in KINDS[kind].fields:
        old, new = schedule.params[field.name], fitted.params[field.name]
        if field.unit == "steps":
            expected = ([round(v * ratio) for v in old] if isinstance(old, list) else
                        round(old * ratio) if field.kind == "int" else old * ratio)
            assert new == pytest.approx(expected), field.name
        elif field.name != "gamma" or kind != "exponential":
            assert new == old, field.name  # fractions, factors and LRs stay


def test_the_shape_is_kept_in_proportion() -> None:
    cosine = Schedule.from_dict({**BASE, "warmup": {"steps": 100}, "main": {"kind": "cosine"}})
    fitted = stretch(cosine, 55)  # advice for 1000 steps, sized to a 55-update run
    assert fitted.total_steps == 55 and fitted.warmup_steps == 6
    lr = fitted.lr(np.arange(55))
    assert int(np.argmax(lr)) == 6 and lr.max() == pytest.approx(0.2)  # the peak is in the run
    # Exponential decay falls as far over the new length as over the old one.
    exp = Schedule.from_dict({**BASE, "main": {"kind": "exponential", "gamma": 0.997}})
    assert stretch(exp, 250).lr_at(249) == pytest.approx(exp.lr_at(999), rel=1e-2)


def test_a_stretch_too_short_for_its_milestones_says_so() -> None:
    multistep = Schedule.from_dict({**BASE, "main": {"kind": "multistep",
                                                    "milestones": [500, 501]}})
    with pytest.raises(ScheduleError, match=r"stretching 1000 to 10 steps: main\.milestones"):
        stretch(multistep, 10)


@pytest.mark.parametrize(("fit", "steps"), [("stretch", 22), ("keep", 1000)])
def test_training_fits_or_refuses(fit: str, steps: int) -> None:
    run = {"model": "small_cnn", "width": 4, "dataset": "digits", "batch_size": 128,
           "epochs": 2, "device": "cpu",
           "schedule": {**BASE, "warmup": {"steps": 100}, "main": {"kind": "cosine"}}}
    with pytest.raises(LrlabError, match="its total_steps is 1000 but this run makes 22 updates"):
        train(run)
    done = train({**run, "schedule_fit": fit})
    assert done["schedule"]["total_steps"] == steps
    assert done["summary"]["schedule_fit"] == {"mode": fit, "schedule_steps": 1000,
                                               "run_updates": 22}
