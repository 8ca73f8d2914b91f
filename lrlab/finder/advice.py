"""Schedule advice: turn an analysed range-test curve into ready ``lrlab.schedule/1`` configs.

Three schedules built from three points of the curve: the consensus LR (the steepest descent), the
LR where the descent starts (the loss leaves its plateau) and the LR of the smoothed minimum.

Short runs train best well above the steepest descent (the consensus: a safe constant LR). Each
peak sits a fixed distance above the consensus, in decades (PEAK_DECADES), for every optimizer,
and never above an LR at which the range test saw the loss diverge. The distances were chosen
on LR check ladders (9 peaks a quarter decade apart, final top-1 of a short run) of three tuning
pairs, small_cnn on digits (SGD), small_cnn on a 4,000-image MNIST sample (SGD) and small_cnn on
digits (Adam), and are reported on held-out pairs by benchmarks/bench_check.py.

The peaks used to blend towards the smoothed minimum of the curve (consensus^(1-w) x
minimum^w, w per optimizer family). That missed on held-out pairs: the minimum lies 0.5 to
2.2 decades above the consensus depending on the pair, and a peak drawn towards a far minimum
is too hot (ResNet-18-A on digits with Adam, 1cycle at w = 0.75: 0.48 of the best). A fixed
distance kept closer to the best on every pair measured.

- 1cycle (Smith & Topin 2019): 1 decade above the consensus. On the tuning pairs (1 seed a
  point, 5 ladders) it reached 0.987 to 1.000 of the best (the blend 0.976 to 1.000; 0.75
  decade 0.980 to 1.000), in line with Smith & Topin's super-convergence: the cycle's warm-up
  and annealing let it peak higher than a constant LR could. It starts at
  max_lr / div_factor, the descent start: the warm-up begins where the loss begins to respond.
- Warmup + cosine: 0.75 decade above the consensus, 5.6x. On the tuning pairs (3 seeds a point)
  every distance from 0.5 to 1 decade reached 0.990 to 1.000 of the best; the worst pair got
  0.995 at 0.75 and 0.996 at 1, and 1.25 fell to 0.953 on MNIST, so the lower of the two. The
  linear warmup starts at the descent start (start_factor = descent start / peak) and lasts 5%
  of the steps (He et al. 2019 warm up for 5 of 120 epochs, Goyal et al. 2017 for 5 of 90).
- Cyclical LR (Smith 2017, sec. 3.3): base_lr = where the loss starts to fall, max_lr = where it
  stops falling (the smoothed minimum); when the curve does not show both, base = max / 4 (Smith's
  rule of thumb). Four full cycles over the run: ending on a cycle boundary is what Smith asks for.

A different batch size is handled by a ``scaling`` block (linear rule for SGD-like optimizers,
Goyal et al. 2017; square root for Adam-like ones, Malladi et al. 2022): the configs keep the LR
measured at the tested batch and the schedule library applies the factor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from lrlab.core.errors import LrlabError
from lrlab.core.optimizer_table import optimizer_info
from lrlab.finder.analysis import Analysis
from lrlab.finder.stop_reason import StopReason
from lrlab.schedules.spec import FORMAT

WARMUP_SHARE = 0.05
CLR_CYCLES = 4
CLR_FALLBACK_RATIO = 4.0
ONECYCLE_MAX_DIV = 1e4
ONECYCLE_DEFAULT_DIV = 25.0


def scaling_rule(optimizer: str) -> str:
    """How the optimizer's LR follows the batch (its row in the optimizer table): ``linear``
    for SGD, ``sqrt`` for the adaptive (Adam) family."""
    return optimizer_info(optimizer.strip().lower()).scaling_rule


# How far above the consensus each schedule peaks, in decades: see the module's docstring.
PEAK_DECADES = {"onecycle": 1.0, "warmup_cosine": 0.75}


def diverged_at(analysis: Analysis) -> float | None:
    """The LR at which the sweep stopped because the loss exploded, if it did."""
    if analysis.stop_reason in (StopReason.DIVERGED, StopReason.NAN) and len(analysis.lrs):
        return float(analysis.lrs[-1])
    return None


def peak_above(consensus: float, decades: float, diverged_lr: float | None) -> float:
    """`decades` above the consensus, capped at the LR where the sweep diverged (a peak the
    range test saw the loss explode at would not train), never below the consensus."""
    peak = consensus * 10**decades
    if diverged_lr is not None:
        peak = min(peak, diverged_lr)
    return max(peak, consensus)


def _sig(value: float, digits: int = 3) -> float:
    """Round to a few significant digits: a config is read by people, not only by code."""
    return float(f"{value:.{digits}g}")


def advise(
    analysis: Analysis,
    *,
    total_steps: int,
    batch_size: int,
    optimizer: str | None = None,
    target_batch_size: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Ready ``lrlab.schedule/1`` configs: ``onecycle``, ``warmup_cosine`` and ``cyclic``.

    ``total_steps`` is the length of the run the configs are for (optimizer updates);
    ``batch_size`` is the batch the range test used; with ``target_batch_size`` every config gets
    a scaling block from that batch to the target, by the rule for ``optimizer`` (by default
    the optimizer the analysis was made for).
    """
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 8:
        raise LrlabError(f"total_steps must be an integer >= 8, got {total_steps!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise LrlabError(f"batch_size must be a positive integer, got {batch_size!r}")
    if target_batch_size is not None and (
        isinstance(target_batch_size, bool)
        or not isinstance(target_batch_size, int)
        or target_batch_size < 1
    ):
        raise LrlabError(f"target_batch_size must be a positive integer, got {target_batch_size!r}")
    rule = scaling_rule(analysis.optimizer if optimizer is None else optimizer)
    peak = analysis.consensus
    if peak is None:
        raise LrlabError(
            "the curve gave no LR suggestion, so there is nothing to build a schedule from "
            f"({analysis.verdict})"
        )
    start = analysis.descent_start_lr
    start = start if start is not None and start < peak else None
    top = analysis.minimum_lr
    diverged = diverged_at(analysis)
    configs: dict[str, dict[str, Any]] = {
        "onecycle": onecycle_advice(
            peak_above(peak, PEAK_DECADES["onecycle"], diverged), start, total_steps),
        "warmup_cosine": warmup_cosine_advice(
            peak_above(peak, PEAK_DECADES["warmup_cosine"], diverged), start, total_steps),
        "cyclic": cyclic_advice(peak, start, top, total_steps),
    }
    if target_batch_size is not None and target_batch_size != batch_size:
        for config in configs.values():
            config["scaling"] = {
                "rule": rule,
                "reference_batch": batch_size,
                "batch": target_batch_size,
            }
    return configs


def onecycle_advice(bold: float, start: float | None, total_steps: int) -> dict[str, Any]:
    """1cycle (Smith 2018) peaking at `bold`, starting where the descent starts (div_factor),
    momentum cycling 0.95 -> 0.85."""
    div = min(bold / start, ONECYCLE_MAX_DIV) if start is not None else ONECYCLE_DEFAULT_DIV
    return {
        "format": FORMAT,
        "base_lr": _sig(bold),
        "total_steps": total_steps,
        "main": {
            "kind": "onecycle",
            "pct_start": 0.3,
            "div_factor": _sig(max(div, 1.0)),
            "final_div_factor": 1e4,
            "anneal_strategy": "cos",
            "three_phase": False,
            "cycle_momentum": True,
            "base_momentum": 0.85,
            "max_momentum": 0.95,
        },
    }


def warmup_cosine_advice(peak: float, start: float | None, total_steps: int) -> dict[str, Any]:
    """Linear warmup from where the descent starts to `peak`, then cosine to zero."""
    return {
        "format": FORMAT,
        "base_lr": _sig(peak),
        "total_steps": total_steps,
        "warmup": {
            "steps": max(1, round(WARMUP_SHARE * total_steps)),
            "start_factor": _sig(start / peak) if start is not None else 0.0,
            "shape": "linear",
        },
        "hold_steps": 0,
        "main": {"kind": "cosine", "min_lr": 0.0},
    }


def cyclic_advice(peak: float, start: float | None, top: float | None,
                  total_steps: int) -> dict[str, Any]:
    """CLR (Smith 2017) bounds: from where the loss starts falling to where it stops."""
    upper = top if top is not None and top > peak else peak
    lower = start if start is not None and start < upper else upper / CLR_FALLBACK_RATIO
    return {
        "format": FORMAT,
        "base_lr": _sig(upper),
        "total_steps": total_steps,
        "main": {
            "kind": "cyclic",
            "base_lr": _sig(lower),
            "step_size_up": max(1, total_steps // (2 * CLR_CYCLES)),
            "step_size_down": None,
            "mode": "triangular",
            "gamma": 1.0,
            "cycle_momentum": True,
            "base_momentum": 0.8,
            "max_momentum": 0.9,
        },
    }


# Why each advised schedule peaks where it does, in one sentence each (the module's docstring
# and docs/range-test.md give the measurements behind them).
WHY = {
    "onecycle": "a cycle's warm-up and annealing let it peak above the LR a constant run could "
                "hold (Smith & Topin 2019); 1 decade above was best on the tuning ladders",
    "warmup_cosine": "the warmup lets it start hot and the cosine cools it down; 0.75 decade "
                     "above was best on the tuning ladders, 1.25 already too hot",
    "cyclic": "it cycles from where the loss starts to fall to where it stops falling "
              "(Smith 2017), four cycles over the run",
}


def explain(result: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """For each advised schedule of a range-test result: its peak LR, one sentence on where the
    peak sits relative to the consensus and why, and a warning when the peak lies where the
    smoothed curve is already rising (above its minimum)."""
    consensus = (result.get("suggestions") or {}).get("consensus")
    minimum = result.get("minimum_lr")
    out: dict[str, dict[str, Any]] = {}
    for name, config in (result.get("advice") or {}).items():
        peak = float(config["base_lr"])
        where = ""
        if consensus:
            decades = math.log10(peak / consensus)
            where = (f", {peak / consensus:.3g}× the consensus ({abs(decades):.2f} decade "
                     f"{'above' if decades >= 0 else 'below'})")
        sentence = f"Peaks at {peak:.3g}{where}: {WHY.get(name, 'see the range-test guide')}."
        rising = None
        if minimum and peak > minimum * (1 + 1e-9):
            rising = (f"The {name} peak ({peak:.3g}) lies where the curve is already rising "
                      f"(past its minimum at {minimum:.3g}): the LR check will show whether it "
                      "still trains.")
        out[name] = {"peak": peak, "why": sentence, "warning": rising}
    return out
