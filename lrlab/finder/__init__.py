"""LR range test: curve analysis (smoothing, every tool's suggestion rule, consensus and trust),
schedule advice, and curve import from other tools. The engine lives in `lrlab.finder.range_test`.
"""

from lrlab.finder.advice import advise, scaling_rule
from lrlab.finder.analysis import Analysis, analyze, consensus_of
from lrlab.finder.curves import Curve, curve_from_mapping, load_curve, validate_curve
from lrlab.finder.methods import (
    METHODS,
    Method,
    fastai_minimum,
    fastai_slide,
    fastai_steep,
    fastai_valley,
    lightning_suggestion,
    lrlab_midpoint,
    lrlab_steepest,
    torch_lr_finder_steepest,
)
from lrlab.finder.smoothing import ema_debiased, smooth_log_lr, torch_lr_finder_smooth

__all__ = [
    "METHODS",
    "Analysis",
    "Curve",
    "Method",
    "advise",
    "analyze",
    "consensus_of",
    "curve_from_mapping",
    "ema_debiased",
    "fastai_minimum",
    "fastai_slide",
    "fastai_steep",
    "fastai_valley",
    "lightning_suggestion",
    "load_curve",
    "lrlab_midpoint",
    "lrlab_steepest",
    "scaling_rule",
    "smooth_log_lr",
    "torch_lr_finder_smooth",
    "torch_lr_finder_steepest",
    "validate_curve",
]
