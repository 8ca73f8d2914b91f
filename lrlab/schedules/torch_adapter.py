"""A PyTorch LRScheduler that applies a Schedule: LR and momentum (or Adam's beta1) per group.

The schedule is a pure function of the step, so resuming mid-run only needs `last_epoch` (and,
for plateau, the metric state): `state_dict()` carries the config, not the object.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

from lrlab.schedules import kinds
from lrlab.schedules.schedule import Schedule


class ScheduleLR(LRScheduler):
    """Group i gets lr(t) × initial_lr_i / initial_lr_0, so discriminative ratios are kept."""

    def __init__(self, optimizer: torch.optim.Optimizer, schedule: Schedule,
                 last_epoch: int = -1) -> None:
        self.schedule = schedule
        self.config = schedule.to_dict()
        initial = [g.get("initial_lr", g["lr"]) for g in optimizer.param_groups]
        self.ratios = [lr / initial[0] if initial[0] else 1.0 for lr in initial]
        self.plateau: kinds.PlateauState | None = None
        self.plateau_metrics_seen = 0
        if schedule.kind == "plateau":
            self.plateau = kinds.PlateauState(lr=schedule.effective_base_lr,
                                              params=schedule.params)
        self._initializing = True  # LRScheduler.__init__ takes a first step with no metric
        super().__init__(optimizer, last_epoch)
        self._initializing = False

    def _lr_now(self) -> float:
        t = self.last_epoch
        start = self.schedule.warmup_steps + self.schedule.hold_steps
        if self.plateau is not None and t >= start:
            return self.plateau.lr
        return self.schedule.lr_at(t)

    def _apply_momentum(self) -> None:
        momentum = self.schedule.momentum([self.last_epoch])
        if momentum is None:
            return
        for group in self.optimizer.param_groups:
            if "betas" in group:
                group["betas"] = (float(momentum[0]), *group["betas"][1:])
            elif "momentum" in group:
                group["momentum"] = float(momentum[0])

    def get_lr(self) -> list[float]:
        self._apply_momentum()
        lr = self._lr_now()
        return [lr * r for r in self.ratios]

    def step(self, metrics: float | None = None) -> None:  # type: ignore[override]
        """Advance one optimizer update; plateau schedules take the metric of that update."""
        if self.plateau is not None and not self._initializing:
            start = self.schedule.warmup_steps + self.schedule.hold_steps
            if metrics is None:
                raise ValueError("a plateau schedule's step() needs the metric: step(metric)")
            if self.last_epoch >= start:
                self.plateau.step(float(metrics))
            self.plateau_metrics_seen += 1
        super().step()

    def state_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items()
                 if k not in ("optimizer", "schedule", "plateau")}
        state["plateau"] = None if self.plateau is None else asdict(self.plateau)
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        plateau = state.pop("plateau", None)
        self.__dict__.update(state)
        self.schedule = Schedule.from_dict(self.config)
        if plateau is not None:
            self.plateau = kinds.PlateauState(**plateau)
        # Put the resumed step's values on the optimizer, whichever state was loaded first.
        for group, lr in zip(self.optimizer.param_groups, self._last_lr, strict=True):
            group["lr"] = lr
        self._apply_momentum()
