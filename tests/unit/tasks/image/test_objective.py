"""The training objective against PyTorch's cross-entropy and the paper's formulas: label
smoothing, mixup recovered from the mixed images themselves, distillation, and the hits."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional

from lrlab.core.precision import Precision
from lrlab.tasks.image.objective import Objective

K = 5


def _batch(n: int = 8, seed: int = 0) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    model = nn.Linear(n, K)
    x = torch.eye(n)  # one-hot rows: a mixed row shows its λ and its partner directly
    y = torch.randint(0, K, (n,))
    return model, x, y


def test_plain_objective_is_torch_cross_entropy_with_smoothing() -> None:
    model, x, y = _batch()
    for eps in (0.0, 0.1):
        loss, hits = Objective(num_classes=K, label_smoothing=eps)(model, x, y)
        logits = model(x)
        assert loss.item() == pytest.approx(
            functional.cross_entropy(logits, y, label_smoothing=eps).item(), rel=1e-6)
        assert hits.item() == (logits.argmax(1) == y).sum().item()


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_mixup_loss_is_lambda_weighted_cross_entropy_of_both_labels(eps: float) -> None:
    model, x, y = _batch()
    seen: list[torch.Tensor] = []
    model.register_forward_pre_hook(lambda _m, args: seen.append(args[0].clone()))
    objective = Objective(num_classes=K, label_smoothing=eps, mixup_alpha=0.4, seed=3)
    for _ in range(5):  # several draws of λ and of the partner permutation
        seen.clear()
        loss, hits = objective(model, x, y)
        mixed = seen[0]
        partner = torch.empty_like(y)
        lam = None
        for i, row in enumerate(mixed):
            others = [j for j in row.nonzero().flatten().tolist() if j != i]
            partner[i] = others[0] if others else i
            if others:
                lam = row[i].item()
        assert lam is not None and 0 < lam < 1
        torch.testing.assert_close(mixed, lam * x + (1 - lam) * x[partner])
        logits = model(mixed)
        expected = (lam * functional.cross_entropy(logits, y, label_smoothing=eps)
                    + (1 - lam) * functional.cross_entropy(logits, y[partner],
                                                           label_smoothing=eps))
        assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
        dominant = y if lam >= 0.5 else y[partner]
        assert hits.item() == (logits.argmax(1) == dominant).sum().item()


def test_mixup_is_reproducible_from_the_seed() -> None:
    model, x, y = _batch()

    def losses(seed: int) -> list[float]:
        objective = Objective(num_classes=K, mixup_alpha=0.2, seed=seed)
        return [objective(model, x, y)[0].item() for _ in range(3)]

    assert losses(7) == losses(7) and losses(7) != losses(8)


def test_distillation_objective_matches_the_papers_formula() -> None:
    model, x, y = _batch()
    torch.manual_seed(1)
    teacher = nn.Linear(8, K)
    T, w, eps = 4.0, 0.5, 0.1
    loss, _ = Objective(num_classes=K, label_smoothing=eps, teacher=teacher, temperature=T,
                        distillation_weight=w)(model, x, y)
    z, r = model(x), teacher(x)
    hard = functional.cross_entropy(z, y, label_smoothing=eps)
    soft = -(torch.softmax(r / T, 1) * torch.log_softmax(z / T, 1)).sum(1).mean()
    assert loss.item() == pytest.approx((hard + w * T * T * soft).item(), rel=1e-5)
    assert not any(p.requires_grad for p in teacher.parameters()) and not teacher.training


def test_bf16_autocast_on_cpu_runs_the_model_in_bf16() -> None:
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, K))
    dtypes: list[torch.dtype] = []
    model[0].register_forward_hook(lambda _m, _i, out: dtypes.append(out.dtype))
    x, y = torch.randn(4, 1, 8, 8), torch.randint(0, K, (4,))
    with Precision("bf16", "cpu").autocast():
        loss, _ = Objective(num_classes=K, label_smoothing=0.1)(model, x, y)
    assert dtypes == [torch.bfloat16] and loss.dtype == torch.float32
    reference = functional.cross_entropy(model(x), y, label_smoothing=0.1)
    assert loss.item() == pytest.approx(reference.item(), rel=3e-2)
