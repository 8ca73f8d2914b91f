""""Don't decay the learning rate, increase the batch size" (Smith, Kindermans, Ying & Le 2018).

A step or multi-step LR decay becomes a batch-size plan with the same SGD noise scale
g = η/(1 − m)·(N/B − 1) (Smith & Le) through the same amount of data. After i decays of γ the LR
run's noise is γ^i·η·(N/B − 1); the plan keeps η and grows the batch to
B_i = N·B / (γ^i·(N − B) + B), which gives N/B_i − 1 = γ^i·(N/B − 1). Batches are whole, so the
plan also scales the LR by c_i = γ^i·(N/B − 1)/(N/B_i − 1) (within a rounding of 1): the noise
then matches exactly. A batch is capped at `max_batch` (default N/2); past the cap c_i carries
the rest of the decay, as Smith et al. do when the batch cannot grow. Each phase sees the same
number of examples as in the LR run (to within one batch), in fewer updates.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from lrlab.schedules.config import ScheduleError
from lrlab.schedules.schedule import Schedule
from lrlab.schedules.spec import FORMAT_V2


@dataclass(frozen=True)
class Phase:
    """A stretch between two decays: its LR factor and batch in each run, and its updates."""

    lr_factor: float  # γ^i, in the LR-decay run
    batch: int  # B_i, in the batch plan
    plan_lr_factor: float  # c_i, in the batch plan
    lr_run_updates: int
    plan_updates: int


def decay_points(schedule: Schedule) -> list[int]:
    """Main-phase steps at which a step or multistep schedule multiplies its LR by gamma."""
    p, T = schedule.params, schedule.main_steps
    if schedule.kind == "step":
        return list(range(p["step_size"], T, p["step_size"]))
    if schedule.kind == "multistep":
        return [m for m in p["milestones"] if m < T]
    raise ScheduleError(f"batch plan: needs a step or multistep decay to turn into batch "
                        f"increases, got {schedule.kind}")


def phases(schedule: Schedule, dataset_size: int, batch: int,
           max_batch: int | None = None) -> list[Phase]:
    """The LR run's phases and the plan's, one per stretch between decays."""
    N, B = dataset_size, batch
    if not 1 <= B < N:
        raise ScheduleError(f"batch: expected 1 <= batch < dataset size ({N}), got {B}")
    cap = max(B, max_batch or N // 2)
    if cap >= N:
        raise ScheduleError(f"max_batch: expected below the dataset size ({N}), got {cap}")
    bounds = [0, *decay_points(schedule), schedule.main_steps]
    gamma = schedule.params["gamma"]
    out = []
    for i, (start, stop) in enumerate(itertools.pairwise(bounds)):
        factor = gamma ** i
        size = min(cap, max(B, round(N * B / (factor * (N - B) + B))))
        c = factor * (N / B - 1) / (N / size - 1)
        updates = max(1, round((stop - start) * B / size))
        out.append(Phase(factor, size, c, stop - start, updates))
    return out


def equivalent_batch_plan(schedule: Schedule, dataset_size: int, batch: int,
                          max_batch: int | None = None) -> Schedule:
    """The batch-increase schedule with the LR run's noise scale (see the module's docstring).
    Warmup and hold stay as they are, at the run's batch."""
    plan = phases(schedule, dataset_size, batch, max_batch)
    config: dict[str, Any] = schedule.to_dict()
    head = schedule.warmup_steps + schedule.hold_steps
    starts = [sum(p.plan_updates for p in plan[:i]) for i in range(len(plan))]
    config["format"] = FORMAT_V2
    config["total_steps"] = head + sum(p.plan_updates for p in plan)
    if len(plan) == 1:
        config["main"] = {"kind": "constant"}
        config.pop("batch", None)
        return Schedule.from_dict(config)
    config["main"] = {"kind": "piecewise", "boundaries": starts[1:],
                      "values": [p.plan_lr_factor for p in plan], "interpolation": "constant"}
    config["batch"] = {"kind": "steps", "milestones": [head + s for s in starts[1:]],
                       "factors": [p.batch / batch for p in plan[1:]]}
    return Schedule.from_dict(config)


def plan_summary(schedule: Schedule, plan: Schedule, batch: int) -> str:
    """One line on what the plan saves: updates and batches, against the LR decay it replaces."""
    sizes = sorted({plan.batch_size(t, batch) for t in range(plan.total_steps)})
    saved = 1 - plan.total_steps / schedule.total_steps
    return (f"{schedule.total_steps} updates at batch {batch} with LR decay, or "
            f"{plan.total_steps} updates with batches {', '.join(map(str, sizes))} and "
            f"the same noise scale ({saved:.0%} fewer updates)")
