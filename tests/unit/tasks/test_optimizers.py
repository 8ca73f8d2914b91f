"""SGDW (Loshchilov & Hutter 2019, Algorithm 1): decay multiplied by the schedule multiplier ηₜ,
not folded into the gradient. Checked on hand-worked updates and against torch.optim.SGD."""

from __future__ import annotations

import pytest
import torch

from lrlab.tasks.image.models import build_model
from lrlab.tasks.optimizers import SGDW, create_optimizer


def _quadratic_steps(optimizer: torch.optim.Optimizer, theta: torch.nn.Parameter, steps: int,
                     scheduler=None) -> list[list[float]]:
    """f(θ) = ½‖θ‖², so the gradient is θ itself: every update can be worked by hand."""
    seen = []
    for _ in range(steps):
        optimizer.zero_grad()
        (0.5 * theta.pow(2).sum()).backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        seen.append(theta.detach().tolist())
    return seen


def test_two_updates_match_algorithm_1_worked_by_hand() -> None:
    # α = 0.1, β1 = 0.9, λ = 0.01, ηₜ = 1; θ0 = (1, -2).
    # t=1: g = θ0, m1 = α·g = (0.1, -0.2), θ1 = θ0 − m1 − λθ0 = (0.89, -1.78)
    # t=2: g = θ1, m2 = 0.9·m1 + α·θ1 = (0.179, -0.358), θ2 = θ1 − m2 − λθ1 = (0.7021, -1.4042)
    theta = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    seen = _quadratic_steps(SGDW([theta], lr=0.1, momentum=0.9, weight_decay=0.01), theta, 2)
    assert seen[0] == pytest.approx([0.89, -1.78], abs=1e-15)
    assert seen[1] == pytest.approx([0.7021, -1.4042], abs=1e-15)


def test_the_decay_follows_the_schedule_multiplier_not_the_gradient() -> None:
    """Under a scheduler at half its base LR (ηₜ = 0.5), the decay removes ηₜ·λ·θ: exactly the
    gap between SGDW(λ) and SGDW(0) from the same state, whatever the gradient."""
    def run(decay: float) -> list[list[float]]:
        theta = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
        optimizer = SGDW([theta], lr=0.1, momentum=0.9, weight_decay=decay)
        halve = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 1.0 if t == 0 else 0.5)
        return _quadratic_steps(optimizer, theta, 2, halve)

    with_decay, without = run(0.01), run(0.0)
    # Step 1 (ηₜ = 1): θ1 = (0.89, -1.78) as in Algorithm 1; without decay (0.9, -1.8).
    assert with_decay[0] == pytest.approx([0.89, -1.78], abs=1e-15)
    # Step 2 (lr 0.05, ηₜ = 0.5): buffer v2 = 0.9·θ0 + θ1; θ2 = θ1·(1 − 0.5·0.01) − 0.05·v2
    v2 = [0.9 * 1.0 + 0.89, 0.9 * -2.0 - 1.78]
    expected = [0.89 * 0.995 - 0.05 * v2[0], -1.78 * 0.995 - 0.05 * v2[1]]
    assert with_decay[1] == pytest.approx(expected, abs=1e-15)
    assert without[1] != pytest.approx(with_decay[1])


@pytest.mark.parametrize("nesterov", [False, True])
def test_with_no_decay_it_is_torch_sgd_exactly(nesterov: bool) -> None:
    """Same model, data and 1cycle schedule (LR and momentum cycling): identical weights."""
    def train(make) -> list[torch.Tensor]:
        torch.manual_seed(0)
        model = build_model("small_cnn", num_classes=10, in_channels=1, image_size=8, width=4)
        optimizer = make(model.parameters())
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.5, total_steps=30)
        data = torch.Generator().manual_seed(1)
        for _ in range(30):
            x = torch.randn(16, 1, 8, 8, generator=data)
            y = torch.randint(0, 10, (16,), generator=data)
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            scheduler.step()
        return [p.detach().clone() for p in model.parameters()]

    ours = train(lambda p: SGDW(p, lr=0.1, momentum=0.9, nesterov=nesterov, weight_decay=0.0))
    torch_sgd = train(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=nesterov))
    for a, b in zip(ours, torch_sgd, strict=True):
        assert torch.equal(a, b)


def test_a_range_test_sweep_keeps_the_decay_fixed() -> None:
    """No scheduler records initial_lr while the finder sweeps the LR: ηₜ stays 1, so the decay
    per update is λ whatever LR is being tried (the decoupling the paper is about)."""
    theta = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    optimizer = SGDW([theta], lr=1e-6, momentum=0.0, weight_decay=0.1)
    for lr in (1e-6, 1e-3, 1.0):
        optimizer.param_groups[0]["lr"] = lr
        assert SGDW.decay_multiplier(optimizer.param_groups[0]) == 1.0
    optimizer.param_groups[0]["lr"] = 0.0
    theta.grad = torch.zeros(1, dtype=torch.float64)
    optimizer.step()
    assert theta.item() == pytest.approx(0.9)  # lr 0, yet the decay still applied: λ·1


def test_build_optimizer_makes_sgdw_with_the_no_bias_decay_groups() -> None:
    model = build_model("small_cnn", num_classes=10, in_channels=1, image_size=8, width=4)
    optimizer = create_optimizer(model, {"name": "sgdw", "momentum": 0.9, "weight_decay": 5e-4,
                                        "nesterov": True}, 0.2, no_bias_decay=True)
    assert isinstance(optimizer, SGDW)
    decays = sorted(g["weight_decay"] for g in optimizer.param_groups)
    assert decays[0] == 0.0 and decays[-1] == 5e-4
    assert all(g["nesterov"] and g["lr"] == 0.2 for g in optimizer.param_groups)
