"""Bag-of-Tricks pieces against hand-computed values and PyTorch's own implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional

from lrlab.core.errors import LrlabError
from lrlab.tasks.image.tricks import (
    distillation_loss,
    mixup,
    mixup_lambda,
    smoothed_targets,
    soft_cross_entropy,
)
from lrlab.tasks.optimizers import param_groups


def _model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 3)
    )


def test_no_bias_decay_decays_only_conv_and_linear_weights() -> None:
    model = _model()
    groups = param_groups(model, 5e-4, no_bias_decay=True)
    decayed = {id(p) for p in groups[0]["params"]}
    assert groups[0]["weight_decay"] == 5e-4 and groups[1]["weight_decay"] == 0.0
    assert decayed == {id(model[0].weight), id(model[4].weight)}
    excluded = {id(p) for p in groups[1]["params"]}
    assert excluded == {
        id(model[0].bias),
        id(model[1].weight),
        id(model[1].bias),
        id(model[4].bias),
    }


def test_without_no_bias_decay_every_parameter_is_decayed() -> None:
    model = _model()
    groups = param_groups(model, 1e-4, no_bias_decay=False)
    assert len(groups) == 1
    assert len(groups[0]["params"]) == len(list(model.parameters()))


def test_label_smoothing_matches_hand_values_and_torch() -> None:
    q = smoothed_targets(torch.tensor([1]), 4, 0.1)
    assert torch.allclose(q, torch.tensor([[0.025, 0.925, 0.025, 0.025]]))
    logits = torch.tensor([[1.0, 2.0, 0.0, -1.0]])
    logp = [
        v - math.log(sum(math.exp(u) for u in [1.0, 2.0, 0.0, -1.0])) for v in [1.0, 2.0, 0.0, -1.0]
    ]
    hand = -(0.925 * logp[1] + 0.025 * (logp[0] + logp[2] + logp[3]))
    assert soft_cross_entropy(logits, q).item() == pytest.approx(hand, rel=1e-6)
    z = torch.randn(8, 5)
    y = torch.randint(0, 5, (8,))
    ref = nn.CrossEntropyLoss(label_smoothing=0.1)(z, y)
    assert torch.allclose(soft_cross_entropy(z, smoothed_targets(y, 5, 0.1)), ref, atol=1e-6)


def test_mixup_mixes_inputs_with_a_permutation() -> None:
    x = torch.arange(4.0).reshape(4, 1)
    y = torch.tensor([0, 1, 2, 3])
    mixed, ya, yb = mixup(x, y, 0.3, torch.Generator().manual_seed(0))
    assert torch.equal(ya, y) and sorted(yb.tolist()) == [0, 1, 2, 3]
    assert torch.allclose(mixed[:, 0], 0.3 * y.float() + 0.7 * yb.float())
    lams = [mixup_lambda(0.2, np.random.default_rng(s)) for s in range(3)]
    assert all(0.0 <= v <= 1.0 for v in lams)
    assert mixup_lambda(0.2, np.random.default_rng(1)) == mixup_lambda(
        0.2, np.random.default_rng(1)
    )
    with pytest.raises(LrlabError, match="alpha"):
        mixup_lambda(0.0, np.random.default_rng(0))


def test_distillation_loss_matches_formula() -> None:
    z = torch.tensor([[2.0, 0.0, -1.0]])
    r = torch.tensor([[1.0, 1.5, 0.0]])
    p = functional.one_hot(torch.tensor([0]), 3).float()
    t = 2.0
    hard = -functional.log_softmax(z, 1)[0, 0]
    teacher = functional.softmax(r / t, 1)
    soft = -(teacher * functional.log_softmax(z / t, 1)).sum()
    expected = hard + 0.5 * t * t * soft
    got = distillation_loss(z, r, p, temperature=t, weight=0.5)
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(LrlabError, match="temperature"):
        distillation_loss(z, r, p, temperature=0.0, weight=1.0)
