"""What each LR-free baseline of an LR check means, in one table that the check's config, its
plan, the CLI, the LR Check page and the docs read: the optimizer it trains (a row of the
optimizer table, at that row's paper LR) and the schedule its authors recommend with it.

A baseline answers "would an optimizer with no LR to choose do as well as the tuned ladder?";
it trains the ladder's setup, budget, seeds and data order, and only the optimizer and its
schedule change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lrlab.core.optimizer_table import OPTIMIZERS, OptimizerInfo
from lrlab.core.validation import named_row


@dataclass(frozen=True)
class Baseline:
    """One baseline a ladder can add, and where its settings come from."""

    name: str  # what --baselines and check.baselines name
    optimizer: str  # its row of the optimizer table (which holds the LR and fixed arguments)
    # "warmup_constant": linear warmup from 0 over `warmup` of the updates, then constant;
    # "cosine": cosine annealing to 0 over the run; "setup": the ladder's own schedule moved
    # to the optimizer's LR; "constant": no schedule
    schedule: Literal["warmup_constant", "cosine", "setup", "constant"]
    warmup: float = 0.0  # share of the updates
    schedule_source: str = ""

    @property
    def info(self) -> OptimizerInfo:
        return OPTIMIZERS[self.optimizer]

    @property
    def title(self) -> str:
        return self.info.title


BASELINES: dict[str, Baseline] = {b.name: b for b in (
    Baseline("schedulefree", "schedulefree_adamw", "warmup_constant", warmup=0.05,
             schedule_source="its README recommends warmup (no length given): lrlab warms up "
                             "over 5 % of the updates, then holds the LR"),
    Baseline("prodigy", "prodigy", "cosine",
             schedule_source="its README: cosine annealing over all the updates, no warmup"),
    Baseline("dadapt", "dadapt_adam", "setup",
             schedule_source="its README: the schedule you would use anyway (the ladder's own, "
                             "peaking at LR 1.0)"),
    Baseline("dog", "dog", "constant",
             schedule_source="its paper: no schedule; evaluated at its polynomial-decay "
                             "average of the iterates (γ = 8), as its README insists"),
)}


def baseline_info(name: str, where: str = "baselines") -> Baseline:
    """The row of a name, or one sentence naming the field and the names there are."""
    return named_row(BASELINES, name, where)
