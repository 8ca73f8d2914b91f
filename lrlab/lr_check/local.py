"""A ladder trained in this process, point after point (`lrlab check`). Training (torch) is
imported when a ladder runs, not when a page reads a ladder's result."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lrlab.core.errors import LrlabError
from lrlab.lr_check.config import seeds_of
from lrlab.lr_check.plan import baselines, points, runs
from lrlab.lr_check.verdict import aggregate, combine, point_row


def run_locally(cfg: Mapping[str, Any], reporter: Any = None,
                train_point: Callable[..., dict[str, Any]] | None = None) -> dict[str, Any]:
    """Train every point in this process, one after another (``lrlab check``); a point that
    fails (a diverged run) is a row with its reason, not the end of the ladder.
    `train_point(config, train, reporter)` runs `train(reporter)` for one point, where a caller
    wraps each point (lrlab.trackers logs it nested under the ladder)."""
    from lrlab.core.reporting import NullReporter
    from lrlab.training.job import train

    reporter = reporter or NullReporter()
    point_reporter = NullReporter()
    seeds = seeds_of(cfg)
    plan = runs(cfg)
    done: list[dict[str, Any]] = []
    for i, (point, config) in enumerate(plan):
        which = f", seed {config['seed']}" if seeds > 1 else ""
        what = (f"{point['title']} (LR-free baseline)" if point.get("baseline")
                else f"LR {point['lr']:.3g}")
        reporter.progress(i / len(plan), f"run {i + 1}/{len(plan)}: {what}{which}")
        try:
            if train_point is None:
                result = train(config)
            else:
                result = train_point(config, lambda r, c=config: train(c, r), point_reporter)
        except LrlabError as exc:
            done.append(point_row(point, "failed", error=str(exc)))
            continue
        done.append(point_row(point, "succeeded", result=result, progress=1.0))
    reporter.progress(1.0, "done")
    ladder = points(cfg)
    rows = [combine(point, done[i * seeds:(i + 1) * seeds])
            for i, point in enumerate([*ladder, *baselines(cfg)])]
    return aggregate(cfg, rows[:len(ladder)], rows[len(ladder):])
