"""The noise scale, momentum window and decay per step against the papers' formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrlab.schedules.noise_scale import averaging_window, decay_per_step, noise_scale


def test_noise_scale_is_smith_and_le() -> None:
    # g = η(N/B − 1): 0.1 × (50000/128 − 1) = 38.9625; with m = 0.9 ten times that.
    assert noise_scale(0.1, 50_000, 128) == pytest.approx(38.9625)
    assert noise_scale(0.1, 50_000, 128, 0.9) == pytest.approx(389.625)


def test_a_k_times_larger_batch_with_a_k_times_larger_lr_keeps_it_nearly() -> None:
    """Linear scaling keeps η·N/B: the two differ only by the −1 term, η(k − 1)."""
    small, large = noise_scale(0.1, 50_000, 128), noise_scale(0.4, 50_000, 512)
    assert large - small == pytest.approx(-(0.4 - 0.1))
    assert abs(large / small - 1) < 0.01


def test_averaging_window() -> None:
    assert averaging_window(0.9) == pytest.approx(9.491, abs=1e-3)
    assert averaging_window(0.95) == pytest.approx(19.496, abs=1e-3)
    assert averaging_window([0.0])[0] == 0.0


def test_decay_per_step_by_optimizer() -> None:
    lr = np.array([0.1, 0.05, 0.0])
    np.testing.assert_allclose(decay_per_step(lr, "sgd", 5e-4, 0.1), [5e-5, 2.5e-5, 0.0])
    np.testing.assert_allclose(decay_per_step(lr, "adamw", 5e-4, 0.1), [5e-5, 2.5e-5, 0.0])
    np.testing.assert_allclose(decay_per_step(lr, "sgdw", 5e-4, 0.1), [5e-4, 2.5e-4, 0.0])
    with pytest.raises(ValueError, match="optimizer: expected one of"):
        decay_per_step(lr, "lion", 1e-4, 0.1)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="momentum must be in"):
        noise_scale(0.1, 100, 10, 1.0)
    with pytest.raises(ValueError, match="batch must be"):
        noise_scale(0.1, 100, 0)
    assert math.isfinite(float(noise_scale(0.1, 100, 100)))
