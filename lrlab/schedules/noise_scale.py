"""What a schedule means for the updates' noise and decay, beside its LR (the Designer's panel).

Smith & Le (2018): SGD's noise scale is g = η·(N/B − 1), and η/(1 − m)·(N/B − 1) with momentum
m, for N training examples and batch B. It is what "a k× larger batch needs a k× larger LR"
keeps (nearly) constant, so two schedules with equal g train alike. Momentum averages the
gradients of about T = −1/ln m updates. The weight decay each update applies depends on the
optimizer: lr·λ for L2 (SGD, Adam) and AdamW, λ·ηₜ for SGDW (ηₜ the schedule multiplier).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from lrlab.core.optimizer_table import DECAY, OPTIMIZERS

# Each optimizer's decay per update, in words (the Designer's panel names them).
DECAY_RULES = {name: DECAY[info.decay] for name, info in OPTIMIZERS.items()}


def noise_scale(lr: ArrayLike, dataset_size: int, batch: ArrayLike,
                momentum: ArrayLike = 0.0) -> np.ndarray:
    """g = lr / (1 − m) · (N/B − 1) per step; `batch` and `momentum` may vary per step."""
    lr, batch, momentum = (np.asarray(v, dtype=np.float64) for v in (lr, batch, momentum))
    if dataset_size < 1 or np.any(batch < 1):
        raise ValueError("noise_scale: dataset_size and batch must be >= 1")
    if np.any((momentum < 0) | (momentum >= 1)):
        raise ValueError("noise_scale: momentum must be in [0, 1)")
    return lr / (1.0 - momentum) * (dataset_size / batch - 1.0)


def averaging_window(momentum: ArrayLike) -> np.ndarray:
    """T = −1/ln m: the updates over which momentum averages (0.9 → 9.5, 0.95 → 19.5)."""
    m = np.asarray(momentum, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(m > 0, -1.0 / np.log(np.where(m > 0, m, 0.5)), 0.0)


def decay_per_step(lr: ArrayLike, optimizer: str, weight_decay: float,
                   base_lr: float) -> np.ndarray:
    """The fraction of each weight an update's decay removes (see DECAY_RULES)."""
    if optimizer not in DECAY_RULES:
        raise ValueError(f"optimizer: expected one of {', '.join(DECAY_RULES)}, got {optimizer!r}")
    lr = np.asarray(lr, dtype=np.float64)
    if OPTIMIZERS[optimizer].decay == "schedule":
        return weight_decay * lr / base_lr
    return lr * weight_decay
