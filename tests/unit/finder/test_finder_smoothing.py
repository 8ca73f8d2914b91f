"""Smoothers: the reference tools' EMAs by hand, and the zero-phase smoother's lack of lag."""

from __future__ import annotations

import numpy as np
import pytest

from lrlab.core.errors import LrlabError
from lrlab.finder.smoothing import (
    ema_debiased,
    smooth_log_lr,
    torch_lr_finder_smooth,
    window_points,
)


def test_ema_debiased_by_hand() -> None:
    # β = 0.5: avg 0.5, 1.25, 2.125; fastai divides by 1 - 0.5^(1, 2, 3).
    np.testing.assert_allclose(ema_debiased([1, 2, 3], 0.5), [1.0, 1.25 / 0.75, 2.125 / 0.875])
    # Lightning divides by 1 - 0.5^(2, 3, 4): global_step is already 1 after the first batch.
    np.testing.assert_allclose(
        ema_debiased([1, 2, 3], 0.5, step_offset=1), [0.5 / 0.75, 1.25 / 0.875, 2.125 / 0.9375]
    )


def test_fastai_ema_is_unbiased_on_a_constant_and_lightnings_is_not() -> None:
    np.testing.assert_allclose(ema_debiased(np.full(50, 2.0), 0.98), 2.0)
    first = ema_debiased([2.0], 0.98, step_offset=1)[0]
    assert first == pytest.approx(2.0 * 0.02 / (1 - 0.98**2))  # about half the first loss


def test_torch_lr_finder_smoothing_by_hand() -> None:
    np.testing.assert_allclose(torch_lr_finder_smooth([1, 2, 3], 0.5), [1.0, 1.5, 2.25])
    np.testing.assert_allclose(torch_lr_finder_smooth([1, 2, 3], 0.0), [1, 2, 3])
    with pytest.raises(LrlabError):
        torch_lr_finder_smooth([1, 2], 1.0)
    with pytest.raises(LrlabError):
        ema_debiased([1, 2], 1.0)


def test_savitzky_golay_keeps_a_quadratic_in_log_lr_exactly() -> None:
    u = np.linspace(-6, 0, 60)
    y = 0.3 * u**2 + u + 2
    np.testing.assert_allclose(smooth_log_lr(10**u, y), y, atol=1e-10)


def test_non_uniform_grid_is_interpolated_and_nans_come_back_as_nan() -> None:
    # Linear in log10(lr) survives interpolation and smoothing exactly, wherever the points are.
    u = np.sort(np.random.default_rng(0).uniform(-6, 0, 40))
    y = -0.7 * u + 1
    y_nan = y.copy()
    y_nan[[5, 39]] = np.nan
    out = smooth_log_lr(10**u, y_nan, window_decades=1.0)
    assert np.isnan(out[[5, 39]]).all()
    keep = np.isfinite(y_nan)
    np.testing.assert_allclose(out[keep], y[keep], atol=1e-10)


def test_short_curves_come_back_unsmoothed_and_shapes_are_checked() -> None:
    np.testing.assert_array_equal(smooth_log_lr([1e-3, 1e-2, 1e-1], [3, 1, 2]), [3, 1, 2])
    with pytest.raises(LrlabError):
        smooth_log_lr([1e-3, 1e-2], [1.0])
    with pytest.raises(LrlabError):
        smooth_log_lr(np.logspace(-3, 0, 10), np.ones(10), window_decades=0)
    with pytest.raises(LrlabError, match="> 0"):
        smooth_log_lr([0.0, 1e-3, 1e-2], [1.0, 2.0, 3.0])


def test_window_is_odd_and_fits_the_curve() -> None:
    assert window_points(100, 0.08, None) == 19  # 20% of 100 → odd
    assert window_points(100, 0.1, 1.0) == 9  # 1 decade / 0.1 = 10 → odd
    assert window_points(6, 0.1, 5.0) == 5  # capped at the curve, odd
    assert window_points(100, 0.1, 0.05) == 5  # at least 5


def test_zero_phase_smoothing_has_no_lag_but_the_ema_does() -> None:
    """A step-like descent centred at 1e-3: the smoothed curve's steepest point stays there,
    the fastai EMA's moves to higher LRs."""
    u = np.linspace(-7, 1, 100)
    y = 2.3 - 2 / (1 + np.exp(-(u + 3) / 0.3))
    noisy = y + np.random.default_rng(1).normal(0, 0.01, 100)

    def steepest(curve: np.ndarray) -> float:
        return float(u[np.argmin(np.gradient(curve, u))])

    assert abs(steepest(smooth_log_lr(10**u, noisy)) - (-3)) <= 0.1
    assert steepest(ema_debiased(noisy, 0.98)) - (-3) > 0.3


@pytest.mark.parametrize(("tool", "smooth"), [
    ("torch-lr-finder", lambda x: torch_lr_finder_smooth(x, 0.05)),
    ("lightning", lambda x: ema_debiased(x, 0.98, step_offset=1)),
    ("fastai", lambda x: ema_debiased(x, 0.98)),
])
def test_each_tools_smoothing_is_inverted_exactly(tool: str, smooth) -> None:
    from lrlab.finder.smoothing import recover_raw

    rng = np.random.default_rng(0)
    raw = 2.3 - np.linspace(0, 1.5, 80) + rng.normal(0, 0.05, 80)
    np.testing.assert_allclose(recover_raw(smooth(raw), tool), raw, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(recover_raw(raw, "raw"), raw)


def test_recover_raw_refuses_unknown_tools_and_factors() -> None:
    from lrlab.finder.smoothing import recover_raw

    with pytest.raises(LrlabError, match="source: expected one of raw, torch-lr-finder"):
        recover_raw([1.0, 2.0], "keras")
    with pytest.raises(LrlabError, match=r"smoothing factor: expected a number in \(0, 1\)"):
        recover_raw([1.0, 2.0], "fastai", 1.0)


def _inside(smoothed: np.ndarray, raw: np.ndarray, window: int) -> bool:
    """Every smoothed point within the lowest and highest raw loss of its own window (computed
    here by hand, point by point)."""
    half = window // 2
    return all(raw[max(0, i - half):i + half + 1].min() - 1e-12 <= s
               <= raw[max(0, i - half):i + half + 1].max() + 1e-12
               for i, s in enumerate(smoothed))


def test_the_smoothed_curve_stays_inside_the_data_at_a_sharp_divergence() -> None:
    """A quadratic fitted across the divergence edge dipped to -128 where every raw loss is above
    0.08 (and a 7-point curve to -1.66 beside a loss of 0.1): the line the methods read and the
    page draws stays within the raw losses around each point."""
    lr = np.logspace(-7, 1, 100)
    loss = 2.3 - 2.2 / (1 + np.exp(-3 * (np.log10(lr) + 3)))
    loss[:92] += np.random.default_rng(0).normal(0, 0.01, 92)
    loss[92:] = [0.3, 1.0, 4.0, 15, 60, 200, 600, 2000]
    smoothed = smooth_log_lr(lr, loss)
    assert _inside(smoothed, loss, window_points(100, 8 / 99, None))
    assert smoothed.min() >= loss.min()
    short = np.array([2.3, 2.2, 1.5, 0.4, 0.1, 5.0, 40.0])
    assert _inside(smooth_log_lr(np.logspace(-4, 0, 7), short), short, 5)


@pytest.mark.parametrize("seed", range(8))
def test_noisy_curves_of_any_length_stay_inside_the_data(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(6, 150))
    lr = np.sort(10 ** rng.uniform(-6, 1, n))  # not uniform in log-lr: interpolated
    loss = np.abs(2 - np.tanh(np.log10(lr) + 3) + rng.normal(0, 0.3, n))
    loss[-max(1, n // 10):] *= 50  # a divergence at the end
    step = (np.log10(lr[-1]) - np.log10(lr[0])) / (n - 1)
    assert _inside(smooth_log_lr(lr, loss), loss, window_points(n, step, None))
