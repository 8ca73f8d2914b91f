"""A schedule: warmup, hold and a main phase joined at their boundaries, a pure function of t.

Step t = 0, 1, 2, ... is the t-th optimizer update; `lr(t)` is what that update uses, i.e. what
PyTorch's scheduler holds after t calls to `step()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from lrlab.schedules import kinds
from lrlab.schedules.config import ScheduleError, effective_base_lr, normalize

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Schedule:
    """An immutable, validated `lrlab.schedule/1` schedule. Build it with `from_dict`."""

    config: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> Schedule:
        return cls(normalize(config))

    def to_dict(self) -> dict[str, Any]:
        return normalize(self.config)

    # -- what the schedule is ----------------------------------------------------------------

    @property
    def kind(self) -> str:
        return self.config["main"]["kind"]

    @property
    def params(self) -> dict[str, Any]:
        return {k: v for k, v in self.config["main"].items() if k != "kind"}

    @property
    def base_lr(self) -> float:
        return self.config["base_lr"]

    @property
    def effective_base_lr(self) -> float:
        return effective_base_lr(self.config["base_lr"], self.config.get("scaling"))

    @property
    def total_steps(self) -> int:
        return self.config["total_steps"]

    @property
    def warmup_steps(self) -> int:
        warmup = self.config.get("warmup")
        return warmup["steps"] if warmup else 0

    @property
    def hold_steps(self) -> int:
        return self.config["hold_steps"]

    @property
    def main_steps(self) -> int:
        return self.total_steps - self.warmup_steps - self.hold_steps

    # -- evaluation ----------------------------------------------------------------------------

    def lr(self, steps: ArrayLike, metrics: ArrayLike | None = None) -> np.ndarray:
        """LR at each step (vectorised, float64).

        `metrics` (plateau only): metrics[i] is the value passed to the i-th `step()` call; the
        LR at t needs metrics[:t]. Values from before the main phase are not used.
        """
        t = _steps(steps)
        eta = self.effective_base_lr
        W, H = self.warmup_steps, self.hold_steps
        out = np.empty(t.shape, dtype=np.float64)
        warm = t < W
        if warm.any():
            w = self.config["warmup"]
            sf, x = w["start_factor"], t[warm] / W
            if w["shape"] == "linear":
                out[warm] = eta * (sf + (1.0 - sf) * x)
            elif w["shape"] == "exponential":
                out[warm] = eta * sf ** (1.0 - x)
            else:
                out[warm] = eta * sf
        out[(t >= W) & (t < W + H)] = eta
        main = t >= W + H
        if main.any():
            u = t[main] - W - H
            if self.kind == "plateau":
                out[main] = self._plateau(u, eta, metrics)
            else:
                out[main] = kinds.FORMULAS[self.kind](u, self.main_steps, eta, self.params)
        return out

    def _plateau(self, u: np.ndarray, eta: float, metrics: ArrayLike | None) -> np.ndarray:
        needed = int(u.max())
        start = self.warmup_steps + self.hold_steps
        series = np.asarray([] if metrics is None else metrics, dtype=np.float64).ravel()
        if len(series) < start + needed:
            raise ScheduleError(
                f"metrics: plateau needs one metric per step before the last step asked for "
                f"({start + needed} values), got {len(series)}")
        if not np.all(np.isfinite(series[start:start + needed])):
            raise ScheduleError("metrics: expected finite values (NaN or inf found)")
        return kinds.plateau_lrs(eta, series[start:start + needed], self.params)[u]

    def lr_at(self, step: int, metrics: ArrayLike | None = None) -> float:
        return float(self.lr(np.asarray([step]), metrics)[0])

    def momentum(self, steps: ArrayLike) -> np.ndarray | None:
        """Momentum (or Adam's beta1) at each step; None when the schedule sets none."""
        t = _steps(steps)
        constant = self.config.get("momentum")
        if constant:
            return np.full(t.shape, constant["value"], dtype=np.float64)
        formula = kinds.MOMENTUM_FORMULAS.get(self.kind)
        if formula is None or not self.params["cycle_momentum"]:
            return None
        return formula(t, self.main_steps, self.params)

    def batch_factor(self, steps: ArrayLike) -> np.ndarray:
        """The batch-size plan's factor at each step (1 where the schedule has no plan)."""
        t = _steps(steps)
        plan = self.config.get("batch")
        if not plan:
            return np.ones(t.shape, dtype=np.float64)
        factors = np.asarray([1.0, *plan["factors"]], dtype=np.float64)
        return factors[np.searchsorted(np.asarray(plan["milestones"]), t, side="right")]

    def batch_size(self, step: int, batch: int) -> int:
        """The batch the plan gives update `step` of a run whose batch is `batch`."""
        return max(1, round(batch * float(self.batch_factor([step])[0])))

    def torch(self, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
        """A PyTorch scheduler applying this schedule; call `step()` once per optimizer update."""
        from lrlab.schedules.torch_adapter import ScheduleLR

        return ScheduleLR(optimizer, self)


def _steps(steps: ArrayLike) -> np.ndarray:
    t = np.asarray(steps)
    if t.dtype.kind == "f":
        if not np.all(np.isfinite(t)) or not np.all(t == np.floor(t)):
            raise ScheduleError("steps: expected whole numbers")
        t = t.astype(np.int64)
    elif t.dtype.kind not in "iu":
        raise ScheduleError(f"steps: expected integers, got {t.dtype}")
    t = t.astype(np.int64)
    if t.size and t.min() < 0:
        raise ScheduleError(f"steps: expected >= 0, got {int(t.min())}")
    return t
