"""The parameters of every `lrlab.schedule/1` main kind, in one table.

The validator, the defaults filled in on load, the Schedule Designer's widgets and the exporters
all read this table, so a kind's fields, limits and help text are written down exactly once.
Cross-field rules (min_lr below base_lr, increasing milestones, ...) live in the validator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FORMAT = "lrlab.schedule/1"


@dataclass(frozen=True)
class Field:
    """One parameter of a kind: its type, default, allowed range and a line of help."""

    name: str
    type: str  # "int", "float", "bool", "choice", "int_list", "float_list", "optional_int"
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    choices: tuple[str, ...] = ()

    def describe_range(self) -> str:
        """Human wording of the allowed range, used in validation messages."""
        if self.type == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        lo = hi = ""
        if self.minimum is not None:
            lo = f"{'>' if self.exclusive_minimum else '>='} {self.minimum:g}"
        if self.maximum is not None:
            hi = f"{'<' if self.exclusive_maximum else '<='} {self.maximum:g}"
        return " and ".join(p for p in (lo, hi) if p) or "any value"


@dataclass(frozen=True)
class KindSpec:
    """A main kind: its fields, whether it has a horizon, and its PyTorch twin if any."""

    name: str
    title: str
    summary: str
    fields: tuple[Field, ...]
    has_horizon: bool  # holds its final value past total_steps
    own_warmup: bool = False  # onecycle / cyclic: a warmup block is an error
    cycles_momentum: bool = False
    torch_twin: str | None = None  # name in torch.optim.lr_scheduler

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        return {f.name: f.default for f in self.fields}


def _gamma(default: float, help_: str) -> Field:
    return Field("gamma", "float", default, help_, minimum=0.0, exclusive_minimum=True)


_MIN_LR = Field(
    "min_lr", "float", 0.0, "LR reached at the end of the decay (absolute).", minimum=0.0
)

_MOMENTUM_CYCLE = (
    Field("cycle_momentum", "bool", True, "Cycle momentum inversely to the LR."),
    Field("base_momentum", "float", 0.85, "Momentum at the LR peak.", minimum=0.0, maximum=1.0),
    Field("max_momentum", "float", 0.95, "Momentum at the LR trough.", minimum=0.0, maximum=1.0),
)

KINDS: dict[str, KindSpec] = {
    k.name: k
    for k in (
        KindSpec(
            "constant",
            "Constant",
            "Stays at base_lr.",
            (),
            has_horizon=False,
            torch_twin="ConstantLR",
        ),
        KindSpec(
            "step",
            "Step decay",
            "Multiply by gamma every step_size steps.",
            (
                Field("step_size", "int", 100, "Steps between decays.", minimum=1),
                _gamma(0.1, "Factor applied at each decay."),
            ),
            has_horizon=False,
            torch_twin="StepLR",
        ),
        KindSpec(
            "multistep",
            "Multi-step decay",
            "Multiply by gamma at each milestone.",
            (
                Field(
                    "milestones",
                    "int_list",
                    [500, 750],
                    "Steps of the main phase at which the LR is multiplied by gamma (increasing).",
                    minimum=1,
                ),
                _gamma(0.1, "Factor applied at each milestone."),
            ),
            has_horizon=False,
            torch_twin="MultiStepLR",
        ),
        KindSpec(
            "exponential",
            "Exponential decay",
            "Multiply by gamma every step.",
            (_gamma(0.999, "Factor applied every step."),),
            has_horizon=False,
            torch_twin="ExponentialLR",
        ),
        KindSpec(
            "power",
            "Power decay",
            "base_lr / (1 + u/s)^c.",
            (
                Field(
                    "s", "float", 100.0, "Time scale in steps.", minimum=0.0, exclusive_minimum=True
                ),
                Field("c", "float", 0.5, "Exponent.", minimum=0.0, exclusive_minimum=True),
            ),
            has_horizon=False,
        ),
        KindSpec(
            "polynomial",
            "Polynomial decay",
            "(base_lr - min_lr)·(1 - u/T)^power + min_lr.",
            (
                Field(
                    "power",
                    "float",
                    1.0,
                    "Exponent of the decay.",
                    minimum=0.0,
                    exclusive_minimum=True,
                ),
                _MIN_LR,
            ),
            has_horizon=True,
            torch_twin="PolynomialLR",
        ),
        KindSpec(
            "linear",
            "Linear decay",
            "Linear from base_lr to end_factor·base_lr over the main phase.",
            (
                Field(
                    "end_factor",
                    "float",
                    0.0,
                    "Fraction of base_lr reached at the end.",
                    minimum=0.0,
                    maximum=1.0,
                ),
            ),
            has_horizon=True,
            torch_twin="LinearLR",
        ),
        KindSpec(
            "cosine",
            "Cosine decay",
            "Half a cosine from base_lr to min_lr over the main phase.",
            (_MIN_LR,),
            has_horizon=True,
            torch_twin="CosineAnnealingLR",
        ),
        KindSpec(
            "sgdr",
            "Cosine with warm restarts (SGDR)",
            "Cosine cycles of T_0, T_0·T_mult, ... steps; each restart peaks at decay × the last.",
            (
                Field("T_0", "int", 100, "Length of the first cycle in steps.", minimum=1),
                Field(
                    "T_mult",
                    "int",
                    2,
                    "Each cycle is T_mult times longer than the last.",
                    minimum=1,
                ),
                _MIN_LR,
                Field(
                    "decay",
                    "float",
                    1.0,
                    "Peak factor per restart (1 = no decay).",
                    minimum=0.0,
                    maximum=1.0,
                    exclusive_minimum=True,
                ),
            ),
            has_horizon=False,
            torch_twin="CosineAnnealingWarmRestarts",
        ),
        KindSpec(
            "onecycle",
            "1cycle",
            "Warm up to base_lr (= max_lr), then anneal far below the start.",
            (
                Field(
                    "pct_start",
                    "float",
                    0.3,
                    "Fraction of the steps spent increasing the LR.",
                    minimum=0.0,
                    maximum=1.0,
                    exclusive_minimum=True,
                    exclusive_maximum=True,
                ),
                Field(
                    "div_factor", "float", 25.0, "Initial LR = max_lr / div_factor.", minimum=1.0
                ),
                Field(
                    "final_div_factor",
                    "float",
                    1e4,
                    "Final LR = initial LR / final_div_factor.",
                    minimum=1.0,
                ),
                Field(
                    "anneal_strategy",
                    "choice",
                    "cos",
                    "Shape of each phase.",
                    choices=("cos", "linear"),
                ),
                Field(
                    "three_phase",
                    "bool",
                    False,
                    "Add a third phase that anneals from the initial LR to the final LR.",
                ),
                *_MOMENTUM_CYCLE,
            ),
            has_horizon=True,
            own_warmup=True,
            cycles_momentum=True,
            torch_twin="OneCycleLR",
        ),
        KindSpec(
            "cyclic",
            "Cyclical LR (CLR)",
            "Triangular cycles between base_lr (lower bound, here) and the top-level base_lr.",
            (
                Field(
                    "base_lr",
                    "float",
                    1e-4,
                    "Lower bound of the cycle (absolute).",
                    minimum=0.0,
                    exclusive_minimum=True,
                ),
                Field(
                    "step_size_up",
                    "int",
                    2000,
                    "Steps in the increasing half of a cycle.",
                    minimum=1,
                ),
                Field(
                    "step_size_down",
                    "optional_int",
                    None,
                    "Steps in the decreasing half (empty = step_size_up).",
                    minimum=1,
                ),
                Field(
                    "mode",
                    "choice",
                    "triangular",
                    "Amplitude policy.",
                    choices=("triangular", "triangular2", "exp_range"),
                ),
                Field(
                    "gamma",
                    "float",
                    1.0,
                    "exp_range: amplitude factor per step.",
                    minimum=0.0,
                    maximum=1.0,
                    exclusive_minimum=True,
                ),
                Field("cycle_momentum", "bool", True, "Cycle momentum inversely to the LR."),
                Field(
                    "base_momentum",
                    "float",
                    0.8,
                    "Momentum at the LR peak.",
                    minimum=0.0,
                    maximum=1.0,
                ),
                Field(
                    "max_momentum",
                    "float",
                    0.9,
                    "Momentum at the LR trough.",
                    minimum=0.0,
                    maximum=1.0,
                ),
            ),
            has_horizon=False,
            own_warmup=True,
            cycles_momentum=True,
            torch_twin="CyclicLR",
        ),
        KindSpec(
            "piecewise",
            "Piecewise",
            "Knots (0, values[0]), (boundaries[i], values[i+1]) as factors of base_lr; "
            "held after the last knot.",
            (
                Field(
                    "boundaries",
                    "int_list",
                    [300, 600],
                    "Steps of the main phase where a new value starts (increasing).",
                    minimum=1,
                ),
                Field(
                    "values",
                    "float_list",
                    [1.0, 0.1, 0.01],
                    "Factors of base_lr at 0 and at each boundary (one more than boundaries).",
                    minimum=0.0,
                ),
                Field(
                    "interpolation",
                    "choice",
                    "constant",
                    "How to go from one knot to the next.",
                    choices=("constant", "linear", "cosine"),
                ),
            ),
            has_horizon=True,
        ),
        KindSpec(
            "inverse_sqrt",
            "Inverse square root",
            "base_lr / sqrt(1 + u/timescale).",
            (
                Field(
                    "timescale",
                    "float",
                    100.0,
                    "Steps over which the LR halves its square.",
                    minimum=0.0,
                    exclusive_minimum=True,
                ),
            ),
            has_horizon=False,
        ),
        KindSpec(
            "wsd",
            "Warmup-stable-decay",
            "Stable at base_lr, then decay to min_lr over the last decay_steps steps.",
            (
                Field("decay_steps", "int", 200, "Length of the final decay.", minimum=0),
                Field(
                    "decay_shape",
                    "choice",
                    "linear",
                    "Shape of the decay (sqrt = 1 - sqrt(x)).",
                    choices=("linear", "cosine", "sqrt"),
                ),
                _MIN_LR,
            ),
            has_horizon=True,
        ),
        KindSpec(
            "plateau",
            "Reduce on plateau",
            "Multiply by factor when the metric stops improving (needs a metric series).",
            (
                Field(
                    "mode",
                    "choice",
                    "min",
                    "Whether lower or higher metric is better.",
                    choices=("min", "max"),
                ),
                Field(
                    "factor",
                    "float",
                    0.1,
                    "Factor applied at each reduction.",
                    minimum=0.0,
                    maximum=1.0,
                    exclusive_minimum=True,
                    exclusive_maximum=True,
                ),
                Field(
                    "patience", "int", 10, "Steps without improvement before reducing.", minimum=0
                ),
                Field(
                    "threshold",
                    "float",
                    1e-4,
                    "Minimum change that counts as improvement.",
                    minimum=0.0,
                ),
                Field(
                    "threshold_mode",
                    "choice",
                    "rel",
                    "Relative or absolute threshold.",
                    choices=("rel", "abs"),
                ),
                Field("cooldown", "int", 0, "Steps to wait after a reduction.", minimum=0),
                _MIN_LR,
                Field(
                    "eps", "float", 1e-8, "Reductions smaller than this are skipped.", minimum=0.0
                ),
            ),
            has_horizon=False,
            torch_twin="ReduceLROnPlateau",
        ),
    )
}

WARMUP_SHAPES = ("linear", "exponential", "constant")
SCALING_RULES = ("linear", "sqrt")
