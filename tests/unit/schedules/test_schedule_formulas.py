"""Kinds without a PyTorch twin, against their published formulas computed step by step here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrlab.schedules import Schedule

ETA, N = 0.5, 3000


def sched(main: dict, total: int = N, **top) -> Schedule:
    return Schedule.from_dict({"format": "lrlab.schedule/1", "base_lr": ETA,
                               "total_steps": total, "main": main, **top})


def check(schedule: Schedule, formula, steps=None) -> None:
    t = np.arange(schedule.total_steps) if steps is None else np.asarray(steps)
    expected = np.array([formula(int(x)) for x in t])
    np.testing.assert_allclose(schedule.lr(t), expected, rtol=1e-12, atol=1e-15)


def test_cosine_after_warmup_from_zero_and_hold() -> None:
    W, H = 200, 100
    s = sched({"kind": "cosine"}, warmup={"steps": W, "start_factor": 0.0}, hold_steps=H)
    check(s, lambda t: ETA * t / W if t < W else ETA if t < W + H else
          0.5 * ETA * (1 + math.cos(math.pi * (t - W - H) / (N - W - H))))


def test_power_and_inverse_sqrt() -> None:
    check(sched({"kind": "power", "s": 250.0, "c": 0.7}), lambda t: ETA / (1 + t / 250) ** 0.7)
    check(sched({"kind": "inverse_sqrt", "timescale": 400.0}),
          lambda t: ETA / math.sqrt(1 + t / 400))


def test_polynomial_with_a_floor() -> None:
    check(sched({"kind": "polynomial", "power": 0.5, "min_lr": 0.01}),
          lambda t: (ETA - 0.01) * (1 - t / N) ** 0.5 + 0.01)


@pytest.mark.parametrize("shape", ["linear", "cosine", "sqrt"])
def test_wsd_decay_shapes(shape: str) -> None:
    D, lo = 600, 0.001

    def f(t: int) -> float:
        x = min(max((t - (N - D)) / D, 0.0), 1.0)
        k = {"linear": 1 - x, "cosine": (1 + math.cos(math.pi * x)) / 2,
             "sqrt": 1 - math.sqrt(x)}[shape]
        return lo + (ETA - lo) * k

    check(sched({"kind": "wsd", "decay_steps": D, "decay_shape": shape, "min_lr": lo}), f)


@pytest.mark.parametrize("interpolation", ["constant", "linear", "cosine"])
def test_piecewise(interpolation: str) -> None:
    knots, values = [0, 1000, 2000], [1.0, 0.2, 0.05]

    def f(t: int) -> float:
        i = max(k for k in range(3) if knots[k] <= t)
        if i == 2 or interpolation == "constant":
            return ETA * values[i]
        x = (t - knots[i]) / (knots[i + 1] - knots[i])
        if interpolation == "linear":
            return ETA * (values[i] + (values[i + 1] - values[i]) * x)
        return ETA * (values[i + 1] + (values[i] - values[i + 1]) * (1 + math.cos(math.pi * x)) / 2)

    check(sched({"kind": "piecewise", "boundaries": [1000, 2000], "values": values,
                 "interpolation": interpolation}), f)


def test_exponential_and_constant_warmup_shapes() -> None:
    W = 100
    check(sched({"kind": "constant"}, warmup={"steps": W, "start_factor": 0.001,
                                              "shape": "exponential"}),
          lambda t: ETA * 0.001 ** (1 - t / W) if t < W else ETA)
    check(sched({"kind": "constant"}, warmup={"steps": W, "start_factor": 0.1,
                                              "shape": "constant"}),
          lambda t: ETA * 0.1 if t < W else ETA)


def test_sgdr_peak_decay() -> None:
    s = sched({"kind": "sgdr", "T_0": 100, "T_mult": 1, "decay": 0.5, "min_lr": 0.0})
    check(s, lambda t: ETA * 0.5 ** (t // 100) * (1 + math.cos(math.pi * (t % 100) / 100)) / 2)


@pytest.mark.parametrize("T_mult", [1, 2, 3])
def test_sgdr_restarts_exactly_on_restart_steps_at_large_counts(T_mult: int) -> None:
    T_0 = 3
    restarts, start, length = [], 0, T_0
    while start < 10**7:
        restarts.append(start)
        start, length = start + length, length * T_mult
    restarts = np.array(restarts[1:] if T_mult > 1 else np.arange(1, 10**7 // T_0) * T_0)
    s = sched({"kind": "sgdr", "T_0": T_0, "T_mult": T_mult, "min_lr": 0.0})
    np.testing.assert_array_equal(s.lr(restarts), ETA)
    before = s.lr(restarts - 1)
    assert np.all(before < ETA) and np.all(before > 0)


def test_horizon_kinds_hold_their_end_past_total_steps() -> None:
    past = np.array([N, N + 1, 10 * N])
    for main, end in [({"kind": "cosine", "min_lr": 0.01}, 0.01),
                      ({"kind": "linear", "end_factor": 0.1}, 0.1 * ETA),
                      ({"kind": "polynomial", "min_lr": 0.0}, 0.0),
                      ({"kind": "wsd", "decay_steps": 10, "min_lr": 0.02}, 0.02),
                      ({"kind": "piecewise", "boundaries": [5], "values": [1.0, 0.3]}, 0.3 * ETA)]:
        np.testing.assert_allclose(sched(main).lr(past), end, atol=1e-15)
    one = sched({"kind": "onecycle"})
    np.testing.assert_allclose(one.lr(past), one.lr(np.array([N - 1]))[0])


def test_open_ended_kinds_continue_their_formula() -> None:
    s = sched({"kind": "exponential", "gamma": 0.999})
    assert s.lr(np.array([2 * N]))[0] == pytest.approx(ETA * 0.999 ** (2 * N))
