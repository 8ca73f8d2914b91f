"""A schedule sampled at every step: the csv target, and the table every other target falls back
on when it has no closed form for a schedule."""

from __future__ import annotations

import numpy as np

from lrlab.schedules.schedule import Schedule


def lr_table(schedule: Schedule) -> list[float]:
    """lrlab's LR at steps 0..total_steps-1."""
    return schedule.lr(np.arange(schedule.total_steps)).tolist()


def momentum_table(schedule: Schedule) -> list[float] | None:
    """lrlab's momentum at every step, or None when the schedule sets none."""
    values = schedule.momentum(np.arange(schedule.total_steps))
    return None if values is None else values.tolist()


def literal(values: list[float], indent: int = 4, per_line: int = 6) -> str:
    """A Python/JSON list of floats written with repr, so reading it back loses nothing."""
    rows = [", ".join(repr(v) for v in values[i:i + per_line])
            for i in range(0, len(values), per_line)]
    pad = " " * indent
    return "[\n" + ",\n".join(pad + row for row in rows) + ",\n" + " " * (indent - 4) + "]"


def to_csv(schedule: Schedule) -> str:
    """step,lr[,momentum] for every step of the run."""
    lrs, moms = lr_table(schedule), momentum_table(schedule)
    if moms is None:
        return "step,lr\n" + "".join(f"{t},{v!r}\n" for t, v in enumerate(lrs))
    return "step,lr,momentum\n" + "".join(
        f"{t},{v!r},{m!r}\n" for t, (v, m) in enumerate(zip(lrs, moms, strict=True)))
