"""analyze(): each method fed its tool's smoothing, consensus, trust, warnings, seeds, and the
lag benchmark in small (benchmarks/bench_suggestion_lag.py is the full one)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lrlab.core.errors import LrlabError
from lrlab.finder import METHODS, analyze, consensus_of
from lrlab.finder.analysis import agreeing_core
from lrlab.finder.methods import fastai_valley, lightning_suggestion, torch_lr_finder_steepest
from lrlab.finder.smoothing import ema_debiased, torch_lr_finder_smooth

U = np.linspace(-7, 1, 100)


def curve(u: np.ndarray, centre: float = -3.0) -> np.ndarray:
    """Falls by 2 around ``centre`` (decades), explodes 1.5 decades later."""
    return 2.3 - 2.0 / (1 + np.exp(-(u - centre) / 0.35)) + 0.3 * np.exp((u - centre - 1.5) / 0.3)


def true_steepest(centre: float) -> float:
    u = np.linspace(-7, 1, 16001)
    c = curve(u, centre)
    return float(u[np.argmin(np.gradient(c, u)[: np.argmin(c)])])


def noisy(seed: int, sigma: float = 0.02, centre: float = -3.0, u: np.ndarray = U) -> np.ndarray:
    return curve(u, centre) + np.random.default_rng(seed).normal(0, sigma, len(u))


def test_each_method_sees_its_own_tools_smoothing() -> None:
    raw = noisy(0)
    a = analyze(10**U, raw, stop_reason="diverged")
    assert set(a.suggestions) == set(METHODS)
    assert a.suggestions["torch_lr_finder"] == torch_lr_finder_steepest(
        10**U, torch_lr_finder_smooth(raw)
    )
    assert a.suggestions["fastai_valley"] == fastai_valley(10**U, ema_debiased(raw, 0.98))
    # Stopped early at 100 of 300 planned steps: fastai trims 30 points at the start, not 10.
    early = analyze(10**U, raw, planned_steps=300)
    assert early.suggestions["fastai_valley"] == fastai_valley(
        10**U, ema_debiased(raw, 0.98), num_it=300
    )
    assert a.suggestions["lightning"] == lightning_suggestion(
        10**U, ema_debiased(raw, 0.98, step_offset=1)
    )


def test_clean_curve_consensus_near_the_truth_and_trust_reads_every_method() -> None:
    """The consensus lands near the true steepest point, and three methods agree within 0.26
    decade; but all eight span 1.34 decades, so trust is not "high" (never over more than a
    decade), and the verdict names the ones far from the rest and what their rules read."""
    a = analyze(10**U, noisy(1), stop_reason="diverged")
    assert abs(math.log10(a.consensus) - true_steepest(-3.0)) < 0.15
    assert a.trust == "medium"
    assert a.verdict.startswith("medium confidence: the closest agree within 0.26 decade")
    assert "all 8 methods span 1.34 decades" in a.verdict
    assert "far from the rest: fastai_minimum (a tenth of the LR of the lowest loss)" in a.verdict
    assert a.warnings == []
    assert a.descent_start_lr < a.consensus < a.minimum_lr


def test_summary_names_every_method_the_consensus_and_the_verdict() -> None:
    a = analyze(10 ** U[:55], noisy(1, u=U[:55]), stop_reason="completed")
    text = a.summary()
    assert all(name in text for name in METHODS)
    assert f"consensus: {a.consensus:.3g}  (trust: {a.trust})" in text
    assert a.verdict in text and "warning: never diverged" in text


def test_to_dict_is_strict_json_with_nan_as_null() -> None:
    raw = noisy(2)
    raw[-1] = float("nan")
    a = analyze(10**U, raw, stop_reason="nan")
    d = json.loads(json.dumps(a.to_dict(), allow_nan=False))
    assert d["loss"][-1] is None and d["smoothed"][-1] is None
    assert d["suggestions"]["consensus"] == pytest.approx(a.consensus)
    assert set(d["suggestions"]) == set(METHODS) | {"consensus"}
    assert d["trust"]["level"] == a.trust and d["trust"]["verdict"] == a.verdict
    assert any("NaN" in w for w in d["trust"]["warnings"])


@pytest.mark.parametrize(
    ("u", "stop_reason", "expected"),
    [
        (U[:55], "completed", "raise end_lr"),  # cut before the loss rises
        (U[40:], "diverged", "lower start_lr"),  # starts mid-descent
        (np.linspace(-7, 1, 15), "diverged", "too few points"),
    ],
)
def test_warnings_about_the_sweep(u: np.ndarray, stop_reason: str, expected: str) -> None:
    a = analyze(10**u, noisy(3, u=u), stop_reason=stop_reason)
    assert any(expected in w for w in a.warnings), a.warnings
    assert a.trust != "high"


def test_noisy_and_flat_curves_lower_the_trust() -> None:
    loud = analyze(10**U, noisy(4, sigma=0.6), stop_reason="diverged")
    assert any("noisy" in w for w in loud.warnings) and loud.trust != "high"
    flat = analyze(10**U, 2 + np.random.default_rng(5).normal(0, 0.02, 100))
    assert any("no clear descent" in w for w in flat.warnings) and flat.trust == "low"
    assert flat.verdict.startswith("low confidence:")


def test_seeds_give_a_median_curve_a_band_and_their_spread() -> None:
    seeds = [(10**U, noisy(s)) for s in (10, 11, 12)]
    a = analyze(*seeds[0], curves=seeds[1:], stop_reason="diverged")
    stack = np.vstack([s[1] for s in seeds])
    np.testing.assert_allclose(a.losses, np.median(stack, axis=0))
    assert np.all(a.band_low <= a.losses) and np.all(a.losses <= a.band_high)
    assert len(a.seed_suggestions) == 3 and all(c is not None for c in a.seed_consensus)
    logs = [math.log10(c) for c in a.seed_consensus]
    assert a.seed_spread_decades == pytest.approx(max(logs) - min(logs))
    assert "seeds" in a.to_dict()


def test_seeds_on_different_ranges_use_the_common_grid() -> None:
    short = U[U <= 0]
    a = analyze(10**U, noisy(1), curves=[(10**short, noisy(2, u=short))])
    assert math.isclose(a.lrs[-1], 10 ** short[-1]) and len(a.lrs) == len(short)


def test_seed_curves_are_validated_by_position_and_must_overlap() -> None:
    with pytest.raises(LrlabError, match="seed curve 2"):
        analyze(10**U, noisy(1), curves=[([1e-3, 1e-4], [1.0, 2.0])])
    with pytest.raises(LrlabError, match="do not overlap"):
        analyze(10 ** U[:50], noisy(1)[:50], curves=[(10 ** U[60:], noisy(2)[60:])])


def test_a_single_point_is_analysed_without_a_suggestion() -> None:
    a = analyze([1e-3], [2.0])
    assert a.consensus is None and a.trust == "low"
    assert any("too few points" in w for w in a.warnings)
    json.dumps(a.to_dict(), allow_nan=False)


def test_consensus_is_the_weighted_median_in_log_space() -> None:
    # lrlab's rules weigh 2, the tools' 1: here 5 in all, the median falls on lrlab.
    s = {k: None for k in METHODS}
    s.update(fastai_valley=1e-4, fastai_steep=1e-2, torch_lr_finder=1e-2, lrlab=1e-3)
    assert consensus_of(s) == pytest.approx(1e-3)
    # lrlab below every tool: weights 2 | 1, 1, 1, 1, 1 → the median moves to the third answer.
    s.update(lrlab=1e-6, fastai_slide=1e-3, fastai_minimum=1e-1)
    assert consensus_of(s) == pytest.approx(1e-3)
    assert consensus_of({k: None for k in METHODS}) is None
    # Two equal weights split evenly: geometric mean.
    assert consensus_of({"fastai_steep": 1e-4, "fastai_valley": 1e-2}) == pytest.approx(1e-3)


def test_agreeing_core_is_the_narrowest_half_around_the_consensus() -> None:
    s = {
        "lrlab": 1e-3,
        "lrlab_midpoint": 10**-3.05,
        "fastai_valley": 10**-3.2,
        "fastai_slide": 10**-2.9,
        "fastai_steep": 1e-2,
        "torch_lr_finder": 1e-2,
        "fastai_minimum": 10**-1.8,
        "lightning": 1e-6,
    }
    # Cumulative weights 1, 2, 4, 6 of 10 → the median is lrlab's 1e-3. Around it, weight >= 5:
    # [-3.2, -3] is 0.2 wide, [-3.05, -2.9] only 0.15.
    assert consensus_of(s) == pytest.approx(1e-3)
    width, names = agreeing_core(s, consensus_of(s))
    assert width == pytest.approx(0.15)
    assert set(names) == {"lrlab_midpoint", "lrlab", "fastai_slide"}


def test_lag_benchmark_in_small() -> None:
    """lrlab's lag-free rules land within 0.15 decade of the true steepest point (1% noise),
    where the EMA-fed steepest-slope rules land more than 0.3 decade to the right on average."""
    rng = np.random.default_rng(2026)
    errors: dict[str, list[float]] = {
        "lrlab": [],
        "lrlab_midpoint": [],
        "torch_lr_finder": [],
        "fastai_steep": [],
    }
    for _ in range(25):
        centre = rng.uniform(-4.5, -1.5)
        raw = curve(U, centre) + rng.normal(0, 0.02, len(U))
        a = analyze(10**U, raw)
        for name, errs in errors.items():
            errs.append(math.log10(a.suggestions[name]) - true_steepest(centre))
    assert max(abs(e) for e in errors["lrlab"]) < 0.15
    assert max(abs(e) for e in errors["lrlab_midpoint"]) < 0.15
    assert np.mean(errors["torch_lr_finder"]) > 0.3
    assert np.mean(errors["fastai_steep"]) > 0.3


def test_the_full_spread_and_the_outliers_by_hand() -> None:
    """From 1e-4 to 5e-2 is 2.70 decades; with the consensus at lrlab's and its midpoint's 1e-3
    (weights 2 and 2 of 8 answers), the methods more than half a decade away are named,
    farthest first; a method with no answer counts for neither."""
    from lrlab.finder.analysis import consensus_of, full_spread

    suggestions = {"lrlab": 1e-3, "lrlab_midpoint": 1e-3, "torch_lr_finder": 2e-3,
                   "fastai_minimum": 5e-2, "lightning": 1e-4, "fastai_valley": None}
    assert consensus_of(suggestions) == pytest.approx(1e-3, rel=0.5)
    whole, far = full_spread(suggestions)
    assert whole == pytest.approx(math.log10(5e-2 / 1e-4))
    assert far == ["fastai_minimum", "lightning"]
    assert full_spread({"lrlab": 1e-3}) == (None, [])
