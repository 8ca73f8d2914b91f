"""The optimizer a setup names, built one way for the range test and for training, from its row
in the optimizer table (lrlab.core.optimizer_table).

A range test must step the optimizer the run will use: the same kind, momentum (β1), weight decay
and parameter groups, or its suggestion is for another optimizer.
"""

from __future__ import annotations

import contextlib
import importlib
import io
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from lrlab.core.errors import LrlabError
from lrlab.core.optimizer_table import OptimizerInfo, optimizer_info

ADAM_BETA2 = 0.999  # β2 when only momentum (β1) is given: one form serves SGD and Adam

# Modules whose `weight` is a multiplicative kernel that weight decay should regularise; every
# other parameter (biases, normalisation γ/β) is excluded under "no bias decay" (paper §3.1).
_DECAYED_MODULES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def param_groups(
    model: nn.Module, weight_decay: float, *, no_bias_decay: bool
) -> list[dict[str, object]]:
    """Optimizer groups; with `no_bias_decay` only conv/linear weights get weight decay.

    Groups are built from module types rather than parameter names, so a model that names its
    layers unusually is still split correctly.
    """
    if not no_bias_decay:
        return [
            {
                "params": [p for p in model.parameters() if p.requires_grad],
                "weight_decay": weight_decay,
            }
        ]
    decayed: list[nn.Parameter] = []
    seen: set[int] = set()
    for module in model.modules():
        if isinstance(module, _DECAYED_MODULES) and module.weight.requires_grad:
            decayed.append(module.weight)
            seen.add(id(module.weight))
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in seen]
    groups: list[dict[str, object]] = [{"params": decayed, "weight_decay": weight_decay}]
    if rest:
        groups.append({"params": rest, "weight_decay": 0.0})
    return groups


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


def optimizer_class(info: OptimizerInfo) -> type[torch.optim.Optimizer]:
    """The class a row names: "torch.optim.SGD", "prodigyopt.Prodigy", or a bare name defined
    in this module. An LR-free optimizer's package missing is one sentence naming the extra."""
    module, _, name = info.cls.rpartition(".")
    if not module:
        return globals()[name]
    try:
        return getattr(importlib.import_module(module), name)
    except ModuleNotFoundError:
        raise LrlabError(f"optimizer.name: {info.name} ({info.title}) needs the package "
                         f"{info.package}; pip install 'lrlab[lrfree]'") from None


def create_optimizer(
    model: nn.Module, settings: Mapping[str, Any], lr: float, *, no_bias_decay: bool
) -> torch.optim.Optimizer:
    """The optimizer an `optimizer` config section names, over the no-bias-decay groups when
    that trick is on; `momentum` is β1 for the Adam family unless `betas` is given."""
    groups = param_groups(model, settings["weight_decay"], no_bias_decay=no_bias_decay)
    return optimizer_over(groups, settings, lr)


def task_groups(model: nn.Module, groups: Any, weight_decay: float) -> list[dict[str, Any]]:
    """A task's own groups as the optimizer takes them: each group's ``lr_scale`` (a multiple
    of the schedule's LR, which the first group trains at) and ``weight_decay`` (the config's
    when absent); every trainable parameter in one group when the task gives none."""
    if not groups:
        return [{"params": [p for p in model.parameters() if p.requires_grad],
                 "weight_decay": weight_decay, "lr_scale": 1.0}]
    out = []
    for i, group in enumerate(groups):
        if not isinstance(group, Mapping) or "params" not in group:
            raise LrlabError(f"param_groups[{i}]: expected a dict with 'params', got "
                             f"{type(group).__name__}")
        unknown = set(group) - {"params", "lr_scale", "weight_decay"}
        if unknown:
            raise LrlabError(f"param_groups[{i}]: unknown key(s) {', '.join(sorted(unknown))}; "
                             "a group takes params, lr_scale and weight_decay")
        out.append({"params": list(group["params"]),
                    "weight_decay": float(group.get("weight_decay", weight_decay)),
                    "lr_scale": float(group.get("lr_scale", 1.0))})
    if out[0]["lr_scale"] != 1.0:  # schedules and the range test move the others with it
        raise LrlabError("param_groups[0]: the first group trains at the schedule's LR "
                         f"(lr_scale 1), got lr_scale {out[0]['lr_scale']:g}; give the other "
                         "groups their scale relative to it")
    return out


def optimizer_over(groups: list[dict[str, Any]], settings: Mapping[str, Any],
                   lr: float) -> torch.optim.Optimizer:
    """The optimizer `settings` names over `groups`, each at `lr` times its ``lr_scale``."""
    info = optimizer_info(settings["name"], "optimizer.name")
    groups = [{**{k: v for k, v in g.items() if k != "lr_scale"},
               "lr": lr * float(g.get("lr_scale", 1.0))} for g in groups]
    cls = optimizer_class(info)
    given = {"momentum": settings["momentum"], "nesterov": bool(settings.get("nesterov")),
             "weight_decay": settings["weight_decay"],
             "betas": tuple(settings.get("betas") or (settings["momentum"], ADAM_BETA2))}
    with contextlib.redirect_stdout(io.StringIO()):  # D-Adaptation prints its settings
        optimizer = cls(groups, lr=lr, **{k: given[k] for k in info.takes}, **dict(info.fixed))
    optimizer.lrlab_info = info  # what step_size and the averaged-weights switch read
    if info.averaged == "own":
        optimizer.train()  # Schedule-Free steps only in its train mode
    elif info.averaged == "polynomial":
        optimizer.lrlab_average = PolynomialAverage(optimizer)
    return optimizer


class PolynomialAverage:
    """Polynomial-decay averaging of an optimizer's parameters (Shamir & Zhang 2013), updated
    after every step: x̄ₜ = (1 − w)·x̄ₜ₋₁ + w·xₜ with w = (1 + γ)/(t + γ). DoG's authors evaluate
    DoG only at this average (their package's PolynomialDecayAverager, γ = 8, which averages a
    model copy; this keeps the parameters alone, BatchNorm's statistics being measured again
    at the average before each evaluation)."""

    def __init__(self, optimizer: torch.optim.Optimizer, gamma: float = 8.0) -> None:
        self.gamma, self.t = gamma, 1
        self.params = [p for g in optimizer.param_groups for p in g["params"]]
        self.average = [p.detach().clone() for p in self.params]
        optimizer.register_step_post_hook(lambda *_: self.update())

    @torch.no_grad()
    def update(self) -> None:
        w = (1.0 + self.gamma) / (self.t + self.gamma)
        for avg, p in zip(self.average, self.params, strict=True):
            avg.mul_(1.0 - w).add_(p.detach(), alpha=w)
        self.t += 1

    @torch.no_grad()
    def swap(self) -> None:
        """The average into the parameters and the parameters into the average: called once
        to evaluate, and again to train on from where training was."""
        for avg, p in zip(self.average, self.params, strict=True):
            held = p.detach().clone()
            p.copy_(avg)
            avg.copy_(held)


def info_of(optimizer: torch.optim.Optimizer) -> OptimizerInfo | None:
    """The table's row of an optimizer lrlab built (None for one built elsewhere)."""
    return getattr(optimizer, "lrlab_info", None)


def step_size(optimizer: torch.optim.Optimizer) -> float | None:
    """The step size an LR-free optimizer chose for the update it just made: Prodigy's and
    D-Adaptation's d·lr, DoG's η; None for the others (their step is the schedule's LR)."""
    info = info_of(optimizer)
    if info is None or info.step_size is None:
        return None
    group = optimizer.param_groups[0]
    if info.step_size == "d*lr":
        return float(group["d"]) * float(group["lr"])
    eta = group.get("eta")  # DoG sets it at its first step
    return None if eta is None else float(eta[0])
