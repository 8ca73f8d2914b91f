"""A queued ladder followed through its points' jobs in the store, and ended once they all have
(by the worker's upkeep, lrlab.jobs.kinds.reap, or by its page)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lrlab.core.errors import LrlabError
from lrlab.lr_check.config import seeds_of
from lrlab.lr_check.plan import baselines, point_count, points
from lrlab.lr_check.verdict import aggregate, combine, point_row


def rows_of(store: Any, cfg: Mapping[str, Any],
            result: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Each point's row, read from its seeds' jobs in the store; a ladder run in one process
    (lrlab check, lrlab.check) has no jobs for its points: its `result` holds them."""
    if not cfg.get("children"):
        return list((result or {}).get("points") or [])
    return _rows(store, cfg, points(cfg), 0)


def baseline_rows_of(store: Any, cfg: Mapping[str, Any],
                     result: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Each LR-free baseline's row, as `rows_of` reads the points' (their jobs follow the
    points' in the ladder's children)."""
    if not cfg.get("children"):
        return list((result or {}).get("baselines") or [])
    return _rows(store, cfg, baselines(cfg), point_count(cfg) * seeds_of(cfg))


def _rows(store: Any, cfg: Mapping[str, Any], planned: list[dict[str, Any]],
          start: int) -> list[dict[str, Any]]:
    """Rows of `planned` points, whose seeds' jobs are the children from `start` on."""
    seeds = seeds_of(cfg)
    ids = list(cfg["children"])[start:]
    rows = []
    for i, point in enumerate(planned):
        seed_rows = []
        for job_id in ids[i * seeds:(i + 1) * seeds]:
            try:
                job = store.get(job_id)
            except LrlabError:
                seed_rows.append(point_row(point, "deleted", error="the run's job was deleted",
                                       job=job_id))
                continue
            seed_rows.append(point_row(point, job.status, result=job.result, error=job.error,
                                   progress=job.progress, job=job.id))
        if seed_rows:
            rows.append(combine(point, seed_rows))
    return rows


def refresh(store: Any, job: Any, on_end: Callable[[Any], None] | None = None) -> Any:
    """Bring a running ladder job up to date from its points: progress while they run, the
    aggregate and a final status once all have ended. Any process may call it (the worker
    after each job, the pages, the CLI); the store's conditional finish lets one of them win,
    and only the winner calls `on_end` with the ended job. Returns the job as it now stands."""
    if job.kind != "check" or job.status != "running":
        return job
    cfg = job.config
    rows, extra = rows_of(store, cfg), baseline_rows_of(store, cfg)
    everyone = [*rows, *extra]
    ended = [r["status"] not in ("queued", "running") for r in everyone]
    if not all(ended):
        progress = sum(1.0 if done else r["progress"]
                       for r, done in zip(everyone, ended, strict=True)) / max(1, len(everyone))
        message = f"{sum(ended[:len(rows)])} of {len(rows)} points done" + (
            f", {sum(ended[len(rows):])} of {len(extra)} baselines" if extra else "")
        if (progress, message) == (job.progress, job.message):
            return job  # workers refresh every poll: write only what changed
        store.set_progress(job.id, progress, message)
        return store.get(job.id)
    result = aggregate(cfg, rows, extra)
    if job.cancel_requested:
        status = "cancelled"
    elif result["best"] is None:
        status = "failed"
    else:
        status = "succeeded"
    won = store.finish(job.id, status, result=result,
                       error=None if status == "succeeded" else result["verdict"])
    ended = store.get(job.id)
    if won and on_end is not None:  # this process ended it: `on_end` runs once per ladder
        on_end(ended)
    return ended
