"""The tricks of He et al. 2019, "Bag of Tricks for Image Classification with CNNs", as small pure
functions so each one can be checked against the paper's formula on its own.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional

from lrlab.core.errors import LrlabError


def smoothed_targets(targets: torch.Tensor, num_classes: int, epsilon: float) -> torch.Tensor:
    """q_i = 1 − ε for the true class and ε/K elsewhere plus ε/K on it (PyTorch's convention)."""
    one_hot = functional.one_hot(targets, num_classes).float()
    return one_hot * (1.0 - epsilon) + epsilon / num_classes


def soft_cross_entropy(logits: torch.Tensor, target_probs: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of −Σ q·log softmax(z): cross-entropy against a distribution."""
    return -(target_probs * functional.log_softmax(logits.float(), dim=1)).sum(dim=1).mean()


def mixup_lambda(alpha: float, rng: np.random.Generator) -> float:
    """λ ~ Beta(α, α) from the run's own generator, so a seed reproduces the mixing."""
    if alpha <= 0:
        raise LrlabError(f"tricks.mixup: alpha must be > 0, got {alpha}")
    return float(rng.beta(alpha, alpha))


def mixup(
    x: torch.Tensor, y: torch.Tensor, lam: float, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mix a batch with a shuffled copy of itself: x̂ = λ·x_i + (1−λ)·x_j.

    Returns (mixed x, y_a, y_b); the loss is λ·ℓ(y_a) + (1−λ)·ℓ(y_b).
    """
    index = torch.randperm(x.shape[0], generator=generator).to(x.device)
    mixed = lam * x + (1.0 - lam) * x[index]
    return mixed, y, y[index]


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    target_probs: torch.Tensor,
    *,
    temperature: float,
    weight: float,
) -> torch.Tensor:
    """ℓ(p, softmax(z)) + weight·T²·ℓ(softmax(r/T), softmax(z/T)) (paper §5.3, Hinton et al.).

    ℓ is cross-entropy; the T² factor keeps the soft term's gradient scale independent of T.
    """
    if temperature <= 0:
        raise LrlabError(f"tricks.distillation.temperature must be > 0, got {temperature}")
    hard = soft_cross_entropy(student_logits, target_probs)
    teacher_probs = functional.softmax(teacher_logits.float() / temperature, dim=1)
    soft = soft_cross_entropy(student_logits.float() / temperature, teacher_probs)
    return hard + weight * temperature**2 * soft
