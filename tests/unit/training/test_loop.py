"""The inner loop with a tiny model and plain tensors: schedule per step, cancel, NaN stop, seed."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lrlab.core.reporting import MemoryReporter
from lrlab.training.loop import run_epochs


def _setup(seed: int = 0, lr: float = 0.1):
    torch.manual_seed(seed)
    x = torch.randn(32, 4)
    y = (x[:, 0] > 0).long()
    batches = [(x[i : i + 8], y[i : i + 8]) for i in range(0, 32, 8)]
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 / (1 + t))
    return model, opt, sched, batches


def test_schedule_applied_per_step_and_epochs_reported() -> None:
    model, opt, sched, batches = _setup()
    rep = MemoryReporter()
    result = run_epochs(model, opt, sched, batches, batches, 2, reporter=rep)
    assert result.stop_reason == "completed" and result.steps_done == 8
    assert rep.series("lr") == pytest.approx([0.1 / (1 + t) for t in range(8)])
    assert len(rep.epochs) == 2 and 0.0 <= rep.epochs[-1][1]["val_top1"] <= 1.0


def test_same_seed_reproduces_losses() -> None:
    runs = []
    for _ in range(2):
        model, opt, sched, batches = _setup(seed=3)
        rep = MemoryReporter()
        run_epochs(model, opt, sched, batches, batches, 1, reporter=rep)
        runs.append(rep.series("loss"))
    assert runs[0] == runs[1]


def test_cancel_stops_between_steps() -> None:
    model, opt, sched, batches = _setup()
    rep = MemoryReporter(stop_after_steps=3)
    result = run_epochs(model, opt, sched, batches, batches, 5, reporter=rep)
    assert len(rep.steps) == 3 and result.stop_reason == "cancelled before step 3"


def test_non_finite_loss_names_the_step() -> None:
    model, opt, sched, batches = _setup(lr=1e30)
    result = run_epochs(model, opt, sched, batches, batches, 3)
    assert "non-finite loss" in result.stop_reason
    assert f"at step {result.steps_done} " in result.stop_reason


def test_the_decay_each_update_applies_is_recorded_beside_the_lr() -> None:
    """SGD's L2 and AdamW remove lr·λ per update; SGDW removes λ·ηₜ (ηₜ = lr / base)."""
    from lrlab.tasks.optimizers import SGDW

    for make, expected in (
        (lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=1e-3),
         lambda t: 0.1 / (1 + t) * 1e-3),
        (lambda p: SGDW(p, lr=0.1, weight_decay=1e-3), lambda t: 1e-3 / (1 + t)),
    ):
        model, _, _, batches = _setup()
        opt = make(model.parameters())
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 / (1 + t))
        rep = MemoryReporter()
        run_epochs(model, opt, sched, batches, batches, 2, reporter=rep)
        assert rep.series("weight_decay") == pytest.approx([expected(t) for t in range(8)])
