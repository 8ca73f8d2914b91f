"""Curve analysis: every method's suggestion, a consensus, and how far to trust it.

Each method in `lrlab.finder.methods.METHODS` gets the curve its own tool would hold (its own
smoothing of the raw losses), so the reference tools' answers here are the answers those tools
would give. The consensus is the weighted median of the answers in log10(lr): a median because a
single rule fooled by a bump should not move it, in log space because LRs are compared by ratio,
weighted towards lrlab's lag-free rules because the tools' EMAs shift their answers to the right.
For the same reason the full range of answers is no trust measure (it mostly measures the tools'
lags); the spread is the width of the narrowest group of methods around the consensus holding half
the weight. Trust combines that spread, the seeds' spread when there are several, and what the
curve itself shows (a flat start, a clear descent, divergence at the end, noise).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from lrlab.core.errors import LrlabError
from lrlab.core.json_safe import json_safe
from lrlab.finder.curves import validate_curve
from lrlab.finder.methods import METHODS
from lrlab.finder.smoothing import ArrayLike, smooth_log_lr
from lrlab.finder.stop_reason import StopReason

Trust = Literal["high", "medium", "low"]
_LEVELS: tuple[Trust, ...] = ("low", "medium", "high")

# Spread (decades) up to which trust stays high / medium: within half a decade (a factor of ~3)
# a short training run rarely tells the LRs apart; beyond a decade the curve does not pin one down.
HIGH_SPREAD = 0.5
MEDIUM_SPREAD = 1.0
# A method this far from the consensus is named as an outlier, with what its rule reads.
OUTLIER_DECADES = 0.5
# Fewer finite points than this and the curve is too coarse for the rules' skips and windows.
MIN_POINTS = 20
# A curve whose first 10% of points already fall by more than this share of the total drop
# starts too late; a rise after the minimum below this share of the drop never diverged.
START_FALL_SHARE = 0.25
END_RISE_SHARE = 0.5
# The descent starts where the smoothed loss has made this share of its drop (5%: on a logistic
# descent about 1.3·width before its centre, roughly a decade below the steepest point).
DESCENT_START_SHARE = 0.05
# Residual noise (robust std of raw − smoothed up to the minimum) above this share of the drop.
NOISE_SHARE = 0.2


@dataclass
class Analysis:
    """Everything `analyze` found; ``to_dict`` is its part of an ``lrlab.range_test`` file."""

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestions: dict[str, float | None]
    consensus: float | None
    spread_decades: float | None
    agreeing: list[str]
    seed_spread_decades: float | None
    trust: Trust
    verdict: str
    warnings: list[str]
    stop_reason: StopReason | None = None
    optimizer: str = "sgd"
    band_low: np.ndarray | None = None
    band_high: np.ndarray | None = None
    seed_suggestions: list[dict[str, float | None]] = field(default_factory=list)
    seed_consensus: list[float | None] = field(default_factory=list)
    descent_start_lr: float | None = None
    minimum_lr: float | None = None

    def summary(self) -> str:
        """A few lines for a terminal: each method's LR, the consensus, the verdict, warnings."""
        width = max(len(name) for name in self.suggestions)
        lines = [
            f"  {name:<{width}}  {'-' if lr is None else format(lr, '.3g')}"
            for name, lr in self.suggestions.items()
        ]
        consensus = "none" if self.consensus is None else format(self.consensus, ".3g")
        lines += [f"consensus: {consensus}  (trust: {self.trust})", self.verdict]
        lines += [f"warning: {w}" for w in self.warnings]
        return "suggested LRs:\n" + "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN/inf become None, arrays become lists."""
        out: dict[str, Any] = {
            "lr": json_safe(self.lrs),
            "loss": json_safe(self.losses),
            "smoothed": json_safe(self.smoothed),
            "stop_reason": self.stop_reason,
            "optimizer": self.optimizer,
            "suggestions": {**json_safe(self.suggestions), "consensus": json_safe(self.consensus)},
            "methods": {
                name: {"source": m.source, "smoothing": m.smoothing, "weight": m.weight}
                for name, m in METHODS.items()
            },
            "trust": {
                "level": self.trust,
                "spread_decades": json_safe(self.spread_decades),
                "agreeing_methods": list(self.agreeing),
                "seed_spread_decades": json_safe(self.seed_spread_decades),
                "verdict": self.verdict,
                "warnings": list(self.warnings),
            },
            "descent_start_lr": json_safe(self.descent_start_lr),
            "minimum_lr": json_safe(self.minimum_lr),
        }
        if self.seed_suggestions:
            out["seeds"] = {
                "band_low": json_safe(self.band_low),
                "band_high": json_safe(self.band_high),
                "suggestions": json_safe(self.seed_suggestions),
                "consensus": json_safe(self.seed_consensus),
            }
        return out


def suggest_all(
    lrs: np.ndarray, losses: np.ndarray, planned_steps: int | None = None
) -> dict[str, float | None]:
    """Every method's suggestion for a raw curve, each fed its own tool's smoothing."""
    return {name: m.run(lrs, losses, planned_steps) for name, m in METHODS.items()}


def _weighted_answers(suggestions: dict[str, float | None]) -> tuple[np.ndarray, np.ndarray]:
    pairs = sorted(
        (math.log10(v), METHODS[k].weight if k in METHODS else 1.0)
        for k, v in suggestions.items()
        if v is not None and v > 0
    )
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def _weighted_median(logs: np.ndarray, weights: np.ndarray) -> float:
    """Lower weighted median; the midpoint of the two middle values when weight splits evenly."""
    cum = np.cumsum(weights)
    half = cum[-1] / 2
    i = int(np.searchsorted(cum, half - 1e-12))
    if math.isclose(cum[i], half) and i + 1 < len(logs):
        return float((logs[i] + logs[i + 1]) / 2)
    return float(logs[i])


def consensus_of(suggestions: dict[str, float | None]) -> float | None:
    """Weighted median of the answers in log10(lr); None if no method answered.

    lrlab's two lag-free rules weigh 2 each and every tool's rule 1 (``Method.weight``): 4 of 10
    when all answer, so the consensus lies at or between lrlab's answers unless those sit beyond
    most tools' on one side; then it moves inwards to the nearest tool answer.
    """
    logs, weights = _weighted_answers(suggestions)
    return float(10 ** _weighted_median(logs, weights)) if len(logs) else None


def agreeing_core(
    suggestions: dict[str, float | None], consensus: float | None
) -> tuple[float, list[str]] | None:
    """The narrowest group of methods around the consensus holding half the total weight.

    Returns its width in decades and the methods in it: with all answering, lrlab's two rules
    (4 of 10) and the nearest tool answer. The full range is no trust measure: the tools' EMAs
    shift their answers by different lags.
    """
    named = sorted(
        (math.log10(v), METHODS[k].weight if k in METHODS else 1.0, k)
        for k, v in suggestions.items()
        if v is not None and v > 0
    )
    if len(named) < 2 or consensus is None:
        return None
    logs = np.array([n[0] for n in named])
    weights = np.array([n[1] for n in named])
    centre = math.log10(consensus)
    half = weights.sum() / 2
    best: tuple[float, int, int] | None = None
    for i in range(len(logs)):
        if logs[i] > centre + 1e-12:
            break
        for j in range(i + 1, len(logs)):
            if logs[j] >= centre - 1e-12 and weights[i : j + 1].sum() >= half - 1e-12:
                width = float(logs[j] - logs[i])
                if best is None or width < best[0] - 1e-12:
                    best = (width, i, j)
                break
    if best is None:
        return None
    width, i, j = best
    return width, [n[2] for n in named[i : j + 1]]


def _median_curve(
    curves: Sequence[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Median raw curve and min/max band on the first curve's LRs inside every curve's range."""
    spans = []
    for x, y in curves:
        fin = np.isfinite(y)
        spans.append((np.log10(x[fin][0]), np.log10(x[fin][-1])))
    lo, hi = max(s[0] for s in spans), min(s[1] for s in spans)
    if lo > hi:
        raise LrlabError(
            "seed curves: their LR ranges (where the loss is finite) do not overlap, "
            "so there is no common grid for a median curve"
        )
    grid_x = curves[0][0]
    logg = np.log10(grid_x)
    keep = (logg >= lo - 1e-12) & (logg <= hi + 1e-12)
    grid_x, logg = grid_x[keep], logg[keep]
    stack = np.vstack(
        [np.interp(logg, np.log10(x[np.isfinite(y)]), y[np.isfinite(y)]) for x, y in curves]
    )
    return grid_x, np.median(stack, axis=0), stack.min(axis=0), stack.max(axis=0)


def analyze(
    lrs: ArrayLike,
    losses: ArrayLike,
    *,
    curves: Sequence[tuple[ArrayLike, ArrayLike]] | None = None,
    stop_reason: StopReason | None = None,
    optimizer: str = "sgd",
    planned_steps: int | None = None,
) -> Analysis:
    """Analyse a raw range-test curve (and, optionally, extra seeds of the same test).

    With ``curves``, the analysed curve is the median of all seeds on the common LR grid (the first
    curve's LRs inside every curve's range) with a min/max band, and each seed is also analysed on
    its own so the spread of the seeds' consensus can be reported. ``stop_reason`` is what the
    engine recorded (a ``StopReason``); a diverged or NaN stop changes the warnings.
    ``optimizer`` is kept for `advise`, which picks the batch-scaling rule from it.
    ``planned_steps`` is the number of steps the sweep was set up for, when it stopped early:
    fastai trims the start of the curve by a tenth of that number.
    """
    x, y = validate_curve(lrs, losses)
    seeds = _Seeds.of([(x, y), *(validate_curve(cx, cy, where=f"seed curve {i + 2}")
                                 for i, (cx, cy) in enumerate(curves or ()))], planned_steps)
    if curves:
        x, y = seeds.x, seeds.y
    seed_consensus = seeds.consensus if curves else []
    seed_spread = seeds.spread if curves else None
    smoothed = smooth_log_lr(x, y)
    suggestions = suggest_all(x, y, planned_steps)
    consensus = consensus_of(suggestions)
    core = agreeing_core(suggestions, consensus)
    spread = core[0] if core else None
    shape = _Shape.of(x, y, smoothed)
    warnings, caps = _warnings(shape, suggestions, stop_reason, y)
    if curves and len(seed_consensus) - sum(c is not None for c in seed_consensus) > 0:
        warnings.append("some seeds gave no suggestion at all")
        caps.append("low")
    agreeing = core[1] if core else []
    trust, verdict = _verdict(suggestions, spread, agreeing, seed_spread, caps, warnings)
    return Analysis(
        lrs=x,
        losses=y,
        smoothed=smoothed,
        suggestions=suggestions,
        consensus=consensus,
        spread_decades=spread,
        agreeing=agreeing,
        seed_spread_decades=seed_spread,
        trust=trust,
        verdict=verdict,
        warnings=warnings,
        stop_reason=stop_reason,
        optimizer=optimizer,
        band_low=seeds.band_low if curves else None,
        band_high=seeds.band_high if curves else None,
        seed_suggestions=seeds.suggestions if curves else [],
        seed_consensus=seed_consensus,
        descent_start_lr=shape.descent_start_lr,
        minimum_lr=shape.minimum_lr,
    )


@dataclass(frozen=True)
class _Seeds:
    """Several seeds of one range test: each one's suggestions, and their median curve."""

    suggestions: list[dict[str, float | None]]
    consensus: list[float | None]
    x: np.ndarray
    y: np.ndarray
    band_low: np.ndarray | None
    band_high: np.ndarray | None
    spread: float | None  # decades between the seeds' consensus LRs

    @classmethod
    def of(cls, curves: list[tuple[np.ndarray, np.ndarray]],
           planned_steps: int | None) -> _Seeds:
        if len(curves) == 1:
            return cls([], [], *curves[0], None, None, None)
        suggestions = [suggest_all(cx, cy, planned_steps) for cx, cy in curves]
        consensus = [consensus_of(s) for s in suggestions]
        x, y, low, high = _median_curve(curves)
        logs = [math.log10(c) for c in consensus if c is not None]
        spread = max(logs) - min(logs) if len(logs) >= 2 else None
        return cls(suggestions, consensus, x, y, low, high, spread)


@dataclass(frozen=True)
class _Shape:
    """What the zero-phase smoothed curve shows: its drop, its ends, its noise."""

    n_finite: int
    drop: float
    start_fall: float
    end_rise: float
    noise: float
    minimum_lr: float | None
    descent_start_lr: float | None

    @classmethod
    def of(cls, x: np.ndarray, y: np.ndarray, smoothed: np.ndarray) -> _Shape:
        fin = np.isfinite(smoothed)
        xs, s, raw = x[fin], smoothed[fin], y[fin]
        n = len(s)
        lowest = int(np.argmin(s))
        drop = float(s[0] - s[lowest])
        k = max(1, n // 10)
        start_fall = float(s[0] - np.min(s[: k + 1]))
        # Descent start: last point before the minimum still within 5% of the drop of the start
        # level, i.e. where the loss leaves its plateau.
        plateau = (
            np.flatnonzero(s[: lowest + 1] >= s[0] - DESCENT_START_SHARE * drop) if drop > 0 else []
        )
        start_lr = float(xs[plateau[-1]]) if len(plateau) else None
        return cls(
            n_finite=n,
            drop=drop,
            start_fall=start_fall,
            end_rise=float(s[-1] - s[lowest]),
            noise=_robust_noise(raw[: max(lowest + 1, 3)] - s[: max(lowest + 1, 3)]),
            minimum_lr=float(xs[lowest]),
            descent_start_lr=start_lr if drop > 0 else None,
        )


def _robust_noise(residuals: np.ndarray) -> float:
    """Noise level (a standard deviation) from the median absolute residual, so the explosion at
    the end of the sweep, which no smoother follows, does not count as noise."""
    dev = np.abs(residuals - np.median(residuals))
    return float(1.4826 * np.median(dev))


def _warnings(
    shape: _Shape,
    suggestions: dict[str, float | None],
    stop_reason: StopReason | None,
    raw: np.ndarray,
) -> tuple[list[str], list[Trust]]:
    warnings: list[str] = []
    caps: list[Trust] = []
    reason = StopReason(stop_reason) if stop_reason is not None else None
    if shape.n_finite < MIN_POINTS:
        warnings.append(
            f"too few points: {shape.n_finite} finite losses; use at least 50 (more steps)"
        )
        caps.append("low" if shape.n_finite < 10 else "medium")
    if reason is StopReason.NAN or not np.all(np.isfinite(raw)):
        warnings.append("stopped on NaN/inf loss: suggestions use the points before it")
    described_descent = shape.drop > 3 * shape.noise and suggestions.get("lrlab") is not None
    if not described_descent:
        warnings.append(
            "no clear descent: the loss does not fall clearly below its starting level; "
            "check the model/data or widen the LR range"
        )
        caps.append("low")
        return warnings, caps
    if shape.start_fall > START_FALL_SHARE * shape.drop:
        warnings.append(
            "no flat start: the loss is already falling at the first LRs; lower start_lr"
        )
        caps.append("medium")
    if reason is not StopReason.DIVERGED and shape.end_rise < END_RISE_SHARE * shape.drop:
        warnings.append(
            "never diverged: the loss did not rise clearly after its minimum; raise end_lr"
        )
        caps.append("medium")
    if shape.noise > NOISE_SHARE * shape.drop:
        warnings.append("noisy curve: average several batches per LR point or run several seeds")
        caps.append("medium")
    return warnings, caps


def _verdict(
    suggestions: dict[str, float | None],
    spread: float | None,
    agreeing: list[str],
    seed_spread: float | None,
    caps: list[Trust],
    warnings: list[str],
) -> tuple[Trust, str]:
    answered = sum(v is not None for v in suggestions.values())
    reasons: list[str] = []
    if spread is None or answered < 3:
        level: Trust = "low"
        reasons.append(f"only {answered} of {len(suggestions)} methods gave a suggestion")
    elif spread <= HIGH_SPREAD:
        level = "high"
    else:
        level = "medium" if spread <= MEDIUM_SPREAD else "low"
        closest = ", ".join(agreeing)
        reasons.append(f"the closest methods ({closest}) spread over {_decades(spread)}")
    if seed_spread is not None and seed_spread > HIGH_SPREAD:
        caps.append("medium" if seed_spread <= MEDIUM_SPREAD else "low")
        reasons.append(f"seeds disagree by {_decades(seed_spread)}")
    whole, outliers = full_spread(suggestions)
    if whole is not None and whole > MEDIUM_SPREAD:
        caps.append("medium")  # never "high" while the methods span more than a decade
        reasons.append(f"all {answered} methods span {_decades(whole)}")
    for cap in caps:
        level = min(level, cap, key=_LEVELS.index)
    reasons += [w.split(":")[0] for w in warnings]
    if outliers:
        reasons.append("far from the rest: " + "; ".join(
            f"{name} ({METHODS[name].reads})" if name in METHODS and METHODS[name].reads
            else name for name in outliers))
    if spread is not None and spread <= HIGH_SPREAD:
        agree = f"methods agree within {_decades(spread)} ({', '.join(agreeing)})"
        if seed_spread is not None and level == "high":
            agree += f"; seeds within {_decades(seed_spread)}"
        if level == "high":
            return level, "; ".join([agree, *reasons])
        reasons.insert(0, f"the closest {agree[len('methods '):]}")
    return level, f"{level} confidence: " + "; ".join(dict.fromkeys(reasons))


def full_spread(suggestions: dict[str, float | None]) -> tuple[float | None, list[str]]:
    """How many decades every method's answer spans, and the methods more than OUTLIER_DECADES
    from the consensus, farthest first."""
    answers = {k: v for k, v in suggestions.items() if v is not None and v > 0}
    if len(answers) < 2:
        return None, []
    logs = {k: math.log10(v) for k, v in answers.items()}
    centre = consensus_of(suggestions)
    far = [] if centre is None else sorted(
        (k for k, x in logs.items() if abs(x - math.log10(centre)) > OUTLIER_DECADES),
        key=lambda k: -abs(logs[k] - math.log10(centre)))
    return max(logs.values()) - min(logs.values()), far


def _decades(value: float) -> str:
    return f"{value:.2f} decade" + ("s" if value > 1 else "")
