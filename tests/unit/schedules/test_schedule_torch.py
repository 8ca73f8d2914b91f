"""Schedule.torch(optimizer): LR and momentum on every group, ratios kept, exact resume."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from lrlab.schedules import Schedule

N = 2000


def _schedule(main: dict, **top) -> Schedule:
    return Schedule.from_dict({"format": "lrlab.schedule/1", "base_lr": 0.3, "total_steps": N,
                               "main": main, **top})


def _optimizer(adam: bool = False) -> torch.optim.Optimizer:
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    groups = [{"params": [a], "lr": 1.0}, {"params": [b], "lr": 0.25}]
    return torch.optim.Adam(groups) if adam else torch.optim.SGD(groups, momentum=0.9)


def _run(optimizer, scheduler, steps, metrics=None, start=0):
    out = []
    for t in range(start, start + steps):
        g = optimizer.param_groups
        beta = g[0]["betas"][0] if "betas" in g[0] else g[0]["momentum"]
        out.append((g[0]["lr"], g[1]["lr"], beta))
        optimizer.step()
        scheduler.step() if metrics is None else scheduler.step(metrics[t])
    return np.array(out)


SCHEDULES = {
    "warmup+cosine": ({"kind": "cosine", "min_lr": 0.001},
                      {"warmup": {"steps": 100}, "hold_steps": 30,
                       "momentum": {"value": 0.8}}),
    "onecycle": ({"kind": "onecycle"}, {}),
    "cyclic": ({"kind": "cyclic", "base_lr": 0.01, "step_size_up": 150}, {}),
    "sgdr": ({"kind": "sgdr", "T_0": 90, "T_mult": 2, "decay": 0.7}, {}),
    "wsd": ({"kind": "wsd", "decay_steps": 500}, {"warmup": {"steps": 50}}),
}


@pytest.mark.parametrize("adam", [False, True])
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_adapter_applies_lr_momentum_and_keeps_group_ratios(name: str, adam: bool) -> None:
    main, top = SCHEDULES[name]
    schedule = _schedule(main, **top)
    opt = _optimizer(adam)
    rows = _run(opt, schedule.torch(opt), N)
    lr = schedule.lr(np.arange(N))
    np.testing.assert_allclose(rows[:, 0], lr, rtol=1e-12)
    np.testing.assert_allclose(rows[:, 1], lr * 0.25, rtol=1e-12)
    momentum = schedule.momentum(np.arange(N))
    if momentum is not None:
        np.testing.assert_allclose(rows[:, 2], momentum, rtol=1e-12)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_resume_mid_run_continues_exactly(name: str) -> None:
    main, top = SCHEDULES[name]
    schedule = _schedule(main, **top)
    opt = _optimizer()
    whole = _run(opt, schedule.torch(opt), N)

    opt1 = _optimizer()
    sched1 = schedule.torch(opt1)
    first = _run(opt1, sched1, 777)
    buffer = io.BytesIO()
    torch.save({"opt": opt1.state_dict(), "sched": sched1.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)

    opt2 = _optimizer()
    opt2.load_state_dict(saved["opt"])
    sched2 = _schedule({"kind": "constant"}).torch(opt2)  # any schedule: the state brings its own
    sched2.load_state_dict(saved["sched"])
    rest = _run(opt2, sched2, N - 777, start=777)
    np.testing.assert_array_equal(np.vstack([first, rest]), whole)


def test_plateau_adapter_follows_the_metric_and_resumes() -> None:
    schedule = _schedule({"kind": "plateau", "patience": 20, "factor": 0.5},
                         warmup={"steps": 40})
    rng = np.random.default_rng(1)
    metrics = np.exp(-np.arange(N) / 300) + 0.01 * rng.standard_normal(N)
    opt = _optimizer()
    whole = _run(opt, schedule.torch(opt), N, metrics)
    np.testing.assert_allclose(whole[:, 0], schedule.lr(np.arange(N), metrics=metrics),
                               rtol=1e-12)
    assert whole[-1, 0] < 0.3 / 4

    opt1 = _optimizer()
    sched1 = schedule.torch(opt1)
    first = _run(opt1, sched1, 900, metrics)
    state = sched1.state_dict()
    opt2 = _optimizer()
    opt2.load_state_dict(opt1.state_dict())
    sched2 = schedule.torch(opt2)
    sched2.load_state_dict(state)
    rest = _run(opt2, sched2, N - 900, metrics, start=900)
    np.testing.assert_array_equal(np.vstack([first, rest]), whole)


def test_plateau_step_without_metric_is_refused() -> None:
    opt = _optimizer()
    scheduler = _schedule({"kind": "plateau"}).torch(opt)
    opt.step()
    with pytest.raises(ValueError, match="needs the metric"):
        scheduler.step()
