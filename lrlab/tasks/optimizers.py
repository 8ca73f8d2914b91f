"""The optimizer a setup names, built one way for the range test and for training.

A range test must step the optimizer the run will use: the same kind, momentum (β1), weight decay
and parameter groups, or its suggestion is for another optimizer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from lrlab.tasks.image.tricks import param_groups

ADAM_BETA2 = 0.999  # β2 when only momentum (β1) is given: one form serves SGD and Adam


class SGDW(torch.optim.Optimizer):
    """SGD with decoupled weight decay (Loshchilov & Hutter 2019, Algorithm 1).

    Each update is θ ← θ − lr·v − ηₜ·λ·θ with v the momentum buffer (PyTorch's form,
    v ← μ·v + g, optionally Nesterov) and ηₜ the schedule multiplier: the decay shrinks with the
    schedule but is not folded into the gradient, so it is not scaled by the LR itself. ηₜ is
    lr / initial_lr when a PyTorch scheduler drives the LR (it records initial_lr), else 1:
    a range test sweeping the LR keeps the decay fixed, as the paper's decoupling means.
    With λ = 0 this is torch.optim.SGD exactly.
    """

    def __init__(self, params: Any, lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False) -> None:
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError("SGDW: lr, momentum and weight_decay must be >= 0")
        if nesterov and momentum <= 0:
            raise ValueError("SGDW: Nesterov needs momentum > 0")
        super().__init__(params, {"lr": lr, "momentum": momentum,
                                  "weight_decay": weight_decay, "nesterov": nesterov})

    @staticmethod
    def decay_multiplier(group: Mapping[str, Any]) -> float:
        """ηₜ: where the schedule stands relative to its base LR."""
        initial = group.get("initial_lr")
        return group["lr"] / initial if initial else 1.0

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, mu, decay = group["lr"], group["momentum"], group["weight_decay"]
            shrink = 1.0 - self.decay_multiplier(group) * decay
            for p in group["params"]:
                if p.grad is None:
                    continue
                d_p = p.grad
                if mu:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = torch.clone(d_p).detach()
                    else:
                        buf.mul_(mu).add_(d_p)
                    d_p = d_p.add(buf, alpha=mu) if group["nesterov"] else buf
                if decay:
                    p.mul_(shrink)  # θ − ηₜλθ, on the θ of before this update
                p.add_(d_p, alpha=-lr)
        return loss


def build_optimizer(
    model: nn.Module, settings: Mapping[str, Any], lr: float, *, no_bias_decay: bool
) -> torch.optim.Optimizer:
    """SGD (momentum, Nesterov), SGDW, Adam or AdamW from an `optimizer` config section, over
    the no-bias-decay groups when that trick is on; `momentum` is β1 for the Adam family unless
    `betas` is given."""
    wd = settings["weight_decay"]
    groups = param_groups(model, wd, no_bias_decay=no_bias_decay)
    if settings["name"] in ("sgd", "sgdw"):
        cls = torch.optim.SGD if settings["name"] == "sgd" else SGDW
        return cls(groups, lr=lr, momentum=settings["momentum"],
                   nesterov=bool(settings.get("nesterov")), weight_decay=wd)
    betas = tuple(settings.get("betas") or (settings["momentum"], ADAM_BETA2))
    cls = torch.optim.Adam if settings["name"] == "adam" else torch.optim.AdamW
    return cls(groups, lr=lr, betas=betas, weight_decay=wd)
