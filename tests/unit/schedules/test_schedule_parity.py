"""Every kind PyTorch also has equals PyTorch's own scheduler, every step of a 10,000+ step run.

The reference is PyTorch itself: record the optimizer's LR (and momentum) before each step.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as tls

from lrlab.schedules import Schedule

N = 12_000
RTOL = 1e-12


def _optimizer(kind: str = "sgd", lr: float = 0.1) -> torch.optim.Optimizer:
    param = torch.nn.Parameter(torch.zeros(1))
    if kind == "adam":
        return torch.optim.Adam([param], lr=lr)
    return torch.optim.SGD([param], lr=lr, momentum=0.9)


def _record(optimizer, scheduler, n: int, metrics=None) -> tuple[np.ndarray, np.ndarray]:
    lrs, moms = [], []
    for t in range(n):
        group = optimizer.param_groups[0]
        lrs.append(group["lr"])
        moms.append(group["betas"][0] if "betas" in group else group.get("momentum", np.nan))
        optimizer.step()
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[t])
    return np.asarray(lrs), np.asarray(moms)


def _schedule(main: dict, total: int = N, base_lr: float = 0.1, **top) -> Schedule:
    return Schedule.from_dict({"format": "lrlab.schedule/1", "base_lr": base_lr,
                               "total_steps": total, "main": main, **top})


def _assert_same(ours: np.ndarray, torch_values: np.ndarray) -> None:
    np.testing.assert_allclose(ours, torch_values, rtol=RTOL, atol=0)


CASES = [
    ({"kind": "step", "step_size": 700, "gamma": 0.5},
     lambda o: tls.StepLR(o, step_size=700, gamma=0.5)),
    ({"kind": "multistep", "milestones": [3000, 7000, 9000], "gamma": 0.2},
     lambda o: tls.MultiStepLR(o, milestones=[3000, 7000, 9000], gamma=0.2)),
    ({"kind": "exponential", "gamma": 0.9995}, lambda o: tls.ExponentialLR(o, gamma=0.9995)),
    ({"kind": "polynomial", "power": 2.0, "min_lr": 0.0},
     lambda o: tls.PolynomialLR(o, total_iters=N, power=2.0)),
    ({"kind": "linear", "end_factor": 0.05},
     lambda o: tls.LinearLR(o, start_factor=1.0, end_factor=0.05, total_iters=N)),
    ({"kind": "cosine", "min_lr": 0.001},
     lambda o: tls.CosineAnnealingLR(o, T_max=N, eta_min=0.001)),
    ({"kind": "sgdr", "T_0": 500, "T_mult": 1, "min_lr": 0.0},
     lambda o: tls.CosineAnnealingWarmRestarts(o, T_0=500, T_mult=1)),
    ({"kind": "sgdr", "T_0": 300, "T_mult": 2, "min_lr": 1e-4},
     lambda o: tls.CosineAnnealingWarmRestarts(o, T_0=300, T_mult=2, eta_min=1e-4)),
    ({"kind": "sgdr", "T_0": 7, "T_mult": 3, "min_lr": 0.0},
     lambda o: tls.CosineAnnealingWarmRestarts(o, T_0=7, T_mult=3)),
    ({"kind": "constant"}, lambda o: tls.ConstantLR(o, factor=1.0, total_iters=0)),
]


@pytest.mark.parametrize(("main", "make"), CASES, ids=[c[0]["kind"] + str(i)
                                                      for i, c in enumerate(CASES)])
def test_main_kinds_equal_pytorch(main: dict, make) -> None:
    opt = _optimizer()
    torch_lr, _ = _record(opt, make(opt), N)
    _assert_same(_schedule(main).lr(np.arange(N)), torch_lr)


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("opt_kind", ["sgd", "adam"])
def test_onecycle_equals_pytorch_with_momentum(three_phase: bool, anneal: str,
                                               opt_kind: str) -> None:
    opt = _optimizer(opt_kind)
    sched = tls.OneCycleLR(opt, max_lr=0.8, total_steps=N, pct_start=0.25, anneal_strategy=anneal,
                         three_phase=three_phase, div_factor=20.0, final_div_factor=500.0,
                         base_momentum=0.8, max_momentum=0.95)
    torch_lr, torch_mom = _record(opt, sched, N)
    ours = _schedule({"kind": "onecycle", "pct_start": 0.25, "anneal_strategy": anneal,
                      "three_phase": three_phase, "div_factor": 20.0, "final_div_factor": 500.0,
                      "base_momentum": 0.8, "max_momentum": 0.95}, base_lr=0.8)
    _assert_same(ours.lr(np.arange(N)), torch_lr)
    _assert_same(ours.momentum(np.arange(N)), torch_mom)


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_equals_pytorch_with_momentum(mode: str) -> None:
    opt = _optimizer()
    sched = tls.CyclicLR(opt, base_lr=0.01, max_lr=0.3, step_size_up=700, step_size_down=1100,
                       mode=mode, gamma=0.9999, base_momentum=0.82, max_momentum=0.93)
    torch_lr, torch_mom = _record(opt, sched, N)
    ours = _schedule({"kind": "cyclic", "base_lr": 0.01, "step_size_up": 700,
                      "step_size_down": 1100, "mode": mode, "gamma": 0.9999,
                      "base_momentum": 0.82, "max_momentum": 0.93}, base_lr=0.3)
    _assert_same(ours.lr(np.arange(N)), torch_lr)
    _assert_same(ours.momentum(np.arange(N)), torch_mom)


@pytest.mark.parametrize(("mode", "threshold_mode", "cooldown"),
                         [("min", "rel", 0), ("min", "abs", 3), ("max", "rel", 5),
                          ("max", "abs", 0)])
def test_plateau_equals_pytorch_on_the_same_metric_stream(mode, threshold_mode, cooldown) -> None:
    rng = np.random.default_rng(0)
    trend = np.exp(-np.arange(N) / 2000.0) + 0.02 * rng.standard_normal(N)
    metrics = trend if mode == "min" else -trend
    opt = _optimizer()
    sched = tls.ReduceLROnPlateau(opt, mode=mode, factor=0.5, patience=40, threshold=1e-3,
                                threshold_mode=threshold_mode, cooldown=cooldown, min_lr=1e-4)
    torch_lr, _ = _record(opt, sched, N, metrics)
    ours = _schedule({"kind": "plateau", "mode": mode, "factor": 0.5, "patience": 40,
                      "threshold": 1e-3, "threshold_mode": threshold_mode,
                      "cooldown": cooldown, "min_lr": 1e-4})
    lr = ours.lr(np.arange(N), metrics=metrics)
    assert lr[-1] < lr[0], "the metric stream must actually trigger reductions"
    _assert_same(lr, torch_lr)


@pytest.mark.parametrize("hold", [0, 250])
@pytest.mark.parametrize(("main", "make"), [
    ({"kind": "cosine", "min_lr": 0.0}, lambda o, T: tls.CosineAnnealingLR(o, T_max=T)),
    ({"kind": "step", "step_size": 1000, "gamma": 0.3},
     lambda o, T: tls.StepLR(o, step_size=1000, gamma=0.3)),
    ({"kind": "exponential", "gamma": 0.9997}, lambda o, T: tls.ExponentialLR(o, gamma=0.9997)),
    ({"kind": "multistep", "milestones": [4000, 8000], "gamma": 0.1},
     lambda o, T: tls.MultiStepLR(o, milestones=[4000, 8000], gamma=0.1)),
], ids=["cosine", "step", "exponential", "multistep"])
def test_warmup_and_hold_equal_sequential_lr(hold: int, main: dict, make) -> None:
    W = 600
    opt = _optimizer()
    T = N - W - hold
    schedulers = [tls.LinearLR(opt, start_factor=0.01, end_factor=1.0, total_iters=W)]
    milestones = [W]
    if hold:
        schedulers.append(tls.ConstantLR(opt, factor=1.0, total_iters=0))
        milestones.append(W + hold)
    schedulers.append(make(opt, T))
    torch_lr, _ = _record(opt, tls.SequentialLR(opt, schedulers, milestones=milestones), N)
    ours = _schedule(main, warmup={"steps": W, "start_factor": 0.01, "shape": "linear"},
                     hold_steps=hold)
    _assert_same(ours.lr(np.arange(N)), torch_lr)
