"""What each optimizer name means, in one table that validation, building, the advice and the
noise scale all read (timm's OptimInfo, for lrlab's optimizers).

A range test must step the optimizer its run will use, and its advice must scale the LR the way
that optimizer's LR scales with the batch: one row per name says both, so no reader keeps its own
list of names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lrlab.core.errors import LrlabError


@dataclass(frozen=True)
class OptimizerInfo:
    """One optimizer name and what it means."""

    name: str
    title: str
    cls: str  # "torch.optim.SGD", or a bare name: a class of lrlab.tasks.optimizers
    family: Literal["sgd", "adam"]  # `momentum` is SGD's momentum, or Adam's β1 (betas)
    decay: Literal["l2", "lr", "schedule"]  # what an update's weight decay removes: see DECAY
    scaling_rule: Literal["linear", "sqrt"]  # how its LR follows the batch (Goyal; Malladi)

    @property
    def has_betas(self) -> bool:
        return self.family == "adam"


OPTIMIZERS: dict[str, OptimizerInfo] = {info.name: info for info in (
    OptimizerInfo("sgd", "SGD", "torch.optim.SGD", "sgd", "l2", "linear"),
    OptimizerInfo("sgdw", "SGDW (decoupled weight decay)", "SGDW", "sgd", "schedule", "linear"),
    OptimizerInfo("adam", "Adam", "torch.optim.Adam", "adam", "l2", "sqrt"),
    OptimizerInfo("adamw", "AdamW", "torch.optim.AdamW", "adam", "lr", "sqrt"),
)}

# What each kind of weight decay removes per update (ηₜ: the schedule's multiplier).
DECAY = {
    "l2": "lr·λ (L2 in the gradient)",
    "lr": "lr·λ (decoupled, scaled by the LR)",
    "schedule": "λ·ηₜ (decoupled, scaled by the schedule multiplier)",
}


def optimizer_info(name: str, where: str = "optimizer") -> OptimizerInfo:
    """The row of a name, or one sentence naming the field and the names there are."""
    try:
        return OPTIMIZERS[name]
    except KeyError:
        raise LrlabError(f"{where}: expected one of {', '.join(OPTIMIZERS)}, "
                         f"got {name!r}") from None
