"""An LR check's config: its fields, their defaults and checks, the budget each point trains."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from lrlab.core import options
from lrlab.core.errors import LrlabError
from lrlab.core.validation import refuse_unknown, require_mapping
from lrlab.tasks.setups import planned_updates, validate_setup

# /2 adds the judgement (can the ladder tell, and if not why); /3 the objective and mode the
# points are ranked by (a task's own, or top-1); /4 the LR-free baselines (`baselines` in the
# config, their rows and the comparison in the result). /1 and /2 results read as top-1
# ladders; a config or result without baselines reads as a ladder that asked for none.
FORMAT = "lrlab.check/4"
LADDER_FIELDS = ("lr", "points", "span", "epochs", "fraction", "seeds", "baselines")
LADDER_DEFAULTS: dict[str, Any] = options.defaults("check", LADDER_FIELDS)
DEFAULT_FRACTION = 0.2  # of the setup's epochs, when the budget is not given
# ... but never fewer updates than this (or the whole planned run, when that is shorter): a
# budget of a few updates ranks how fast each LR starts, not where it ends.
MIN_UPDATES = 200


def validate_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The ladder's config with defaults filled in; bad fields raise LrlabError naming them."""
    require_mapping(config, "check config")
    refuse_unknown(config, [*LADDER_FIELDS, "setup", "suggestions", "range_test", "children"],
                   "check config")
    if not isinstance(config.get("setup"), Mapping):
        raise LrlabError("setup: expected an lrlab.train/4 config (a mapping), got "
                         f"{config.get('setup')!r}")
    cfg = options.check({**LADDER_DEFAULTS, **{k: config[k] for k in LADDER_FIELDS
                                               if k in config}}, LADDER_FIELDS, "check")
    if cfg["epochs"] is not None and cfg["fraction"] is not None:
        raise LrlabError("check: give the budget as epochs or as fraction, not both")
    suggestions = config.get("suggestions") or {}
    if not isinstance(suggestions, Mapping) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v > 0
            for v in suggestions.values()):
        raise LrlabError(f"suggestions: expected {{method: LR > 0}}, got {suggestions!r}")
    range_test = config.get("range_test")
    if range_test is not None and (isinstance(range_test, bool)
                                   or not isinstance(range_test, int)):
        raise LrlabError(f"range_test: expected a job id, got {range_test!r}")
    setup = validate_setup(config["setup"])
    out = {"setup": setup, **cfg, "suggestions": {str(k): float(v)
                                                  for k, v in suggestions.items()},
           "range_test": range_test}
    if "children" in config:
        out["children"] = list(config["children"])
    return out


def budget_epochs(cfg: Mapping[str, Any]) -> int:
    """Epochs each point trains: ``epochs``, or ``fraction`` of the setup's (at least one); with
    neither given, DEFAULT_FRACTION of them but at least MIN_UPDATES updates (the setup's
    updates counted from its labels), or the whole planned run when that is shorter."""
    if cfg["epochs"] is not None:
        return cfg["epochs"]
    setup = cfg["setup"]
    if cfg["fraction"] is not None:
        return max(1, round(cfg["fraction"] * setup["epochs"]))
    per_epoch = planned_updates(setup) / setup["epochs"]
    floor = math.ceil(MIN_UPDATES / per_epoch) if per_epoch else setup["epochs"]
    return min(setup["epochs"], max(1, round(DEFAULT_FRACTION * setup["epochs"]), floor))


def seeds_of(cfg: Mapping[str, Any]) -> int:
    """Runs per point (ladders stored before seeds were added ran one)."""
    return int(cfg.get("seeds") or 1)
