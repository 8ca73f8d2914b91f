"""Exported PyTorch code is executed and must reproduce lrlab's LRs (and momentum) step by step."""

from __future__ import annotations

import ast

import numpy as np
import pytest
import torch

from lrlab.schedules import Schedule, ScheduleError, to_pytorch
from lrlab.schedules.spec import KINDS

N = 1500


def _config(kind: str, **top) -> dict:
    main = {"kind": kind}
    if kind == "cyclic":
        main.update(step_size_up=200, step_size_down=130)
    if kind == "sgdr":
        main.update(T_0=100, T_mult=2)
    if kind == "step":
        main.update(step_size=300)
    if kind == "wsd":
        main.update(decay_steps=400, decay_shape="sqrt")
    return {"format": "lrlab.schedule/1", "base_lr": 0.2, "total_steps": N, "main": main, **top}


def _run_exported(schedule: Schedule, optimizer: torch.optim.Optimizer, metrics=None):
    namespace: dict = {}
    exec(compile(to_pytorch(schedule), "<exported>", "exec"), namespace)
    scheduler = namespace["build_scheduler"](optimizer)
    lrs, second, moms = [], [], []
    for t in range(N):
        groups = optimizer.param_groups
        lrs.append(groups[0]["lr"])
        second.append(groups[-1]["lr"])
        moms.append(groups[0]["betas"][0] if "betas" in groups[0] else groups[0]["momentum"])
        optimizer.step()
        scheduler.step() if metrics is None else scheduler.step(metrics[t])
    return np.array(lrs), np.array(second), np.array(moms)


def _sgd(lr: float = 0.05) -> torch.optim.Optimizer:
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    return torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": lr / 10}], lr=lr, momentum=0.5)


VARIANTS = {
    "plain": {},
    "warmup+hold": {"warmup": {"steps": 120, "start_factor": 0.1, "shape": "linear"},
                    "hold_steps": 50},
    "warmup from 0": {"warmup": {"steps": 100, "start_factor": 0.0, "shape": "linear"}},
    "exponential warmup": {"warmup": {"steps": 100, "start_factor": 0.01,
                                      "shape": "exponential"}},
    "scaled, momentum": {"scaling": {"rule": "sqrt", "reference_batch": 256, "batch": 1024},
                         "momentum": {"value": 0.85}},
}


CASES = [(kind, variant) for kind in KINDS if kind != "plateau" for variant in VARIANTS
         if not (KINDS[kind].own_warmup and variant != "plain")]


@pytest.mark.parametrize(("kind", "variant"), CASES)
def test_exported_code_reproduces_lrlab(kind: str, variant: str) -> None:
    extra = VARIANTS[variant]
    schedule = Schedule.from_dict(_config(kind, **extra))
    lrs, second, moms = _run_exported(schedule, _sgd())
    expected = schedule.lr(np.arange(N))
    np.testing.assert_allclose(lrs, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(second, expected / 10, rtol=1e-12, atol=1e-15)
    momentum = schedule.momentum(np.arange(N))
    if momentum is not None:
        np.testing.assert_allclose(moms, momentum, rtol=1e-12)


def test_exported_onecycle_sets_adams_beta1() -> None:
    schedule = Schedule.from_dict(_config("onecycle"))
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
    lrs, _, moms = _run_exported(schedule, opt)
    np.testing.assert_allclose(lrs, schedule.lr(np.arange(N)), rtol=1e-12)
    np.testing.assert_allclose(moms, schedule.momentum(np.arange(N)), rtol=1e-12)


def test_exported_plateau_takes_the_metric() -> None:
    schedule = Schedule.from_dict(_config("plateau") | {"main": {"kind": "plateau",
                                                                  "patience": 5}})
    metrics = np.r_[np.linspace(2, 1, 100), np.ones(N - 100)]
    lrs, _, _ = _run_exported(schedule, _sgd(), metrics=metrics)
    np.testing.assert_allclose(lrs, schedule.lr(np.arange(N), metrics=metrics), rtol=1e-12)


def test_plateau_with_warmup_refuses_to_export_with_a_reason() -> None:
    schedule = Schedule.from_dict(_config("plateau", warmup={"steps": 10}))
    with pytest.raises(ScheduleError, match="plateau schedule with warmup"):
        to_pytorch(schedule)


@pytest.mark.parametrize("kind", list(KINDS))
def test_exported_code_imports_only_torch_and_math(kind: str) -> None:
    config = _config(kind)
    tree = ast.parse(to_pytorch(Schedule.from_dict(config)))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import | ast.ImportFrom)
                for alias in getattr(node, "names", [])}
    assert imported <= {"torch", "math"}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_exporter_uses_the_twin_the_spec_names(kind: str) -> None:
    """The kind table is the one place that says which torch scheduler equals a kind."""
    config = {"format": "lrlab.schedule/1", "base_lr": 0.1, "total_steps": 200,
              "main": {"kind": kind}}
    if kind == "multistep":
        config["main"]["milestones"] = [50, 120]
    if kind == "piecewise":
        config["main"].update({"boundaries": [100], "values": [1.0, 0.1]})
    code = to_pytorch(Schedule.from_dict(config))
    twin = KINDS[kind].torch_twin
    if twin is not None:
        assert f"S.{twin}(optimizer, " in code
    else:
        assert "S.LambdaLR(optimizer, " in code
        assert ("u = min(u, T)" in code) == KINDS[kind].has_horizon
