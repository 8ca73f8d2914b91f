"""The ``optimizer`` section every setup shares (built-in image classification and tasks alike):
its fields, their defaults and checks, without importing torch."""

from __future__ import annotations

from typing import Any

from lrlab.core import options
from lrlab.core.errors import LrlabError
from lrlab.core.optimizer_table import optimizer_info
from lrlab.core.validation import refuse_unknown, require_mapping

OPTIMIZER_DEFAULTS: dict[str, Any] = {
    **options.defaults("optimizer", ("name", "lr", "momentum", "weight_decay", "nesterov")),
    "betas": None,
}


def validate_optimizer(value: Any) -> dict[str, Any]:
    """The optimizer section with defaults filled in; a mistake names its field."""
    opt = {**OPTIMIZER_DEFAULTS, **require_mapping(value or {}, "optimizer")}
    refuse_unknown(opt, OPTIMIZER_DEFAULTS, "optimizer")
    opt = options.check(opt, ("name", "lr", "momentum", "weight_decay", "nesterov"), "optimizer")
    info = optimizer_info(opt["name"], "optimizer.name")
    if opt["nesterov"] and ("nesterov" not in info.takes or opt["momentum"] == 0):
        raise LrlabError("optimizer.nesterov: needs SGD or SGDW with momentum > 0")
    if opt["betas"] is not None:
        betas = opt["betas"]
        if (not isinstance(betas, (list, tuple)) or len(betas) != 2
                or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)):
            raise LrlabError(f"optimizer.betas: expected two numbers in [0, 1), got {betas!r}")
        if not info.has_betas:
            raise LrlabError(f"optimizer.betas: only the Adam family takes betas, not "
                             f"{info.title}")
        opt["betas"] = [float(b) for b in betas]
    return opt
