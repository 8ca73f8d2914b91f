"""The parameters of every `lrlab.schedule/1` main kind, in one table.

The validator, the defaults filled in on load, the Schedule Designer's widgets and the exporters
all read this table, so a kind's fields, limits and help text are written down exactly once.
Cross-field rules (min_lr below base_lr, increasing milestones, ...) live in the validator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lrlab.core.options import Field

FORMAT = "lrlab.schedule/1"
# /2 is /1 plus an optional batch-size plan; a schedule without one is still written as /1, so
# every reader of /1 reads it, and a /1 reader refuses a plan it cannot follow by its format.
FORMAT_V2 = "lrlab.schedule/2"
FORMATS = (FORMAT, FORMAT_V2)


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


def _param(name: str, kind: str, default: Any, help_: str, **limits: Any) -> Field:
    """A kind's parameter: its name is also its label, as configs and the Designer show it."""
    return Field(name, name, kind, default, help=help_, optional=default is None, **limits)


def _gamma(default: float, help_: str) -> Field:
    return _param("gamma", "float", default, help_, low=0.0, low_open=True)


_MIN_LR = _param(
    "min_lr", "float", 0.0, "LR reached at the end of the decay (absolute).", low=0.0,
    unit="lr")

_MOMENTUM_CYCLE = (
    _param("cycle_momentum", "bool", True, "Cycle momentum inversely to the LR."),
    _param("base_momentum", "float", 0.85, "Momentum at the LR peak.", low=0.0, high=1.0),
    _param("max_momentum", "float", 0.95, "Momentum at the LR trough.", low=0.0, high=1.0),
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
                _param("step_size", "int", 100, "Steps between decays.", low=1, unit="steps"),
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
                _param(
                    "milestones",
                    "int_list",
                    [500, 750],
                    "Steps of the main phase at which the LR is multiplied by gamma (increasing).",
                    low=1,
                 unit="steps"),
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
                _param("s", "float", 100.0, "Time scale in steps.", low=0.0, low_open=True,
                       unit="steps"),
                _param("c", "float", 0.5, "Exponent.", low=0.0, low_open=True),
            ),
            has_horizon=False,
        ),
        KindSpec(
            "polynomial",
            "Polynomial decay",
            "(base_lr - min_lr)·(1 - u/T)^power + min_lr.",
            (
                _param("power", "float", 1.0, "Exponent of the decay.", low=0.0, low_open=True),
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
                _param("end_factor", "float", 0.0, "Fraction of base_lr reached at the end.",
                       low=0.0, high=1.0),
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
                _param("T_0", "int", 100, "Length of the first cycle in steps.", low=1,
                       unit="steps"),
                _param("T_mult", "int", 2, "Each cycle is T_mult times longer than the last.",
                       low=1),
                _MIN_LR,
                _param("decay", "float", 1.0, "Peak factor per restart (1 = no decay).",
                       low=0.0, high=1.0, low_open=True),
            ),
            has_horizon=False,
            torch_twin="CosineAnnealingWarmRestarts",
        ),
        KindSpec(
            "onecycle",
            "1cycle",
            "Warm up to base_lr (= max_lr), then anneal far below the start.",
            (
                _param("pct_start", "float", 0.3, "Fraction of the steps spent increasing the LR.",
                       low=0.0, high=1.0, low_open=True, high_open=True),
                _param("div_factor", "float", 25.0, "Initial LR = max_lr / div_factor.", low=1.0),
                _param(
                    "final_div_factor",
                    "float",
                    1e4,
                    "Final LR = initial LR / final_div_factor.",
                    low=1.0,
                ),
                _param(
                    "anneal_strategy",
                    "choice",
                    "cos",
                    "Shape of each phase.",
                    choices=("cos", "linear"),
                ),
                _param(
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
                _param("base_lr", "float", 1e-4, "Lower bound of the cycle (absolute).",
                       low=0.0, low_open=True, unit="lr"),
                _param("step_size_up", "int", 2000, "Steps in the increasing half of a cycle.",
                       low=1, unit="steps"),
                _param(
                    "step_size_down",
                    "int",
                    None,
                    "Steps in the decreasing half (empty = step_size_up).",
                    low=1,
                 unit="steps"),
                _param(
                    "mode",
                    "choice",
                    "triangular",
                    "Amplitude policy.",
                    choices=("triangular", "triangular2", "exp_range"),
                ),
                _param("gamma", "float", 1.0, "exp_range: amplitude factor per step.",
                       low=0.0, high=1.0, low_open=True),
                _param("cycle_momentum", "bool", True, "Cycle momentum inversely to the LR."),
                _param("base_momentum", "float", 0.8, "Momentum at the LR peak.",
                       low=0.0, high=1.0),
                _param("max_momentum", "float", 0.9, "Momentum at the LR trough.",
                       low=0.0, high=1.0),
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
                _param(
                    "boundaries",
                    "int_list",
                    [300, 600],
                    "Steps of the main phase where a new value starts (increasing).",
                    low=1,
                 unit="steps"),
                _param(
                    "values",
                    "float_list",
                    [1.0, 0.1, 0.01],
                    "Factors of base_lr at 0 and at each boundary (one more than boundaries).",
                    low=0.0,
                ),
                _param(
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
                _param("timescale", "float", 100.0, "Steps over which the LR halves its square.",
                       low=0.0, low_open=True, unit="steps"),
            ),
            has_horizon=False,
        ),
        KindSpec(
            "wsd",
            "Warmup-stable-decay",
            "Stable at base_lr, then decay to min_lr over the last decay_steps steps.",
            (
                _param("decay_steps", "int", 200, "Length of the final decay.", low=0,
                       unit="steps"),
                _param(
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
                _param(
                    "mode",
                    "choice",
                    "min",
                    "Whether lower or higher metric is better.",
                    choices=("min", "max"),
                ),
                _param("factor", "float", 0.1, "Factor applied at each reduction.",
                       low=0.0, high=1.0, low_open=True, high_open=True),
                _param("patience", "int", 10, "Steps without improvement before reducing.", low=0,
                       unit="steps"),
                _param("threshold", "float", 1e-4, "Minimum change that counts as improvement.",
                       low=0.0),
                _param(
                    "threshold_mode",
                    "choice",
                    "rel",
                    "Relative or absolute threshold.",
                    choices=("rel", "abs"),
                ),
                _param("cooldown", "int", 0, "Steps to wait after a reduction.", low=0,
                       unit="steps"),
                _MIN_LR,
                _param("eps", "float", 1e-8, "Reductions smaller than this are skipped.", low=0.0),
            ),
            has_horizon=False,
            torch_twin="ReduceLROnPlateau",
        ),
    )
}

WARMUP_SHAPES = ("linear", "exponential", "constant")
SCALING_RULES = ("linear", "sqrt")

# The fields around the main phase, by their path in the config.
SETTINGS: dict[str, Field] = {
    f.name: f
    for f in (
        Field("base_lr", "Base LR", "float", 0.1, low=0.0, low_open=True, format="%g",
              help="Peak LR of the main phase (max_lr for 1cycle, upper bound for CLR)."),
        Field("total_steps", "Total steps", "int", 1000, low=1, step=100,
              help="Optimizer updates in the whole run."),
        Field("hold_steps", "Hold steps", "int", 0, low=0, step=10,
              help="Steps at the base LR between warmup and the main phase."),
        Field("warmup.steps", "Warmup steps", "int", 100, low=1, step=10),
        Field("warmup.start_factor", "Start factor", "float", 0.0, low=0.0, high=1.0,
              format="%g", help="Warmup starts at start_factor × base LR."),
        Field("warmup.shape", "Warmup shape", "choice", "linear", choices=WARMUP_SHAPES),
        Field("momentum.value", "Momentum", "float", 0.9, low=0.0, high=1.0, high_open=True,
              format="%g"),
        Field("scaling.rule", "Rule", "choice", "linear", choices=SCALING_RULES),
        Field("scaling.reference_batch", "Reference batch", "int", 256, low=1, step=32),
        Field("scaling.batch", "Batch", "int", 1024, low=1, step=32),
        Field("batch.milestones", "Batch milestones", "int_list", [500], low=1,
              help="Steps from which the batch changes (increasing)."),
        Field("batch.factors", "Batch factors", "float_list", [2.0], low=0.0, low_open=True,
              help="From each milestone on, the batch is the run's batch × this factor."),
    )
}
