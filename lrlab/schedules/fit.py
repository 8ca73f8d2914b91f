"""A schedule fitted to another run: stretched to another length, or moved to another peak LR.

"stretch" rescales every step-valued field (the ones declared with unit "steps": warmup, hold,
milestones, cycle lengths, time scales, decay lengths, patience, batch milestones) by
new_total / total, rounding counts of updates, and turns exponential decay's per-step gamma
into gamma^(total / new_total) so the LR falls as far over the run. Fractions (pct_start),
factors and LRs stay. The result is validated like any schedule: a stretch so short that two
milestones land on one step is refused, naming the field.

"scale_lr" multiplies the peak (base_lr) and every absolute LR (fields declared with unit "lr":
min_lr, cyclic's lower bound) by one factor, so the shape is the same in proportion at another
LR: what an LR check ladder trains at each of its points.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrlab.schedules.config import ScheduleError
from lrlab.schedules.schedule import Schedule
from lrlab.schedules.spec import KINDS


def _scaled(value: Any, ratio: float, kind: str, low: float | None) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [_scaled(v, ratio, kind.removesuffix("_list"), low) for v in value]
    if kind == "int":
        return max(int(low or 0), round(value * ratio))
    return value * ratio


def stretch(schedule: Schedule, total_steps: int) -> Schedule:
    """The schedule over `total_steps` updates, the same shape in proportion."""
    if total_steps < 1:
        raise ScheduleError(f"total_steps: expected >= 1, got {total_steps}")
    ratio = total_steps / schedule.total_steps
    config = schedule.to_dict()
    config["total_steps"] = total_steps
    if "warmup" in config:
        config["warmup"]["steps"] = max(1, round(config["warmup"]["steps"] * ratio))
    config["hold_steps"] = round(config["hold_steps"] * ratio)
    main = config["main"]
    for field in KINDS[main["kind"]].fields:
        if field.unit == "steps":
            main[field.name] = _scaled(main[field.name], ratio, field.kind, field.low)
    if main["kind"] == "exponential":
        main["gamma"] = main["gamma"] ** (1 / ratio)
    if "batch" in config:
        config["batch"]["milestones"] = [round(m * ratio) for m in config["batch"]["milestones"]]
    try:
        return Schedule.from_dict(config)
    except ScheduleError as exc:
        raise ScheduleError(f"stretching {schedule.total_steps} to {total_steps} steps: "
                            f"{exc}") from None


def scale_lr(schedule: Schedule, factor: float) -> Schedule:
    """The same schedule with its peak and every absolute LR multiplied by `factor`."""
    if not factor > 0:
        raise ScheduleError(f"LR factor: expected a number > 0, got {factor!r}")
    config = schedule.to_dict()
    config["base_lr"] = config["base_lr"] * factor
    main = config["main"]
    for field in KINDS[main["kind"]].fields:
        if field.unit == "lr" and main[field.name] is not None:
            main[field.name] = main[field.name] * factor
    return Schedule.from_dict(config)


def fit_to_run(schedule: Schedule, updates: int, mode: str,
               run: str = "") -> tuple[Schedule, dict[str, Any]]:
    """A schedule whose length is not the run's `updates` is never used silently: refused with
    both numbers (`run` says what the run is, in words), stretched to the run, or kept as is,
    as `mode` (a config's schedule_fit) says; with how it was fitted."""
    fit = {"mode": mode, "schedule_steps": schedule.total_steps, "run_updates": updates}
    if schedule.total_steps == updates:
        return schedule, {**fit, "mode": "fits"}
    if mode == "stretch":
        return stretch(schedule, updates), fit
    if mode == "keep":
        return schedule, fit
    raise ScheduleError(
        f"schedule: its total_steps is {schedule.total_steps} but this run makes {updates} "
        f"updates{run}; choose --schedule-fit stretch (rescale every step-valued field to the "
        "run) or keep (use it as is)")


def describe_planned(schedule: Schedule, fit: Mapping[str, Any]) -> str:
    """The planned schedule in one sentence, as the Training page says it above its drawing."""
    stretched = ("" if fit["mode"] in ("fits", "keep") else
                 f" (the schedule's {fit['schedule_steps']} steps stretched to them)")
    return (f"This run trains this schedule: {schedule.total_steps} updates{stretched}, "
            f"peak LR {schedule.effective_base_lr:.3g}.")
