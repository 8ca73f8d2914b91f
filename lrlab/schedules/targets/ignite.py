"""PyTorch-Ignite: `PiecewiseLinear` param schedulers for the LR (and SGD's momentum).

Attached to `Events.ITERATION_STARTED`, a PiecewiseLinear sets the value for iteration e
(0, 1, ...) by linear interpolation between its milestones, so update t uses value(t). Every
schedule is exact at whole steps with a milestone per step; where the schedule is piecewise
linear (warmup, hold, linear, step, multistep, piecewise, WSD's linear decay) only its corners
are needed, and that compact form is the native one.
"""

from __future__ import annotations

from typing import Any

from lrlab.schedules.schedule import Schedule
from lrlab.schedules.targets import Export
from lrlab.schedules.targets.exactness import measure
from lrlab.schedules.targets.table import lr_table, momentum_table

Milestones = list[tuple[int, float]]


def corners(values: list[float]) -> Milestones:
    """The (step, value) points where the slope changes: enough for linear interpolation to
    give every value back."""
    if len(values) == 1:
        return [(0, values[0]), (1, values[0])]
    keep = [(0, values[0])]
    for i in range(1, len(values) - 1):
        bend = (values[i + 1] - values[i]) - (values[i] - values[i - 1])
        if abs(bend) > 1e-13 * max(abs(values[i]), abs(values[i - 1]), abs(values[i + 1])):
            keep.append((i, values[i]))
    keep.append((len(values) - 1, values[-1]))
    return keep


def every_step(values: list[float]) -> Milestones:
    return corners(values) if len(values) == 1 else list(enumerate(values))


def interpolate(milestones: Milestones, steps: int) -> list[float]:
    """What PiecewiseLinear sets at events 0..steps-1 (its own formula)."""
    out = []
    index = 0
    for e in range(steps):
        if milestones[0][0] > e:
            out.append(milestones[0][1])
            continue
        if milestones[-1][0] <= e:
            out.append(milestones[-1][1])
            continue
        while not milestones[index][0] <= e < milestones[index + 1][0]:
            index += 1
        (s0, v0), (s1, v1) = milestones[index], milestones[index + 1]
        out.append(v0 + (v1 - v0) * (e - s0) / (s1 - s0))
    return out


_CODE = '''"""lrlab schedule for PyTorch-Ignite: PiecewiseLinear, {total} updates{via}.
lrlab measured it {sentence}
"""
from ignite.engine import Events
from ignite.handlers import PiecewiseLinear

LR_MILESTONES = {milestones}

lr_scheduler = PiecewiseLinear(optimizer, "lr", milestones_values=LR_MILESTONES)
trainer.add_event_handler(Events.ITERATION_STARTED, lr_scheduler)
{momentum}'''

_MOMENTUM = '''
MOMENTUM_MILESTONES = {milestones}

momentum_scheduler = PiecewiseLinear(optimizer, "momentum", milestones_values=MOMENTUM_MILESTONES)
trainer.add_event_handler(Events.ITERATION_STARTED, momentum_scheduler)
'''


def _literal(milestones: Milestones) -> str:
    rows = [", ".join(f"({t}, {v!r})" for t, v in milestones[i:i + 4])
            for i in range(0, len(milestones), 4)]
    return "[\n" + ",\n".join("    " + row for row in rows) + ",\n]"


def _export(s: Schedule, target: str, pick: Any, table: bool) -> Export:
    lrs = pick(lr_table(s))
    exactness = measure(s, interpolate(lrs, s.total_steps), table=table)
    moms = momentum_table(s)
    args: dict[str, Any] = {"lr": lrs}
    momentum_code = momentum = ""
    if moms is not None:
        args["momentum"] = pick(moms)
        momentum_code = _MOMENTUM.format(milestones=_literal(args["momentum"]))
        momentum = ("carried by a second PiecewiseLinear on the param groups' 'momentum' "
                    "(SGD; for Adam's betas, schedule 'betas' yourself)")
    text = _CODE.format(total=s.total_steps, via=" (a milestone per step)" if table else "",
                        milestones=_literal(lrs), sentence=exactness.sentence(),
                        momentum=momentum_code)
    return Export(target, text, "ignite_schedule.py", "text/x-python", exactness, momentum,
                  args)


def export_native(s: Schedule, target: str) -> Export | None:
    """Milestones at the schedule's corners, where it is piecewise linear in the steps."""
    n = s.total_steps
    if len(corners(lr_table(s))) > max(8, n // 4):
        return None  # curved: a milestone per step is the table form
    return _export(s, target, corners, table=False)


def export_table(s: Schedule, target: str) -> Export:
    return _export(s, target, every_step, table=True)
