"""What each optimizer name means, in one table that validation, building, the advice and the
noise scale all read (timm's OptimInfo, for lrlab's optimizers).

A range test must step the optimizer its run will use, and its advice must scale the LR the way
that optimizer's LR scales with the batch: one row per name says both, so no reader keeps its own
list of names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lrlab.core.validation import named_row


@dataclass(frozen=True)
class OptimizerInfo:
    """One optimizer name and what it means."""

    name: str
    title: str
    cls: str  # "torch.optim.SGD", "prodigyopt.Prodigy", or a bare name: lrlab.tasks.optimizers
    family: Literal["sgd", "adam"]  # `momentum` is SGD's momentum, or Adam's β1 (betas)
    decay: Literal["l2", "lr", "schedule"]  # what an update's weight decay removes: see DECAY
    scaling_rule: Literal["linear", "sqrt"]  # how its LR follows the batch (Goyal; Malladi)
    takes: tuple[str, ...] = ("momentum", "nesterov", "weight_decay")  # of the optimizer section
    # -- an optimizer that sets its own step size (an LR-free baseline) --------------------------
    lr_free: bool = False  # its `lr` is a multiplier of the step size it finds (1.0: as is)
    default_lr: float | None = None  # the paper's LR, what a baseline trains at
    fixed: tuple[tuple[str, object], ...] = ()  # constructor arguments its paper recommends
    step_size: Literal["d*lr", "eta"] | None = None  # the step size it chose, read per update
    # evaluated at averaged weights: "own" (Schedule-Free's optimizer.eval()), or "polynomial"
    # (an average lrlab keeps beside it: DoG's polynomial-decay averaging)
    averaged: Literal["own", "polynomial"] | None = None
    package: str | None = None  # the PyPI package it comes from (extra: lrlab[lrfree])
    source: str = ""  # where its defaults come from

    @property
    def schedule_note(self) -> str:
        """Why a schedule is not the whole story of the steps this optimizer takes ("" for
        the ones whose LR is their step): what exports and the Training page say."""
        if not self.lr_free:
            return ""
        if self.step_size is not None:
            return (f"{self.title} carries its own step size: the schedule's LR multiplies the "
                    f"one it estimates ({self.default_lr:g} takes it as found), so the schedule "
                    "is not the whole story; a run records the step size it chose (step_size).")
        return (f"{self.title} averages its iterates instead of decaying the LR: the schedule "
                "scales its steps, but the weights it is evaluated at are its average, so the "
                "schedule is not the whole story.")

    @property
    def has_betas(self) -> bool:
        return "betas" in self.takes

    @property
    def has_momentum(self) -> bool:
        """Whether it takes SGD's momentum or Adam's β1 (DoG takes neither)."""
        return self.has_betas or "momentum" in self.takes


ADAM = ("betas", "weight_decay")
OPTIMIZERS: dict[str, OptimizerInfo] = {info.name: info for info in (
    OptimizerInfo("sgd", "SGD", "torch.optim.SGD", "sgd", "l2", "linear"),
    OptimizerInfo("sgdw", "SGDW (decoupled weight decay)", "SGDW", "sgd", "schedule", "linear"),
    OptimizerInfo("adam", "Adam", "torch.optim.Adam", "adam", "l2", "sqrt", ADAM),
    OptimizerInfo("adamw", "AdamW", "torch.optim.AdamW", "adam", "lr", "sqrt", ADAM),
    OptimizerInfo("schedulefree_adamw", "Schedule-Free AdamW", "schedulefree.AdamWScheduleFree",
                  "adam", "lr", "sqrt", ADAM, lr_free=True, default_lr=0.0025, averaged="own",
                  package="schedulefree",
                  source="Defazio et al. 2024, 'The Road Less Scheduled'; its package's defaults "
                         "(lr 0.0025, betas 0.9/0.999, warmup)"),
    OptimizerInfo("schedulefree_sgd", "Schedule-Free SGD", "schedulefree.SGDScheduleFree",
                  "sgd", "lr", "linear", ("momentum", "weight_decay"), lr_free=True,
                  default_lr=1.0, averaged="own",
                  package="schedulefree",
                  source="Defazio et al. 2024; its package's defaults (lr 1.0, momentum 0.9, "
                         "warmup)"),
    OptimizerInfo("prodigy", "Prodigy", "prodigyopt.Prodigy", "adam", "lr", "sqrt", ADAM,
                  lr_free=True, default_lr=1.0, fixed=(("decouple", True),), step_size="d*lr",
                  package="prodigyopt",
                  source="Mishchenko & Defazio 2024, 'Prodigy'; its README (lr 1.0, decoupled "
                         "weight decay, cosine annealing)"),
    OptimizerInfo("dadapt_adam", "D-Adaptation Adam", "dadaptation.DAdaptAdam", "adam", "lr",
                  "sqrt", ADAM, lr_free=True, default_lr=1.0, fixed=(("decouple", True),),
                  step_size="d*lr", package="dadaptation",
                  source="Defazio & Mishchenko 2023, 'Learning-Rate-Free Learning by "
                         "D-Adaptation'; its README (lr 1.0, decoupled weight decay)"),
    OptimizerInfo("dog", "DoG", "dog.DoG", "sgd", "l2", "linear", ("weight_decay",),
                  lr_free=True, default_lr=1.0, averaged="polynomial",
                  fixed=(("reps_rel", 1e-6),), step_size="eta", package="dog-optimizer",
                  source="Ivgi, Hinder & Carmon 2023, 'DoG is SGD's Best Friend' (lr 1.0, "
                         "r_eps 1e-6, polynomial-decay averaging with gamma 8)"),
)}

# What each kind of weight decay removes per update (ηₜ: the schedule's multiplier).
DECAY = {
    "l2": "lr·λ (L2 in the gradient)",
    "lr": "lr·λ (decoupled, scaled by the LR)",
    "schedule": "λ·ηₜ (decoupled, scaled by the schedule multiplier)",
}


def optimizer_info(name: str, where: str = "optimizer") -> OptimizerInfo:
    """The row of a name, or one sentence naming the field and the names there are."""
    return named_row(OPTIMIZERS, name, where)
