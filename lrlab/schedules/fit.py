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
