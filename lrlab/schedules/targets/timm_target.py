"""timm: `timm.scheduler.create_scheduler_v2(optimizer, **kwargs)`, stepped per update.

timm's train loop calls `lr_scheduler.step_update(num_updates)` after every optimizer update, so
update t uses `_get_lr(t)`. The kwargs count updates (step_on_epochs=False, updates_per_epoch=1).
Warmup is linear from warmup_lr; with warmup_prefix the main phase starts after it. timm has no
hold phase, and its multistep applies milestone m at t = m - 1 (its documented convention), so
milestones are exported as m + 1. `_lr` mirrors timm's `_get_lr` operation for operation.
"""

from __future__ import annotations

import bisect
import math
from typing import Any

import numpy as np

from lrlab.schedules.kinds import sgdr_cycles
from lrlab.schedules.schedule import Schedule
from lrlab.schedules.targets import Export
from lrlab.schedules.targets.exactness import measure
from lrlab.schedules.targets.table import literal, lr_table


def native(s: Schedule) -> dict[str, Any] | None:
    """create_scheduler_v2 keyword arguments equal to the schedule (optimizer aside), or None."""
    p, eta, T = s.params, s.effective_base_lr, s.main_steps
    warmup = s.config.get("warmup")
    if s.hold_steps or (warmup is not None and warmup["shape"] != "linear"):
        return None
    kw: dict[str, Any] = {"step_on_epochs": False, "updates_per_epoch": 1,
                          "warmup_epochs": s.warmup_steps, "warmup_prefix": True,
                          "warmup_lr": eta * warmup["start_factor"] if warmup else 0.0}
    if s.kind == "constant":
        return {"sched": "constant", **kw}
    if s.kind == "step":
        return {"sched": "step", "decay_epochs": p["step_size"], "decay_rate": p["gamma"], **kw}
    if s.kind == "multistep":
        return {"sched": "multistep", "decay_milestones": [m + 1 for m in p["milestones"]],
                "decay_rate": p["gamma"], **kw}
    if s.kind == "cosine":
        return {"sched": "cosine", "num_epochs": T, "min_lr": p["min_lr"], "cycle_limit": 1,
                "cycle_mul": 1.0, "cycle_decay": 1.0, **kw}
    if s.kind == "sgdr":
        cycles = int(sgdr_cycles(np.asarray([T - 1]), p["T_0"], p["T_mult"])[0][0]) + 1
        return {"sched": "cosine", "num_epochs": p["T_0"], "min_lr": p["min_lr"],
                "cycle_mul": float(p["T_mult"]), "cycle_decay": p["decay"],
                "cycle_limit": cycles, **kw}
    if s.kind == "polynomial":
        return {"sched": "poly", "num_epochs": T, "decay_rate": p["power"],
                "min_lr": p["min_lr"], "cycle_limit": 1, "cycle_mul": 1.0, **kw}
    if s.kind == "linear":
        return {"sched": "poly", "num_epochs": T, "decay_rate": 1.0,
                "min_lr": eta * p["end_factor"], "cycle_limit": 1, "cycle_mul": 1.0, **kw}
    return None


def _lr(kw: dict[str, Any], base: float, t: int) -> float:
    """timm's `_get_lr(t)` for the scheduler these kwargs build."""
    warmup_t, warmup_lr = kw["warmup_epochs"], kw["warmup_lr"]
    if t < warmup_t:
        return warmup_lr + t * ((base - warmup_lr) / warmup_t)
    t = t - warmup_t
    sched = kw["sched"]
    if sched == "constant":
        return base * (1.0 ** (t // 1))
    if sched == "step":
        return base * (kw["decay_rate"] ** (t // kw["decay_epochs"]))
    if sched == "multistep":
        return base * (kw["decay_rate"] ** bisect.bisect_right(kw["decay_milestones"], t + 1))
    t_initial, mul = kw["num_epochs"], kw["cycle_mul"]
    if mul != 1:
        i = math.floor(math.log(1 - t / t_initial * (1 - mul), mul))
        t_i = mul ** i * t_initial
        t_curr = t - (1 - mul ** i) / (1 - mul) * t_initial
    else:
        i = t // t_initial
        t_i = t_initial
        t_curr = t - (t_initial * i)
    lr_max = base * kw.get("cycle_decay", 1.0) ** i
    lr_min = kw["min_lr"]
    if i >= kw["cycle_limit"]:
        return lr_min
    if sched == "cosine":
        return lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(math.pi * t_curr ** 1.0
                                                                  / t_i ** 1.0))
    return lr_min + (lr_max - lr_min) * (1 - t_curr ** 1.0 / t_i ** 1.0) ** kw["decay_rate"]


def values(kwargs: dict[str, Any], base_lr: float, steps: int) -> list[float]:
    return [_lr(kwargs, base_lr, t) for t in range(steps)]


_NATIVE = '''"""lrlab schedule for timm: {sched}, {total} updates.
lrlab measured it {sentence}
Call lr_scheduler.step_update(num_updates) after every optimizer update (timm's train loop does).
"""
from timm.scheduler import create_scheduler_v2

# optimizer = ...  with lr={lr!r} (timm's train.py: --lr {lr!r})
lr_scheduler, _ = create_scheduler_v2(optimizer, **{kwargs})
'''

_TABLE = '''"""lrlab schedule for timm, {total} updates, via a table.
timm has no scheduler equal to lrlab's {kind}; this timm Scheduler reads lrlab's LR for every
update. lrlab measured it {sentence}
Call lr_scheduler.step_update(num_updates) after every optimizer update (timm's train loop does).
"""
from timm.scheduler.scheduler import Scheduler

LR_TABLE = {table}


class TableLRScheduler(Scheduler):
    def __init__(self, optimizer):
        super().__init__(optimizer, "lr", t_in_epochs=False)
        self.update_groups(self._get_lr(0))

    def _get_lr(self, t):
        return [LR_TABLE[min(t, len(LR_TABLE) - 1)] for _ in self.base_values]


lr_scheduler = TableLRScheduler(optimizer)
'''


def _momentum(s: Schedule) -> str:
    return ("not carried: timm schedules the LR only (its optimizers take a fixed momentum)"
            if s.momentum([0]) is not None else "")


def export_native(s: Schedule, target: str) -> Export | None:
    """create_scheduler_v2 with one of timm's schedulers, or None where none matches."""
    kwargs = native(s)
    if kwargs is None:
        return None
    eta, total = s.effective_base_lr, s.total_steps
    exactness = measure(s, values(kwargs, eta, total))
    text = _NATIVE.format(sched=kwargs["sched"], total=total, lr=eta, kwargs=kwargs,
                          sentence=exactness.sentence())
    return Export(target, text, "timm_scheduler.py", "text/x-python", exactness, _momentum(s),
                  {"lr": eta, "kwargs": kwargs})


def export_table(s: Schedule, target: str) -> Export:
    """A timm Scheduler subclass reading lrlab's LR per update."""
    table = lr_table(s)
    exactness = measure(s, table, table=True)
    text = _TABLE.format(kind=s.kind, total=s.total_steps, table=literal(table),
                         sentence=exactness.sentence())
    return Export(target, text, "timm_scheduler.py", "text/x-python", exactness, _momentum(s),
                  {"lr": s.effective_base_lr, "table": table})
