"""What one training update minimises: cross-entropy with the paper's label smoothing, mixup
and knowledge distillation composed, plus the hits that make the training accuracy.

The baseline takes PyTorch's fused cross-entropy; soft targets are only built when a trick
needs them, so switching every trick off costs nothing over a plain loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from lrlab.tasks.image.tricks import (
    distillation_loss,
    mixup,
    mixup_lambda,
    smoothed_targets,
    soft_cross_entropy,
)


@dataclass
class Objective:
    """`objective(model, x, y) -> (loss, hits)`, hits being correct predictions in the batch.

    With mixup the targets are λ·q(y_a) + (1 − λ)·q(y_b); cross-entropy is linear in its target,
    so this equals the paper's λ·ℓ(y_a) + (1 − λ)·ℓ(y_b). A hit is a prediction equal to the
    label that dominates the mixed image.
    """

    num_classes: int
    label_smoothing: float = 0.0
    mixup_alpha: float = 0.0
    teacher: nn.Module | None = None
    temperature: float = 1.0
    distillation_weight: float = 1.0
    seed: int = 0
    _rng: np.random.Generator = field(init=False, repr=False)
    _generator: torch.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng([self.seed, 0x6D6978])  # own stream: "mix"
        self._generator = torch.Generator().manual_seed(self.seed)
        if self.teacher is not None:
            self.teacher.eval()
            for p in self.teacher.parameters():
                p.requires_grad_(False)

    @property
    def plain(self) -> bool:
        return self.mixup_alpha == 0 and self.teacher is None

    def __call__(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.plain:
            logits = model(x)
            loss = functional.cross_entropy(logits.float(), y,
                                            label_smoothing=self.label_smoothing)
            return loss, (logits.argmax(1) == y).sum()
        targets = smoothed_targets(y, self.num_classes, self.label_smoothing)
        dominant = y
        if self.mixup_alpha > 0:
            lam = mixup_lambda(self.mixup_alpha, self._rng)
            x, y_a, y_b = mixup(x, y, lam, self._generator)
            targets = lam * targets + (1.0 - lam) * smoothed_targets(
                y_b, self.num_classes, self.label_smoothing)
            dominant = y_a if lam >= 0.5 else y_b
        logits = model(x)
        if self.teacher is None:
            loss = soft_cross_entropy(logits, targets)
        else:
            with torch.no_grad():
                teacher_logits = self.teacher(x)
            loss = distillation_loss(logits, teacher_logits, targets,
                                     temperature=self.temperature,
                                     weight=self.distillation_weight)
        return loss, (logits.argmax(1) == dominant).sum()
