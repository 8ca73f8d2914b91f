"""The LR check ladder: short training runs of one setup at LRs around a suggestion, to see which
LR trains best and how far the advice was from it.

Every finder (fastai, torch-lr-finder, Lightning, lrlab's own) reads a number off a loss curve;
none trains at it. A ladder does: the setup's schedule (its own, the paper's from
``optimizer.lr``, or an advised one) is moved to each LR of a log-spaced ladder around its peak
(``schedules.fit.scale_lr``: the same shape in proportion) and trained for a short budget, the
schedule stretched to it. Each point is an ordinary training job, so several workers run a
ladder in parallel; the ladder itself (an ``lrlab.check/1`` job) is never claimed by a worker:
it is finished, with the aggregate below, by whoever sees its last point end (``refresh``).

With ``baselines`` the ladder also trains optimizers that choose their own step size
(lrlab.core.baseline_table: Schedule-Free AdamW, Prodigy, D-Adaptation, DoG) on the same setup,
budget and seeds, each at its paper's settings; the verdict says whether the best point beats
the best of them, by how much, and whether that is beyond the seeds' spread.

With ``seeds`` > 1 each point is trained that many times (seed, seed+1, ...) and its figures are
the mean: one short run's accuracy moves by a point or two between neighbouring LRs, enough to
crown the wrong one.

Config: ``{"setup": <lrlab.train/2>, "lr": peak or null (the setup's), "points", "span",
"epochs" or "fraction" (the budget), "seeds", "suggestions": {method: LR} to mark,
"range_test": job id or null, "baselines": [name, ...]}``; the store adds ``children``, the
ids of the runs' jobs, point by point (a point's seeds next to each other), then baseline by
baseline. Configs without ``seeds`` read as one seed.
"""

from lrlab.lr_check.budget import describe_budget, pace_of, with_budget
from lrlab.lr_check.config import (
    FORMAT,
    LADDER_DEFAULTS,
    LADDER_FIELDS,
    budget_epochs,
    seeds_of,
    validate_config,
)
from lrlab.lr_check.from_finder import from_range_test
from lrlab.lr_check.local import run_locally
from lrlab.lr_check.plan import (
    baseline_setup,
    baselines,
    best_training_config,
    children,
    factors,
    peak_lr,
    points,
    round_lr,
    runs,
)
from lrlab.lr_check.progress import baseline_rows_of, refresh, rows_of
from lrlab.lr_check.verdict import (
    TIE,
    aggregate,
    baseline_verdict,
    can_tell,
    combine,
    judge,
    point_row,
    schedule_words,
    seed_spread,
    shown_rows,
    table,
    verdict,
    versus,
)

__all__ = [
    "FORMAT",
    "LADDER_DEFAULTS",
    "LADDER_FIELDS",
    "TIE",
    "aggregate",
    "baseline_rows_of",
    "baseline_setup",
    "baseline_verdict",
    "baselines",
    "best_training_config",
    "budget_epochs",
    "can_tell",
    "children",
    "combine",
    "describe_budget",
    "factors",
    "from_range_test",
    "judge",
    "pace_of",
    "peak_lr",
    "point_row",
    "points",
    "refresh",
    "round_lr",
    "rows_of",
    "run_locally",
    "runs",
    "schedule_words",
    "seed_spread",
    "seeds_of",
    "shown_rows",
    "table",
    "validate_config",
    "verdict",
    "versus",
    "with_budget",
]
