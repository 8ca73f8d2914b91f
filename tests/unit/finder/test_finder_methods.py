"""Every reproduced suggestion rule on small curves whose answers were worked out by hand, and
torch-lr-finder's / Lightning's rules against the real package and a torch re-statement."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

from lrlab.core.errors import LrlabError
from lrlab.finder.methods import (
    METHODS,
    fastai_lr_find_window,
    fastai_minimum,
    fastai_slide,
    fastai_steep,
    fastai_valley,
    lightning_suggestion,
    lrlab_midpoint,
    lrlab_steepest,
    torch_lr_finder_steepest,
)
from lrlab.finder.smoothing import torch_lr_finder_smooth

matplotlib.use("Agg")


def decades(n: int, start: float = 1e-4) -> list[float]:
    return [start * 10.0**i for i in range(n)]


def as_recorded(losses: list[float]) -> tuple[list[float], list[float], int]:
    """A Recorder curve whose lr_find window (num_it=9: [0:-5]) is exactly ``losses``."""
    lrs = decades(len(losses) + 5)
    return lrs, losses + [99.0] * 5, 9


def test_fastai_window_slices_like_lr_find_and_stops_at_the_first_nan() -> None:
    lrs = [float(i + 1) for i in range(30)]
    losses = [float(i) for i in range(30)]
    x, y = fastai_lr_find_window(lrs, losses)
    assert x.tolist() == lrs[3:25]  # num_it // 10 = 3, then drop the last 5
    losses[10] = float("nan")
    x, y = fastai_lr_find_window(lrs, losses, num_it=50)  # requested 50, stopped at 30
    assert x.tolist() == lrs[5:10] and y.tolist() == losses[5:10]


@pytest.mark.parametrize(
    ("losses", "index"),
    [
        # Strictly falling: run start -1, L = 5 → -1 + int(5/3) + int(5/6) = 0.
        ([5.0, 4.0, 3.0, 2.0, 1.0], 0),
        # Bump at 6 and 7: longest run ends at 1 with length 5, start 1 → 1 + 1 + 0 = 2.
        ([5.0, 6.0, 4.0, 3.0, 7.0, 2.0, 1.0], 2),
        # Two points: start -1, L = 2 → index -1, Python's last point (fastai's quirk).
        ([2.0, 1.0], 1),
    ],
)
def test_fastai_valley_by_hand(losses: list[float], index: int) -> None:
    lrs, rec, num_it = as_recorded(losses)
    assert fastai_valley(lrs, rec, num_it=num_it) == pytest.approx(lrs[index])


def test_fastai_steep_takes_the_left_point_of_the_steepest_pair() -> None:
    # Differences per decade: -0.1, -0.9, -0.1, -0.1 → pair (1, 2) → lr[1].
    lrs, rec, num_it = as_recorded([3.0, 2.9, 2.0, 1.9, 1.8])
    assert fastai_steep(lrs, rec, num_it=num_it) == pytest.approx(lrs[1])


def test_fastai_minimum_is_a_tenth_of_the_lowest_losss_lr() -> None:
    lrs, rec, num_it = as_recorded([3.0, 2.0, 1.0, 1.5, 2.0])
    assert fastai_minimum(lrs, rec, num_it=num_it) == pytest.approx(lrs[2] / 10)


def test_fastai_slide_by_hand() -> None:
    # np.gradient: [0, 0, -0.5, -1.5, -2.5, -3]. Pairs 2 apart from the right:
    # |g5-g3| = 1.5, |g4-g2| = 2.0, |g3-g1| = 1.5 all > 0.6 → keep lr[-5]; |g2-g0| = 0.5 stops.
    lrs, rec, num_it = as_recorded([0.0, 0.0, 0.0, -1.0, -3.0, -6.0])
    assert fastai_slide(lrs, rec, num_it=num_it, lr_diff=2, thresh=0.6) == pytest.approx(lrs[1])
    # With the default lr_diff = 15, fastai needs 16 points (it would raise IndexError).
    lrs, rec, num_it = as_recorded([float(-i) for i in range(15)])
    assert fastai_slide(lrs, rec, num_it=num_it) is None


def test_torch_lr_finder_rule_by_hand() -> None:
    # Trimmed to [5, 4, 2, 1.9]; np.gradient = [-1, -1.5, -1.05, -0.1] → trimmed index 1 → lr[2].
    lrs = decades(6)
    losses = [9.0, 5.0, 4.0, 2.0, 1.9, 8.0]
    assert torch_lr_finder_steepest(lrs, losses, skip_start=1, skip_end=1) == lrs[2]
    assert torch_lr_finder_steepest(lrs, losses, skip_start=3, skip_end=2) is None  # < 3+2+2
    with pytest.raises(LrlabError):
        torch_lr_finder_steepest(lrs, losses, skip_start=-1)


def _real_torch_lr_finder(lrs: list[float], losses: list[float], **skips: int) -> float:
    import matplotlib.pyplot as plt
    from torch_lr_finder import LRFinder

    model = torch.nn.Linear(1, 1)
    finder = LRFinder(model, torch.optim.SGD(model.parameters(), lr=1e-3), torch.nn.MSELoss())
    finder.history = {"lr": list(lrs), "loss": list(losses)}
    fig, ax = plt.subplots()
    try:
        _, lr = finder.plot(suggest_lr=True, ax=ax, **skips)
    finally:
        plt.close(fig)
    return lr


def test_torch_lr_finder_rule_matches_the_real_package_on_random_curves() -> None:
    rng = np.random.default_rng(7)
    for n in (17, 100):
        for _ in range(3):
            lrs = list(np.logspace(-6, 1, n))
            losses = list(torch_lr_finder_smooth(2 + rng.normal(0, 0.5, n).cumsum()))
            for skips in ({}, {"skip_start": 3, "skip_end": 0}):
                expected = _real_torch_lr_finder(lrs, losses, **skips)
                assert torch_lr_finder_steepest(lrs, losses, **skips) == expected
    # A NaN in its history (it does not stop on NaN): both land on the first NaN gradient.
    lrs = list(np.logspace(-6, 1, 30))
    losses = [2.0 - 0.05 * i for i in range(30)]
    losses[20] = float("nan")
    assert torch_lr_finder_steepest(lrs, losses) == _real_torch_lr_finder(lrs, losses) == lrs[19]


def test_torch_lr_finder_smoothing_matches_the_real_range_test(monkeypatch) -> None:
    from torch_lr_finder import LRFinder

    raw = [2.0, 1.9, 2.2, 1.5, 1.0, 0.8, 1.2, 3.0, 9.0, 30.0, 90.0, 200.0, 500.0]
    model = torch.nn.Linear(1, 1)
    finder = LRFinder(model, torch.optim.SGD(model.parameters(), lr=1e-3), torch.nn.MSELoss())
    feed = iter(raw)
    monkeypatch.setattr(finder, "_train_batch", lambda *args, **kwargs: next(feed))
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(4, 1)), 1)
    finder.range_test(data, start_lr=1e-4, end_lr=1.0, num_iter=len(raw), smooth_f=0.3)
    ours = torch_lr_finder_smooth(raw, smooth_f=0.3)
    got = finder.history["loss"]
    # It stops once the smoothed loss exceeds 5x the best, keeping that last point.
    assert 0 < len(got) < len(raw)
    np.testing.assert_allclose(got, ours[: len(got)], rtol=0, atol=1e-12)


def test_lightning_rule_by_hand() -> None:
    # Slice [1:-1]: lr [2, 3, 5, 8], loss [1, 0, -4, -6]. Non-uniform central differences:
    # edge -1; at 3: (1·-4 - 4·1 + 3·0)/(1·2·3) = -1.33; at 5: (4·-6 - 9·0 + 5·-4)/(2·3·5) = -1.47;
    # edge (-6+4)/3 = -0.67 → lr 5.
    lrs = [1.0, 2.0, 3.0, 5.0, 8.0, 9.0]
    losses = [0.0, 1.0, 0.0, -4.0, -6.0, 0.0]
    assert lightning_suggestion(lrs, losses, skip_begin=1, skip_end=1) == 5.0
    # Unit spacing (before Lightning 2.5.3): gradient [-1, -2.5, -3, -2] → index 2 + 1 → lr 5.
    assert lightning_suggestion(lrs, losses, 1, 1, spacing="index") == 5.0
    # Per step the drop 1 → 0 → -4 is steepest at lr 3 once lr 5's loss is shallower.
    flat = [0.0, 1.0, 0.0, -4.0, -4.5, 0.0]
    assert lightning_suggestion(lrs, flat, 1, 1, spacing="index") == 3.0
    assert lightning_suggestion(lrs, losses, skip_begin=1, skip_end=0) is None  # [1:-0] is empty
    assert lightning_suggestion(lrs[:3], losses[:3], skip_begin=1, skip_end=1) is None


def _lightning_reference(lrs: list[float], losses: list[float], b: int, e: int) -> float:
    """Lightning 2.5.3+'s `suggestion` restated in torch, as Lightning computes it."""
    y = torch.tensor(losses[b:-e])
    x = torch.tensor(lrs[b:-e])
    finite = torch.isfinite(y)
    grads = torch.gradient(y[finite], spacing=[x[finite]])[0]
    kept = torch.arange(len(losses))[b:-e][finite]
    return lrs[kept[torch.argmin(grads).item()].item()]


def test_lightning_rule_matches_torch_gradient_on_random_curves_with_nans() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(15, 120))
        lrs = [float(v) for v in np.logspace(-7, 0, n)]
        losses = [float(v) for v in 3 + rng.normal(0, 0.3, n).cumsum()]
        for i in rng.integers(0, n, 3):
            losses[int(i)] = float("nan")
        assert lightning_suggestion(lrs, losses) == _lightning_reference(lrs, losses, 10, 1)


def sigmoid_curve(u: np.ndarray, centre: float) -> np.ndarray:
    """Loss falling by 2 around ``centre`` (decades), exploding 1.5 decades later."""
    return 2.3 - 2.0 / (1 + np.exp(-(u - centre) / 0.35)) + 0.3 * np.exp((u - centre - 1.5) / 0.3)


def true_steepest(centre: float) -> float:
    u = np.linspace(-7, 1, 16001)
    c = sigmoid_curve(u, centre)
    g = np.gradient(c, u)
    return float(u[np.argmin(g[: np.argmin(c)])])


@pytest.mark.parametrize("centre", [-4.0, -2.7, -1.6])
def test_lrlab_rule_finds_the_steepest_point_of_a_clean_curve(centre: float) -> None:
    u = np.linspace(-7, 1, 100)
    got = lrlab_steepest(10**u, sigmoid_curve(u, centre))
    assert got is not None
    assert abs(np.log10(got) - true_steepest(centre)) < 0.05


def test_lrlab_midpoint_by_hand() -> None:
    # A straight fall from 4 to 0 over lr 1e-4 … 1e-2 (then flat, then up): no noise, so the
    # smoothed curve is the curve; the plateau is 4, the minimum 0, the half level 2 is crossed
    # at 1e-3 exactly.
    u = np.linspace(-6, 0, 61)
    loss = np.interp(u, [-6, -4, -2, -1, 0], [4.0, 4.0, 0.0, 0.0, 9.0])
    got = lrlab_midpoint(10**u, loss, window_decades=0.45)
    assert got is not None and abs(np.log10(got) - (-3)) < 0.02
    assert lrlab_midpoint(10**u, np.ones(61)) is None


def test_lrlab_midpoint_is_on_the_steepest_point_of_a_symmetric_descent() -> None:
    u = np.linspace(-7, 1, 100)
    pure = 2.3 - 2.0 / (1 + np.exp(-(u + 3) / 0.35))  # no explosion: symmetric about 1e-3
    assert abs(np.log10(lrlab_midpoint(10**u, pure)) - (-3)) < 0.03


def test_lrlab_rule_declines_curves_without_a_descent() -> None:
    u = np.linspace(-7, 1, 100)
    assert lrlab_steepest(10**u, 1 + 0.1 * np.exp(u)) is None  # only rises
    assert lrlab_steepest(10**u, np.ones(100)) is None
    assert lrlab_steepest([1e-3, 1e-2, 1e-1, 1.0], [3.0, 2.0, 1.0, 5.0]) is None  # 4 points


def test_registry_names_and_weights() -> None:
    assert set(METHODS) == {
        "fastai_valley",
        "fastai_steep",
        "fastai_minimum",
        "fastai_slide",
        "torch_lr_finder",
        "lightning",
        "lrlab",
        "lrlab_midpoint",
    }
    assert all(m.source and m.smoothing for m in METHODS.values())
    lag_free = {"lrlab", "lrlab_midpoint"}
    tools = max(m.weight for k, m in METHODS.items() if k not in lag_free)
    assert all(METHODS[k].weight > tools for k in lag_free)
