"""The range-test engine on tiny models and plain tensors: sweep grid, stop rules, state restore,
accumulation, mixed precision, GradScaler skips, validation and cancel."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from torch import nn

from lrlab.core.errors import LrlabError
from lrlab.core.reporting import MemoryReporter
from lrlab.finder.range_test import range_test, sweep_lrs


def _data(n_batches: int = 4, batch: int = 8, seed: int = 0) -> list[tuple[torch.Tensor, ...]]:
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(batch, 4, generator=g), torch.randint(0, 3, (batch,), generator=g))
            for _ in range(n_batches)]


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _assert_identical(before: dict[str, torch.Tensor], model: nn.Module) -> None:
    after = model.state_dict()
    assert before.keys() == after.keys()
    for key, value in before.items():
        assert torch.equal(value, after[key]), key


@pytest.mark.parametrize("mode", ["exp", "linear"])
def test_sweep_is_inclusive_and_follows_the_formula(mode: str) -> None:
    start, end, n = 1e-5, 1.0, 11
    want = [start * (end / start) ** (i / (n - 1)) if mode == "exp"
            else start + (end - start) * i / (n - 1) for i in range(n)]
    got = sweep_lrs(start, end, n, mode)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert got[0] == pytest.approx(start) and got[-1] == pytest.approx(end)
    model = _model()
    curve = range_test(model, torch.optim.SGD(model.parameters(), lr=0.1), _data(),
                       criterion=nn.CrossEntropyLoss(), start_lr=start, end_lr=end,
                       num_points=n, mode=mode, diverge_threshold=1e9)
    np.testing.assert_allclose(curve.lrs, want, rtol=1e-12)
    assert curve.stop_reason == "completed" and len(curve.losses) == n


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"start_lr": 1.0, "end_lr": 1.0}, "end_lr"),
    ({"start_lr": 0.0}, "start_lr"),
    ({"num_points": 4}, "num_points"),
    ({"mode": "cosine"}, "mode"),
])
def test_bad_sweep_settings_name_the_field(kwargs: dict, field: str) -> None:
    args = {"start_lr": 1e-3, "end_lr": 1.0, "num_points": 10, "mode": "exp", **kwargs}
    with pytest.raises(LrlabError, match=field):
        sweep_lrs(**args)


def test_param_group_ratios_are_kept_and_recorded() -> None:
    model = _model()
    opt = torch.optim.SGD([{"params": model[0].parameters(), "lr": 0.1},
                           {"params": model[3].parameters(), "lr": 0.01}], lr=0.1)
    curve = range_test(model, opt, _data(), criterion=nn.CrossEntropyLoss(), start_lr=1e-4,
                       end_lr=1e-1, num_points=6, diverge_threshold=1e9)
    for lr, (g0, g1) in zip(curve.lrs, curve.group_lrs, strict=True):
        assert g0 == pytest.approx(lr) and g1 == pytest.approx(lr / 10)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]  # restored


def test_stops_at_once_on_nan() -> None:
    model = _model()
    calls = []

    def step_fn(m: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        calls.append(1)
        loss = nn.functional.cross_entropy(m(batch[0]), batch[1])
        return loss * math.nan if len(calls) == 5 else loss

    curve = range_test(model, torch.optim.SGD(model.parameters(), lr=0.1), _data(),
                       step_fn=step_fn, start_lr=1e-4, end_lr=1e-2, num_points=20)
    assert curve.stop_reason == "nan"
    assert len(curve.losses) == 5 and math.isnan(curve.losses[-1])
    assert len(calls) == 5


class _Quadratic(nn.Module):
    """loss = w² − 10: negative near the optimum, diverges for lr > 1 (gradient descent on w²)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(3.0))

    def forward(self, _: torch.Tensor) -> torch.Tensor:
        return self.w ** 2 - 10.0


def test_divergence_with_negative_losses() -> None:
    model = _Quadratic()
    curve = range_test(model, torch.optim.SGD(model.parameters(), lr=0.1), [(torch.zeros(1),)],
                       step_fn=lambda m, b: m(b[0]), start_lr=1e-3, end_lr=1e3, num_points=60,
                       ema_beta=0.5)
    assert curve.stop_reason == "diverged"
    assert min(curve.losses) < 0
    # gradient descent on w² diverges once lr > 1; the stop must come after that, not before
    assert 1.0 < curve.lrs[-1] < 1e3
    assert model.w.item() == 3.0


def test_cancel_via_reporter_restores_state() -> None:
    model = _model()
    before = _state(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    reporter = MemoryReporter(stop_after_steps=3)
    curve = range_test(model, opt, _data(), criterion=nn.CrossEntropyLoss(), start_lr=1e-4,
                       end_lr=1.0, num_points=20, reporter=reporter)
    assert curve.stop_reason == "cancelled" and len(curve.losses) == 3
    assert [s for s, _ in reporter.steps] == [0, 1, 2]
    assert reporter.series("lr") == curve.lrs
    _assert_identical(before, model)
    assert opt.state_dict()["state"] == {}


def test_restore_is_bit_identical_with_optimizer_and_rng_state() -> None:
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    crit = nn.CrossEntropyLoss()
    x, y = _data(1)[0]
    crit(model(x), y).backward()
    opt.step()  # momentum buffers exist before the test
    before = _state(model)
    momentum = [opt.state[p]["momentum_buffer"].clone() for p in model.parameters()]
    torch.manual_seed(7)
    np.random.seed(7)
    random.seed(7)
    rng = (torch.rand(3), np.random.rand(), random.random())
    torch.manual_seed(7)
    np.random.seed(7)
    random.seed(7)
    model.eval()
    range_test(model, opt, _data(), criterion=crit, start_lr=1e-3, end_lr=10.0, num_points=10)
    _assert_identical(before, model)
    assert not model.training and not model[1].training
    for p, buf in zip(model.parameters(), momentum, strict=True):
        assert torch.equal(opt.state[p]["momentum_buffer"], buf)
    assert opt.param_groups[0]["lr"] == 0.05
    assert torch.equal(torch.rand(3), rng[0])
    assert np.random.rand() == rng[1] and random.random() == rng[2]


def test_restore_after_an_exception_in_step_fn() -> None:
    model = _model()
    before = _state(model)
    calls = []

    def step_fn(m: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("boom")
        return nn.functional.cross_entropy(m(batch[0]), batch[1])

    with pytest.raises(RuntimeError, match="boom"):
        range_test(model, torch.optim.SGD(model.parameters(), lr=0.1), _data(),
                   step_fn=step_fn, start_lr=1e-2, end_lr=10.0, num_points=10)
    _assert_identical(before, model)


def test_accumulation_advances_lr_once_per_optimizer_step() -> None:
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    seen_lrs: list[float] = []
    opt.register_step_post_hook(lambda o, *_: seen_lrs.append(o.param_groups[0]["lr"]))
    curve = range_test(model, opt, _data(batch=8), criterion=nn.CrossEntropyLoss(),
                       start_lr=1e-4, end_lr=1e-2, num_points=6, accumulation_steps=3,
                       batches_per_point=2, diverge_threshold=1e9)
    assert curve.effective_batch == 24
    assert len(seen_lrs) == 12  # 6 points × 2 optimizer steps, never one per micro-batch
    assert seen_lrs[::2] == pytest.approx(curve.lrs) and seen_lrs[1::2] == pytest.approx(curve.lrs)


def test_bf16_autocast_in_training_and_validation() -> None:
    model = _model()
    dtypes: list[tuple[bool, torch.dtype]] = []

    def step_fn(m: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        out = m(batch[0])
        dtypes.append((m.training, out.dtype))
        return nn.functional.cross_entropy(out.float(), batch[1])

    curve = range_test(model, torch.optim.SGD(model.parameters(), lr=0.1), _data(),
                       step_fn=step_fn, start_lr=1e-4, end_lr=1e-2, num_points=5,
                       precision="bf16", val_batches=_data(1, seed=1), val_every=2)
    assert {d for _, d in dtypes} == {torch.bfloat16}
    assert {t for t, _ in dtypes} == {True, False}
    assert curve.val_lrs == [curve.lrs[0], curve.lrs[2], curve.lrs[4]]
    assert all(math.isfinite(v) for v in curve.val_losses)


def test_validation_loss_matches_an_independent_evaluation() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))  # no BN: stats move
    val = _data(2, seed=3)
    curve = range_test(model, torch.optim.SGD(model.parameters(), lr=0.1), _data(),
                       criterion=nn.CrossEntropyLoss(), start_lr=1e-9, end_lr=1e-8,
                       num_points=5, val_batches=val, val_every=10)
    # at LRs of 1e-9 the weights barely move, so the first validation equals a direct one
    model.eval()
    with torch.no_grad():
        direct = np.mean([nn.functional.cross_entropy(model(x), y).item() for x, y in val])
    assert curve.val_lrs == [curve.lrs[0], curve.lrs[-1]]
    assert curve.val_losses[0] == pytest.approx(direct, rel=1e-5)


def test_grad_scaler_skips_are_detected_and_redone_at_the_same_lr() -> None:
    model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10, enabled=True)
    calls = []

    def step_fn(m: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        calls.append(1)
        out = m(batch[0])
        if len(calls) in (3, 4):  # a finite loss with infinite gradients, as fp16 overflow gives
            out.register_hook(lambda grad: grad * math.inf)
        return out.pow(2).mean()

    lrs_at_step: list[float] = []
    opt.register_step_pre_hook(lambda o, *_: lrs_at_step.append(o.param_groups[0]["lr"]))
    curve = range_test(model, opt, _data(), step_fn=step_fn, start_lr=1e-4, end_lr=1e-3,
                       num_points=5, grad_scaler=scaler, diverge_threshold=1e9)
    assert curve.skipped_steps == 2
    assert len(calls) == 7 and len(curve.losses) == 5
    assert scaler.get_scale() == 2.0**10  # restored
    assert lrs_at_step == pytest.approx(curve.lrs)  # optimizer.step ran only on real updates


def test_criterion_or_step_fn_exactly_one() -> None:
    model = _model()
    with pytest.raises(LrlabError, match="criterion or step_fn"):
        range_test(model, torch.optim.SGD(model.parameters(), lr=0.1), _data())


def test_several_data_orders_give_a_median_curve_and_band() -> None:
    from lrlab.finder.analysis import analyze

    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    curves = [range_test(model, opt, _data(8, seed=seed), criterion=nn.CrossEntropyLoss(),
                         start_lr=1e-4, end_lr=1.0, num_points=12, diverge_threshold=1e9)
              for seed in range(3)]
    # the same initial weights every time (restored), so the first losses differ only by data
    assert len({c.losses[0] for c in curves}) == 3
    analysis = analyze(curves[0].lrs, curves[0].losses,
                       curves=[(c.lrs, c.losses) for c in curves[1:]])
    stacked = np.array([c.losses for c in curves])
    np.testing.assert_allclose(analysis.losses, np.median(stacked, axis=0))
    np.testing.assert_allclose(analysis.band_low, stacked.min(axis=0))
    np.testing.assert_allclose(analysis.band_high, stacked.max(axis=0))
