"""LR suggestion rules: each reference tool's rule reproduced exactly, and lrlab's lag-free rule.

Every function takes the curve *as its tool would hold it* (the tool's own smoothed losses, before
the tool's own trimming) and returns the suggested LR, or None where the tool would fail or return
None (too few points). The ``METHODS`` registry says which smoothing each tool applies to raw
losses, so `lrlab.finder.analysis` can feed each rule what its tool would feed it.

fastai and Lightning hold their curves as float32 tensors; their rules are evaluated here on
float32 copies so that comparisons and argmins pick the same index, and the LR at that index is
returned at full precision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from lrlab.core.errors import LrlabError
from lrlab.finder.smoothing import (
    ArrayLike,
    ema_debiased,
    smooth_log_lr,
    torch_lr_finder_smooth,
    window_points,
)


def _arrays(lrs: ArrayLike, losses: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)


def fastai_lr_find_window(
    lrs: ArrayLike, losses: ArrayLike, num_it: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The part of the Recorder's curve that fastai's ``Learner.lr_find`` hands to its rules.

    fastai/callback/schedule.py, ``lr_find``: ``recorder.lrs[num_it//10:-5]`` (same for losses),
    then everything from the first NaN loss on is dropped. ``num_it`` is the requested number of
    iterations; by default the curve's length (a test that ran to the end).
    """
    x, y = _arrays(lrs, losses)
    n = len(x) if num_it is None else num_it
    x, y = x[n // 10 : -5], y[n // 10 : -5]
    nan = np.flatnonzero(np.isnan(y))
    if len(nan):
        x, y = x[: nan[0]], y[: nan[0]]
    return x, y


def fastai_valley(lrs: ArrayLike, losses: ArrayLike, *, num_it: int | None = None) -> float | None:
    """fastai's ``valley`` (fastai/callback/schedule.py, fastai ≥ 2.5; fastai's default).

    The longest decreasing subsequence of losses (table ``lds``), taken as the run of L points
    ending at its last point, then the point ``int(L/3) + int(L/6)`` past the start of that run.
    The start, end − L, is -1 when the curve falls from its first point, and fastai then counts
    from index -1 (Python's last point); that quirk is kept. Expects the Recorder's losses
    (``ema_debiased``, β = 0.98).
    """
    x, y = fastai_lr_find_window(lrs, losses, num_it)
    y = y.astype(np.float32)
    n = len(y)
    if n == 0:
        return None
    max_start, max_end = 0, 0
    lds = np.ones(n, dtype=np.int64)
    for i in range(1, n):
        # fastai checks the record after every j of its inner loop, but lds[i] can only beat it
        # by one (every earlier lds is at most the record), so checking once after the loop is
        # the same.
        longer = lds[:i][y[i] < y[:i]]
        lds[i] = longer.max() + 1 if len(longer) else 1
        if lds[i] > lds[max_end]:
            max_end = i
            max_start = max_end - int(lds[i])
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return float(x[idx])


def fastai_slide(
    lrs: ArrayLike,
    losses: ArrayLike,
    *,
    num_it: int | None = None,
    lr_diff: int = 15,
    thresh: float = 0.005,
    adjust_value: float = 1.0,
) -> float | None:
    """fastai's ``slide`` (fastai/callback/schedule.py): interval slide rule.

    Walk a pair of points ``lr_diff`` apart leftwards from the end of the curve while the
    index-gradients (``np.gradient``) at the two points differ by more than ``thresh``; suggest the
    left point of the last pair that did. None where fastai would raise (fewer than ``lr_diff + 1``
    points).
    """
    x, y = fastai_lr_find_window(lrs, losses, num_it)
    y = y.astype(np.float32)
    if len(y) < max(lr_diff + 1, 2):
        return None
    grad = np.gradient(y)
    r_idx = -1
    l_idx = r_idx - lr_diff
    local_min_lr = x[l_idx]
    while l_idx >= -len(y) and abs(grad[r_idx] - grad[l_idx]) > thresh:
        local_min_lr = x[l_idx]
        r_idx -= 1
        l_idx -= 1
    return float(local_min_lr) * adjust_value


def fastai_minimum(lrs: ArrayLike, losses: ArrayLike, *, num_it: int | None = None) -> float | None:
    """fastai's ``minimum`` (fastai/callback/schedule.py): the lowest loss's LR, divided by 10."""
    x, y = fastai_lr_find_window(lrs, losses, num_it)
    if len(y) == 0:
        return None
    return float(x[int(np.argmin(y.astype(np.float32)))]) / 10


def fastai_steep(lrs: ArrayLike, losses: ArrayLike, *, num_it: int | None = None) -> float | None:
    """fastai's ``steep`` (fastai/callback/schedule.py): steepest forward difference in ln(lr).

    ``grads = Δloss / Δln(lr)`` between neighbours; the suggestion is the *left* point of the
    steepest pair.
    """
    x, y = fastai_lr_find_window(lrs, losses, num_it)
    if len(y) < 2:
        return None
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    grads = (y32[1:] - y32[:-1]) / (np.log(x32[1:]) - np.log(x32[:-1]))
    return float(x[int(np.argmin(grads))])


def torch_lr_finder_steepest(
    lrs: ArrayLike, losses: ArrayLike, skip_start: int = 10, skip_end: int = 5
) -> float | None:
    """torch-lr-finder's suggestion (torch_lr_finder/lr_finder.py 0.2.2, ``LRFinder.plot``).

    Trim ``skip_start`` and ``skip_end`` points, then the point of lowest
    ``np.gradient(losses)`` (unit spacing, i.e. per step, not per LR). None where the tool raises
    (fewer than ``skip_start + skip_end + 2`` points). Expects ``history["loss"]``
    (``torch_lr_finder_smooth``). NaNs are not removed: as in the tool, the argmin then lands on the
    first NaN gradient.
    """
    if skip_start < 0 or skip_end < 0:
        raise LrlabError("skip_start and skip_end cannot be negative")
    x, y = _arrays(lrs, losses)
    if len(x) < skip_start + skip_end + 2:
        return None
    end = len(x) - skip_end
    x, y = x[skip_start:end], y[skip_start:end]
    return float(x[int(np.argmin(np.gradient(y)))])


def lightning_suggestion(
    lrs: ArrayLike,
    losses: ArrayLike,
    skip_begin: int = 10,
    skip_end: int = 1,
    *,
    spacing: Literal["lr", "index"] = "lr",
) -> float | None:
    """Lightning's ``_LRFinder.suggestion`` (lightning/pytorch/tuner/lr_finder.py).

    Slice ``[skip_begin:-skip_end]`` (so ``skip_end=0`` leaves nothing, as in Lightning), drop
    non-finite losses, need at least 2 points, then the lowest ``torch.gradient``. Since Lightning
    2.5.3 (PR #21055) the gradient is taken against the LR values themselves (``spacing=[lrs]``,
    linear LR even on an exponential sweep: dividing by tiny LR steps lets small wiggles at the
    lowest LRs win, see issue #21141 and benchmarks/bench_suggestion_lag.py);
    ``spacing="index"`` reproduces the earlier unit spacing, including its index shift when
    non-finite losses were dropped. Expects ``ema_debiased(raw, 0.98, step_offset=1)``.
    """
    x_all, y_all = _arrays(lrs, losses)
    x = x_all[skip_begin:-skip_end].astype(np.float32)
    y = y_all[skip_begin:-skip_end].astype(np.float32)
    finite = np.isfinite(y)
    x, y = x[finite], y[finite]
    if len(y) < 2:
        return None
    if spacing == "index":
        return float(x_all[int(np.argmin(np.gradient(y))) + skip_begin])
    grads = np.gradient(y, x)
    kept = np.arange(len(x_all))[skip_begin:-skip_end][finite]
    return float(x_all[kept[int(np.argmin(grads))]])


# Window of lrlab's rule as a fraction of the points it searches (the curve up to the blow-up):
# wider than the display smoother's, because the slope's minimum is what must be stable against
# per-batch noise. Chosen with benchmarks/bench_suggestion_lag.py.
STEEPEST_WINDOW_FRACTION = 0.3


@dataclass(frozen=True)
class _LagFree:
    """A raw curve cut before its blow-up and smoothed zero-phase, as lrlab's rules read it."""

    lrs: np.ndarray
    log_lrs: np.ndarray
    smoothed: np.ndarray
    skip: int  # points at the start where the filter fits one-sided
    lowest: int  # index of the smoothed minimum


def _lag_free(lrs: ArrayLike, losses: ArrayLike, window_decades: float | None) -> _LagFree | None:
    """Cut where the loss is back above its starting level after its lowest point (the explosion
    would bend any smoother reaching into it) and smooth with ``smooth_log_lr`` (centred, so no
    EMA lag), with a window of ``STEEPEST_WINDOW_FRACTION`` of the kept points unless
    ``window_decades``. None with fewer than 5 finite points or no descent before the minimum."""
    x, y = _arrays(lrs, losses)
    finite = np.isfinite(y) & (x > 0)
    x, y = x[finite], y[finite]
    if len(y) < 5:
        return None
    x, y = _before_blow_up(x, y)
    n = len(y)
    if n < 5:
        return None
    logx = np.log10(x)
    step = (logx[-1] - logx[0]) / (n - 1)
    if window_decades is None:
        window_decades = STEEPEST_WINDOW_FRACTION * n * step if step > 0 else None
    smoothed = smooth_log_lr(x, y, window_decades=window_decades)
    skip = window_points(n, step, window_decades) // 2
    lowest = int(np.argmin(smoothed))
    # No descent: the minimum sits in the skipped start, or the "drop" is rounding error.
    if lowest <= skip + 1 or smoothed[skip] - smoothed[lowest] <= 1e-9 * np.abs(smoothed).max():
        return None
    return _LagFree(x, logx, smoothed, skip, lowest)


def lrlab_steepest(
    lrs: ArrayLike, losses: ArrayLike, *, window_decades: float | None = None
) -> float | None:
    """lrlab's lag-free rule: the steepest descent of the zero-phase smoothed curve in log10(lr).

    On the curve as ``_lag_free`` reads it (cut before the blow-up, smoothed without lag),
    differentiate against log10(lr) and take the most negative slope strictly before the smoothed
    minimum, leaving out the first half-window where the filter fits one-sided; the position is
    refined between grid points by a parabola. None when there is no descent there or fewer than 5
    finite points.
    """
    c = _lag_free(lrs, losses, window_decades)
    if c is None:
        return None
    slope = np.gradient(c.smoothed, c.log_lrs)
    idx = c.skip + int(np.argmin(slope[c.skip : c.lowest]))
    if slope[idx] >= 0:
        return None
    return float(10 ** _vertex(c.log_lrs, slope, idx))


def lrlab_midpoint(
    lrs: ArrayLike, losses: ArrayLike, *, window_decades: float | None = None
) -> float | None:
    """lrlab's robust lag-free rule: where the smoothed loss has made half its descent.

    The level halfway between the plateau (median of the smoothed curve's first tenth) and the
    smoothed minimum, crossed for the last time before the minimum, interpolated in log10(lr).
    A level crossing averages the whole descent, so it is steadier under noise than the argmin of
    a derivative; on a symmetric descent it is the steepest point, and it is the "half-way down
    the descending part" practitioners read off the plot (torch-lr-finder #56).
    """
    c = _lag_free(lrs, losses, window_decades)
    if c is None:
        return None
    s, logx = c.smoothed, c.log_lrs
    top = float(np.median(s[: max(3, len(s) // 10)]))
    level = (top + s[c.lowest]) / 2
    above = np.flatnonzero(s[: c.lowest] > level)
    if top <= s[c.lowest] or len(above) == 0:
        return None
    i = int(above[-1])
    share = (s[i] - level) / (s[i] - s[i + 1])
    return float(10 ** (logx[i] + share * (logx[i + 1] - logx[i])))


def _before_blow_up(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The curve up to the first point after its lowest loss that is back above the starting
    level (median of the first tenth): past it the loss explodes, and a smoother window reaching
    into the explosion would bend the descent it is meant to find."""
    start = float(np.median(y[: max(1, len(y) // 10)]))
    lowest = int(np.argmin(y))
    above = np.flatnonzero(y[lowest:] > start)
    return (x, y) if len(above) == 0 else (x[: lowest + above[0] + 1], y[: lowest + above[0] + 1])


def _vertex(logx: np.ndarray, slope: np.ndarray, idx: int) -> float:
    """log10(lr) of the slope's minimum, refined between grid points by a parabola through the
    minimum and its neighbours (the grid is ~0.08 decade apart on a default sweep)."""
    if idx == 0 or idx == len(slope) - 1:
        return float(logx[idx])
    x0, x1, x2 = logx[idx - 1 : idx + 2]
    y0, y1, y2 = slope[idx - 1 : idx + 2]
    denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
    if a <= 0:
        return float(x1)
    b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / denom
    return float(np.clip(-b / (2 * a), x0, x2))


@dataclass(frozen=True)
class Method:
    """A suggestion rule, where it comes from, and how its tool smooths raw losses first."""

    name: str
    source: str
    smoothing: str
    preprocess: Callable[[np.ndarray], np.ndarray]
    suggest: Callable[..., float | None]  # (lrs, losses[, num_it=...])
    # Weight in the consensus: each of lrlab's two lag-free rules weighs 2, each tool's rule 1.
    weight: float = 1.0
    # fastai's lr_find trims by the *requested* number of steps (``num_it``), not the recorded.
    takes_num_it: bool = False
    reads: str = ""  # what part of the curve the rule reads: why it may land far from the rest

    def run(
        self, lrs: np.ndarray, raw: np.ndarray, planned_steps: int | None = None
    ) -> float | None:
        """The suggestion the tool would make from a raw curve: its smoothing, then its rule."""
        losses = self.preprocess(raw)
        if self.takes_num_it:
            return self.suggest(lrs, losses, num_it=planned_steps)
        return self.suggest(lrs, losses)


def _raw(losses: np.ndarray) -> np.ndarray:
    return losses


def _fastai_ema(losses: np.ndarray) -> np.ndarray:
    return ema_debiased(losses, 0.98)


def _lightning_ema(losses: np.ndarray) -> np.ndarray:
    return ema_debiased(losses, 0.98, step_offset=1)


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "fastai_valley",
            "fastai ≥ 2.5, callback/schedule.py `valley` (default of lr_find)",
            "debiased EMA, β = 0.98 (Recorder smooth_loss)",
            _fastai_ema,
            fastai_valley,
            takes_num_it=True,
            reads="the longest falling stretch of a lagging EMA",
        ),
        Method(
            "fastai_steep",
            "fastai ≥ 2.5, callback/schedule.py `steep`",
            "debiased EMA, β = 0.98 (Recorder smooth_loss)",
            _fastai_ema,
            fastai_steep,
            takes_num_it=True,
            reads="the steepest point of a lagging EMA",
        ),
        Method(
            "fastai_minimum",
            "fastai ≥ 2.5, callback/schedule.py `minimum` (LR of the lowest loss ÷ 10)",
            "debiased EMA, β = 0.98 (Recorder smooth_loss)",
            _fastai_ema,
            fastai_minimum,
            takes_num_it=True,
            reads="a tenth of the LR of the lowest loss",
        ),
        Method(
            "fastai_slide",
            "fastai ≥ 2.5, callback/schedule.py `slide`",
            "debiased EMA, β = 0.98 (Recorder smooth_loss)",
            _fastai_ema,
            fastai_slide,
            takes_num_it=True,
            reads="where a lagging EMA stops falling, stepped back",
        ),
        Method(
            "torch_lr_finder",
            "torch-lr-finder 0.2.2, LRFinder.plot(suggest_lr=True): steepest np.gradient",
            "EMA from the first loss, smooth_f = 0.05, no debias",
            torch_lr_finder_smooth,
            torch_lr_finder_steepest,
            reads="the steepest point of an EMA that lags the curve",
        ),
        Method(
            "lightning",
            "Lightning ≥ 2.5.3, tuner/lr_finder.py _LRFinder.suggestion",
            "EMA, β = 0.98, debiased with one step too many (_LRCallback)",
            _lightning_ema,
            lightning_suggestion,
            reads="the steepest point of its EMA, which starts near half the first loss",
        ),
        Method(
            "lrlab",
            "lrlab: steepest d loss / d log10 lr before the minimum, zero-phase smoothing",
            "none (raw losses; smooths zero-phase itself)",
            _raw,
            lrlab_steepest,
            weight=2.0,
            reads="the steepest point of the lag-free curve",
        ),
        Method(
            "lrlab_midpoint",
            "lrlab: half-way down the descent of the zero-phase smoothed curve",
            "none (raw losses; smooths zero-phase itself)",
            _raw,
            lrlab_midpoint,
            weight=2.0,
            reads="half-way down the lag-free curve's descent",
        ),
    )
}
