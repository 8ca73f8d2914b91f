"""The optimizer a setup names, built one way for the range test and for training.

A range test must step the optimizer the run will use: the same kind, momentum (β1), weight decay
and parameter groups, or its suggestion is for another optimizer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from lrlab.train.tricks import param_groups

ADAM_BETA2 = 0.999  # β2 when only momentum (β1) is given: one form serves SGD and Adam


def build_optimizer(
    model: nn.Module, settings: Mapping[str, Any], lr: float, *, no_bias_decay: bool
) -> torch.optim.Optimizer:
    """SGD (momentum, Nesterov), Adam or AdamW from an `optimizer` config section, over the
    no-bias-decay groups when that trick is on; `momentum` is β1 for the Adam family unless
    `betas` is given."""
    wd = settings["weight_decay"]
    groups = param_groups(model, wd, no_bias_decay=no_bias_decay)
    if settings["name"] == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=settings["momentum"],
                               nesterov=bool(settings.get("nesterov")), weight_decay=wd)
    betas = tuple(settings.get("betas") or (settings["momentum"], ADAM_BETA2))
    cls = torch.optim.Adam if settings["name"] == "adam" else torch.optim.AdamW
    return cls(groups, lr=lr, betas=betas, weight_decay=wd)
