"""Loss smoothing for range-test curves: lrlab's zero-phase smoother and the reference tools' EMAs.

A causal exponential moving average reports, at each LR, a weighted mean of losses seen at *lower*
LRs, so every feature of the curve (the steepest descent, the minimum) appears shifted to the right
by the EMA's lag. That shift is why the EMA-based tools over-suggest. lrlab smooths with a centred
Savitzky–Golay filter in log10(lr): symmetric weights, so no shift. The reference tools' EMAs are
reproduced here too, so each tool's suggestion rule can be fed exactly the curve it would see.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lrlab.core.errors import LrlabError

ArrayLike = Sequence[float] | np.ndarray

# Default window of the zero-phase smoother as a fraction of the curve's points. Wide enough to
# average out per-batch noise, narrow enough (1.6 decades on a 100-point, 8-decade sweep) that
# the descent keeps its shape; chosen with benchmarks/bench_suggestion_lag.py.
DEFAULT_WINDOW_FRACTION = 0.2
_MIN_WINDOW = 5
_UNIFORM_TOLERANCE = 1e-6


def ema_debiased(losses: ArrayLike, beta: float = 0.98, *, step_offset: int = 0) -> np.ndarray:
    """Debiased causal EMA: ``avg_i = β·avg_{i-1} + (1-β)·loss_i``, ``avg_{-1} = 0``, divided by
    ``1 - β^(i + 1 + step_offset)``.

    ``step_offset=0`` is fastai's ``AvgSmoothLoss`` (fastai/learner.py: ``torch.lerp(loss, val,
    beta)``, ``value = val / (1 - beta**count)``), which the Recorder stores as ``losses``.
    ``step_offset=1`` is Lightning's ``_LRCallback.on_train_batch_end``
    (lightning/pytorch/tuner/lr_finder.py): it divides by ``1 - beta**(global_step + 1)`` and
    ``global_step`` is already 1 after the first batch, so its curve is not fully debiased and
    starts at about half the first loss (Lightning issue #14167).
    NaN propagates to every later point, as in both tools.
    """
    if not 0.0 <= beta < 1.0:
        raise LrlabError(f"beta must be in [0, 1), got {beta}")
    if step_offset < 0:
        raise LrlabError(f"step_offset must be >= 0, got {step_offset}")
    x = np.asarray(losses, dtype=float)
    out = np.empty_like(x)
    avg = 0.0
    for i, loss in enumerate(x):
        avg = beta * avg + (1.0 - beta) * loss
        out[i] = avg / (1.0 - beta ** (i + 1 + step_offset))
    return out


def torch_lr_finder_smooth(losses: ArrayLike, smooth_f: float = 0.05) -> np.ndarray:
    """torch-lr-finder's ``history["loss"]`` from raw losses (``LRFinder.range_test``, 0.2.2).

    The first loss is kept as is; then ``loss_i = f·raw_i + (1-f)·history_{i-1}``. There is no
    debiasing (the EMA starts from the first loss instead of zero); ``smooth_f=0`` keeps raw losses.
    """
    if not 0.0 <= smooth_f < 1.0:
        raise LrlabError(f"smooth_f must be in [0, 1), got {smooth_f}")
    x = np.asarray(losses, dtype=float)
    out = np.empty_like(x)
    for i, loss in enumerate(x):
        out[i] = loss if i == 0 or smooth_f == 0 else smooth_f * loss + (1 - smooth_f) * out[i - 1]
    return out


# What each tool stores as its curve's losses: its EMA's factor (torch-lr-finder's smooth_f;
# Lightning's and fastai's beta). "raw" stores the losses as measured.
TOOL_SMOOTHING = {"raw": None, "torch-lr-finder": 0.05, "lightning": 0.98, "fastai": 0.98}


def recover_raw(smoothed: ArrayLike, tool: str, factor: float | None = None) -> np.ndarray:
    """The raw losses behind a tool's stored curve: each EMA above inverted exactly (to float
    rounding), so the tool's own rule, fed the result, sees its own curve again. NaN stays NaN
    from where it appears, as in the tools."""
    if tool not in TOOL_SMOOTHING:
        raise LrlabError(f"source: expected one of {', '.join(TOOL_SMOOTHING)}, got {tool!r}")
    y = np.asarray(smoothed, dtype=float)
    if tool == "raw":
        return y.copy()
    f = TOOL_SMOOTHING[tool] if factor is None else factor
    if not 0.0 < f < 1.0:
        raise LrlabError(f"smoothing factor: expected a number in (0, 1), got {f}")
    out = np.empty_like(y)
    if tool == "torch-lr-finder":  # s_i = f·raw_i + (1-f)·s_{i-1}, s_0 = raw_0
        out[0] = y[0]
        out[1:] = (y[1:] - (1.0 - f) * y[:-1]) / f
        return out
    # Lightning / fastai: s_i = avg_i / (1 - β^(i+1+offset)), avg_i = β·avg_{i-1} + (1-β)·raw_i
    offset = 1 if tool == "lightning" else 0
    avg = y * (1.0 - f ** (np.arange(len(y)) + 1 + offset))
    out[0] = avg[0] / (1.0 - f)
    out[1:] = (avg[1:] - f * avg[:-1]) / (1.0 - f)
    return out


def window_points(n_points: int, step_decades: float, window_decades: float | None) -> int:
    """Odd Savitzky–Golay window length in points for a curve of ``n_points`` on a log-lr grid."""
    if window_decades is None:
        points = round(DEFAULT_WINDOW_FRACTION * n_points)
    else:
        if window_decades <= 0:
            raise LrlabError(f"window_decades must be > 0, got {window_decades}")
        points = round(window_decades / step_decades) if step_decades > 0 else n_points
    points = max(points, _MIN_WINDOW)
    points = min(points, n_points)
    return points if points % 2 == 1 else points - 1


def smooth_log_lr(
    lrs: ArrayLike,
    losses: ArrayLike,
    *,
    window_decades: float | None = None,
    polyorder: int = 2,
) -> np.ndarray:
    """Zero-phase smoothed losses at the given LRs: centred Savitzky–Golay in log10(lr).

    The filter needs evenly spaced samples, so a sweep that is not uniform in log-lr (a linear
    sweep, dropped points) is interpolated onto a uniform log-lr grid with as many points, smoothed
    there and read back at the original LRs. Non-finite losses are left out and come back as NaN.
    The default window is ``DEFAULT_WINDOW_FRACTION`` of the points (odd, at least 5); curves with
    fewer than 5 finite points are returned unsmoothed. The result never leaves the range of
    the raw losses in each point's own window: a polynomial fitted to a window that holds the
    divergence edge would otherwise overshoot (below every loss there, or above), and the
    suggestion rules read this line.
    """
    # scipy.signal takes about a second to import; only pay for it when a curve is smoothed.
    from scipy.signal import savgol_filter

    lr = np.asarray(lrs, dtype=float)
    y = np.asarray(losses, dtype=float)
    if lr.shape != y.shape or lr.ndim != 1:
        raise LrlabError(f"lrs and losses must be 1-D of one length, got {lr.shape}, {y.shape}")
    if not np.all(lr > 0):
        raise LrlabError("learning rates must be > 0 to be smoothed in log10(lr)")
    x = np.log10(lr)
    out = np.full_like(y, np.nan)
    finite = np.isfinite(y) & np.isfinite(x)
    n = int(finite.sum())
    if n < _MIN_WINDOW:
        out[finite] = y[finite]
        return out
    xf, yf = x[finite], y[finite]
    step = (xf[-1] - xf[0]) / (n - 1)
    window = window_points(n, step, window_decades)
    order = min(polyorder, window - 1)
    steps = np.diff(xf)
    if step > 0 and np.all(np.abs(steps - step) <= _UNIFORM_TOLERANCE * max(step, 1e-12)):
        smoothed = savgol_filter(yf, window, order)
    else:
        grid = np.linspace(xf[0], xf[-1], n)
        smoothed = np.interp(xf, grid, savgol_filter(np.interp(grid, xf, yf), window, order))
    low, high = window_range(yf, window)
    out[finite] = np.clip(smoothed, low, high)
    return out


def window_range(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Each point's lowest and highest value within the centred window of `window` points
    around it (cut short at the ends)."""
    half = window // 2
    padded = np.pad(values.astype(float), half, constant_values=np.nan)
    views = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    return np.nanmin(views, axis=1), np.nanmax(views, axis=1)
