"""How long each point of an LR check trains, said before anything is queued.

A ladder ranks LRs by where a short run ends, so the short run must get far enough to tell: the
whole planned run when that costs little at the pace the range test measured, else a share of it
(check.fraction, 0.2 by default) that is never under MIN_UPDATES updates (lrlab.lr_check.config).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from lrlab.lr_check.config import budget_epochs, seeds_of
from lrlab.lr_check.plan import point_count
from lrlab.tasks.setups import planned_updates

# The whole planned run is the default budget when a ladder of it would take at most this long
# at the range test's pace (seconds, all points and seeds together).
CHEAP_S = 120.0
# The points and seeds a ladder has when nothing else is said (check.points, check.seeds).
DEFAULT_RUNS = 5


def pace_of(result: Mapping[str, Any]) -> float | None:
    """Seconds per update of a range test's sweep, from its result (its whole time over its
    updates: an upper bound, since it includes loading the data and the analysis)."""
    seconds = (result.get("environment") or {}).get("seconds")
    config = result.get("config") or {}
    points = len(result.get("lr") or ())
    updates = points * int(config.get("batches_per_point") or 1) * int(config.get("seeds") or 1)
    return seconds / updates if seconds and updates else None


def whole_run_if_cheap(setup: Mapping[str, Any], pace: float | None,
                       runs: int = DEFAULT_RUNS) -> int | None:
    """The setup's epochs when `runs` whole planned runs cost at most CHEAP_S at `pace`."""
    if pace is None:
        return None
    return setup["epochs"] if runs * planned_updates(setup) * pace <= CHEAP_S else None


def with_budget(ladder: Mapping[str, Any], chosen: Mapping[str, Any]) -> dict[str, Any]:
    """A ladder's config with the ladder fields a person chose (None: not chosen); a budget of
    their own (epochs or fraction) replaces the one the range test's pace suggested."""
    picked = {k: v for k, v in chosen.items() if v is not None}
    out = dict(ladder)
    if "epochs" in picked or "fraction" in picked:
        out.pop("epochs", None)
    return {**out, **picked}


def describe_budget(cfg: Mapping[str, Any], pace: float | None = None) -> str:
    """The validated ladder's cost in words: runs (its LR-free baselines' included), updates
    each, and time at the pace."""
    setup = cfg["setup"]
    epochs = budget_epochs(cfg)
    run_updates = planned_updates(setup)
    updates = round(run_updates * epochs / setup["epochs"])
    runs = len(cfg.get("children") or ()) or (
        point_count(cfg) + len(cfg.get("baselines") or ())) * seeds_of(cfg)
    share = ("the whole planned run" if epochs == setup["epochs"]
             else f"{epochs} of the run's {setup['epochs']} epochs")
    text = (f"{runs} run{'s' if runs != 1 else ''} of {updates} updates each ({share}; the "
            f"planned run makes {run_updates})")
    if pace is not None:
        text += f", about {_duration(runs * updates * pace)} at the range test's pace"
    return text + "."


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, math.ceil(seconds))} s"
    return f"{math.ceil(seconds / 60)} min"
