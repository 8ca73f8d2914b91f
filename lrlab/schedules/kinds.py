"""One closed form per main kind: the LR (and momentum) at main-phase steps u, vectorised.

Every function takes u (int64 array, u >= 0), the main phase's length T, the peak LR `eta` and
the kind's parameters, and returns float64. Where PyTorch has the kind, the arithmetic follows
PyTorch's own formula operation for operation, so values agree to the last few ulps.
Restart and cycle indices use integer arithmetic: a floating log picks the wrong SGDR cycle
exactly at some restart steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

Params = Mapping[str, Any]


def constant(u: np.ndarray, T: int, eta: float, p: Params) -> np.ndarray:
    return np.full(u.shape, eta, dtype=np.float64)


def step(u: np.ndarray, T: int, eta: float, p: Params) -> np.ndarray:
    return eta * p["gamma"] ** (u // p["step_size"]).astype(np.float64)


def multistep(u: np.ndarray, T: int, eta: float, p: Params) -> np.ndarray:
    passed = np.searchsorted(np.asarray(p["milestones"]), u, side="right")
    return eta * p["gamma"] ** passed.astype(np.float64)


def exponential(u: np.ndarray, T: int, eta: float, p: Params) -> np.ndarray:
    return eta * p["gamma"] ** u.astype(np.float64)


def power(u: np.ndarray, T: int, eta: float, p: Params) -> np.ndarray:
    return eta / (1.0 + u / p["s"]) ** p["c"]


def polynomial(u: np.ndarray, T: int, eta: float, p: Params) -> np.ndarray:
    uc = np.minimum(u, T)
    return (eta - p["min_lr"]) * (1.0 - uc / T) ** p["power"] + p["min_lr"]


def linear(u: np.ndarray, T: int, eta: float, p: Params) -> np.ndarray:
    uc = np.minimum(u, T)
    return eta * (1.0 + (p["end_factor"] - 1.0) * uc / T)


def cosine(u: np.ndarray, T: int, eta: float, p: Params) -> np.ndarray:
    uc = np.minimum(u, T)
    return p["min_lr"] + (eta - p["min_lr"]) * (1.0 + np.cos(math.pi * uc / T)) / 2.0


def sgdr_cycles(u: np.ndarray, T_0: int, T_mult: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cycle index, position in the cycle, cycle length) for each step, in integers."""
    if T_mult == 1:
        return u // T_0, u % T_0, np.full(u.shape, T_0, dtype=np.int64)
    top = int(u.max()) if u.size else 0
    starts = [0]
    length = T_0
    while starts[-1] <= top:
        starts.append(starts[-1] + length)
        length *= T_mult
    starts_arr = np.asarray(starts, dtype=np.int64)
    cycle = np.searchsorted(starts_arr, u, side="right") - 1
    lengths = T_0 * np.asarray([T_mult**i for i in range(len(starts))], dtype=np.int64)
    return cycle, u - starts_arr[cycle], lengths[cycle]


def sgdr(u: np.ndarray, T: int, eta: float, p: Params) -> np.ndarray:
    cycle, pos, length = sgdr_cycles(u, p["T_0"], p["T_mult"])
    peak = p["min_lr"] + (eta - p["min_lr"]) * p["decay"] ** cycle.astype(np.float64)
    return p["min_lr"] + (peak - p["min_lr"]) * (1.0 + np.cos(math.pi * pos / length)) / 2.0


def _anneal(strategy: str, start: Any, end: Any, pct: np.ndarray) -> np.ndarray:
    if strategy == "cos":
        return end + (start - end) / 2.0 * (np.cos(math.pi * pct) + 1)
    return (end - start) * pct + start


def _onecycle_phases(T: int, p: Params) -> list[tuple[float, str, str]]:
    """(end step, start key, end key) per phase, exactly as torch.optim.lr_scheduler.OneCycleLR."""
    if p["three_phase"]:
        return [(float(p["pct_start"] * T) - 1, "initial", "max"),
                (float(2 * p["pct_start"] * T) - 2, "max", "initial"),
                (T - 1, "initial", "min")]
    return [(float(p["pct_start"] * T) - 1, "initial", "max"), (T - 1, "max", "min")]


def _onecycle(u: np.ndarray, T: int, values: dict[str, float], p: Params) -> np.ndarray:
    uc = np.minimum(u, T - 1).astype(np.float64)
    out = np.empty(u.shape, dtype=np.float64)
    done = np.zeros(u.shape, dtype=bool)
    start_step = 0.0
    phases = _onecycle_phases(T, p)
    for i, (end_step, a, b) in enumerate(phases):
        here = ~done & ((uc <= end_step) | (i == len(phases) - 1))
        pct = (uc[here] - start_step) / (end_step - start_step)
        out[here] = _anneal(p["anneal_strategy"], values[a], values[b], pct)
        done |= here
        start_step = end_step
    return out


def onecycle(u: np.ndarray, T: int, eta: float, p: Params) -> np.ndarray:
    initial = eta / p["div_factor"]
    return _onecycle(u, T, {"initial": initial, "max": eta,
                            "min": initial / p["final_div_factor"]}, p)


def onecycle_momentum(u: np.ndarray, T: int, p: Params) -> np.ndarray:
    # The LR's phases with momentum moving the other way: max -> base -> max (-> max).
    lo, hi = p["base_momentum"], p["max_momentum"]
    return _onecycle(u, T, {"initial": hi, "max": lo, "min": hi}, p)


def _cyclic_scale(u: np.ndarray, p: Params) -> tuple[np.ndarray, np.ndarray]:
    """(height fraction within the cycle, amplitude factor), as torch's CyclicLR."""
    up = float(p["step_size_up"])
    down = float(p["step_size_down"]) if p["step_size_down"] is not None else up
    total, ratio = up + down, up / (up + down)
    cycle = np.floor(1 + u / total)
    x = 1.0 + u / total - cycle
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
    if p["mode"] == "triangular":
        amplitude = np.ones(u.shape)
    elif p["mode"] == "triangular2":
        amplitude = 1 / (2.0 ** (cycle - 1))
    else:
        amplitude = p["gamma"] ** u.astype(np.float64)
    return scale, amplitude


def cyclic(u: np.ndarray, T: int, eta: float, p: Params) -> np.ndarray:
    scale, amplitude = _cyclic_scale(u, p)
    return p["base_lr"] + (eta - p["base_lr"]) * scale * amplitude


def cyclic_momentum(u: np.ndarray, T: int, p: Params) -> np.ndarray:
    scale, amplitude = _cyclic_scale(u, p)
    return p["max_momentum"] - (p["max_momentum"] - p["base_momentum"]) * scale * amplitude


def piecewise(u: np.ndarray, T: int, eta: float, p: Params) -> np.ndarray:
    knots = np.asarray([0, *p["boundaries"]], dtype=np.int64)
    values = np.asarray(p["values"], dtype=np.float64)
    i = np.searchsorted(knots, u, side="right") - 1
    if p["interpolation"] == "constant" or len(knots) == 1:
        return eta * values[i]
    last = i >= len(knots) - 1
    j = np.minimum(i + 1, len(knots) - 1)
    span = np.where(last, 1, knots[j] - knots[i])
    frac = np.where(last, 0.0, (u - knots[i]) / span)
    v0, v1 = values[i], values[j]
    if p["interpolation"] == "linear":
        factor = v0 + (v1 - v0) * frac
    else:
        factor = v1 + (v0 - v1) * (1.0 + np.cos(math.pi * frac)) / 2.0
    return eta * np.where(last, values[-1], factor)


def inverse_sqrt(u: np.ndarray, T: int, eta: float, p: Params) -> np.ndarray:
    return eta / np.sqrt(1.0 + u / p["timescale"])


def wsd(u: np.ndarray, T: int, eta: float, p: Params) -> np.ndarray:
    decay = p["decay_steps"]
    # x: progress through the final decay, 0 before it starts, 1 at its end.
    x = np.clip((u - (T - decay)) / decay, 0.0, 1.0) if decay else (u >= T).astype(np.float64)
    if p["decay_shape"] == "linear":
        shape = 1.0 - x
    elif p["decay_shape"] == "cosine":
        shape = (1.0 + np.cos(math.pi * x)) / 2.0
    else:
        shape = 1.0 - np.sqrt(x)
    return p["min_lr"] + (eta - p["min_lr"]) * shape


@dataclass
class PlateauState:
    """ReduceLROnPlateau's state machine, step for step as torch implements it.

    Plateau is the one kind whose LR depends on a metric history; the schedule runs this once
    over the series, and the torch adapter advances it one metric at a time.
    """

    lr: float
    params: Mapping[str, Any]
    best: float = math.nan
    num_bad: int = 0
    cooldown_counter: int = 0

    def __post_init__(self) -> None:
        if math.isnan(self.best):
            self.best = math.inf if self.params["mode"] == "min" else -math.inf

    def _is_better(self, a: float) -> bool:
        p = self.params
        if p["mode"] == "min":
            if p["threshold_mode"] == "rel":
                return a < self.best * (1.0 - p["threshold"])
            return a < self.best - p["threshold"]
        if p["threshold_mode"] == "rel":
            return a > self.best * (p["threshold"] + 1.0)
        return a > self.best + p["threshold"]

    def step(self, metric: float) -> float:
        """Take one metric value; returns the LR for the next step."""
        current = float(metric)
        if self._is_better(current):
            self.best = current
            self.num_bad = 0
        else:
            self.num_bad += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad = 0
        if self.num_bad > self.params["patience"]:
            new_lr = max(self.lr * self.params["factor"], self.params["min_lr"])
            if self.lr - new_lr > self.params["eps"]:
                self.lr = new_lr
            self.cooldown_counter = self.params["cooldown"]
            self.num_bad = 0
        return self.lr


def plateau_lrs(eta: float, metrics: np.ndarray, p: Params) -> np.ndarray:
    """LR after k metrics for k = 0..len(metrics)."""
    state = PlateauState(lr=eta, params=p)
    return np.asarray([eta] + [state.step(m) for m in metrics], dtype=np.float64)


LrFormula = Callable[[np.ndarray, int, float, Params], np.ndarray]

FORMULAS: dict[str, LrFormula] = {
    "constant": constant, "step": step, "multistep": multistep, "exponential": exponential,
    "power": power, "polynomial": polynomial, "linear": linear, "cosine": cosine, "sgdr": sgdr,
    "onecycle": onecycle, "cyclic": cyclic, "piecewise": piecewise,
    "inverse_sqrt": inverse_sqrt, "wsd": wsd,
}
MOMENTUM_FORMULAS = {"onecycle": onecycle_momentum, "cyclic": cyclic_momentum}
