"""Following a job from the store: cursor-based metric polling and progress/ETA.

A page keeps one `JobFollower` per job in its session and calls `poll` every second; each call
reads only metrics with `seq > cursor`, so a long run costs the same per poll as a short one, and
several browser sessions can follow the same job independently.

The page run that submits a job holds its first poll open until the job's first metric (or
FIRST_METRIC_WAIT_S): the first point is what the user watches for, and it then comes with that
run instead of at the next tick, up to a second later. Likewise the one tick that finds the job
due to end before the next (by its ETA) holds until it ends, so the result comes with that tick.
Nothing else waits: holding every tick open kept the browser busy and made a range test twice as
slow on 2 cores.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lrlab.core.errors import LrlabError
from lrlab.jobs.kinds import kind_of
from lrlab.store import Job, Metric, Store

# How often a page polls a running job. Not faster: on a small machine that also runs the
# browser, each poll's redraw takes CPU from the job (measured: 0.5 s polling made a 100-point
# range test 3x slower on 2 cores).
LIVE_POLL_S = 1.0
# The submitting run's wait for the first metric (see the module's docstring), and how often a
# held poll re-reads the store meanwhile (two indexed reads, nothing drawn).
FIRST_METRIC_WAIT_S = 2.0
HOLD_POLL_S = 0.05


@dataclass
class Series:
    """One metric's values against its step (or epoch) index, in arrival order."""

    index: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.index, dtype=np.int64), np.asarray(self.values, dtype=np.float64)

    def last(self) -> float | None:
        return self.values[-1] if self.values else None


@dataclass
class JobFollower:
    """Everything a page has seen of one job so far."""

    job_id: int
    cursor: int = 0
    step: dict[str, Series] = field(default_factory=dict)
    epoch: dict[str, Series] = field(default_factory=dict)
    job: Job | None = None
    end_held: bool = False  # whether a poll has held for this job's end (once per job)

    def poll(self, store: Store, limit: int = 50_000, wait_s: float = 0.0,
             end_within_s: float = 0.0) -> Job:
        """Read new metrics (seq > cursor) and the job row; returns the fresh job. With
        `wait_s`, a job that has reported nothing yet is re-read until its first metric comes or
        it ends, for at most `wait_s` seconds. With `end_within_s`, a job whose ETA is within it
        is re-read until it ends, for at most that long, once per job."""
        self._read(store, limit)
        self._hold(store, limit, wait_s, until=lambda: self.cursor > 0)
        eta = eta_seconds(self.job)
        if not self.end_held and eta is not None and eta <= end_within_s:
            self.end_held = True
            self._hold(store, limit, end_within_s, until=lambda: False)
        return self.job

    def _read(self, store: Store, limit: int) -> None:
        """The job row, then its new metrics: a job read as ended comes with its last ones."""
        self.job = store.get(self.job_id)
        self.extend(store.metrics_since(self.job_id, self.cursor, limit=limit))

    def _hold(self, store: Store, limit: int, seconds: float, until: Callable[[], bool]) -> None:
        """Re-read every HOLD_POLL_S until `until()` or the job's end, for at most `seconds`."""
        deadline = time.monotonic() + seconds
        while not (until() or self.job.is_finished) and time.monotonic() < deadline:
            time.sleep(HOLD_POLL_S)
            self._read(store, limit)

    def extend(self, metrics: list[Metric]) -> None:
        for m in metrics:
            bucket = self.epoch if m.scope == "epoch" else self.step
            series = bucket.setdefault(m.key, Series())
            series.index.append(m.step)
            series.values.append(m.value)
            self.cursor = max(self.cursor, m.seq)

    def series(self, key: str, scope: str = "step") -> tuple[np.ndarray, np.ndarray]:
        bucket = self.epoch if scope == "epoch" else self.step
        return bucket.get(key, Series()).arrays()

    def all_series(self) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
        """{(scope, key): (index, values)} for every metric seen, as the figures take them."""
        out = {("step", k): s.arrays() for k, s in self.step.items()}
        out.update({("epoch", k): s.arrays() for k, s in self.epoch.items()})
        return out


def metrics_csv(follower: JobFollower) -> str:
    """Every metric seen, one row each (scope,index,key,value): easy to pivot in any tool."""
    lines = ["scope,index,key,value"]
    for scope, bucket in (("step", follower.step), ("epoch", follower.epoch)):
        for key, series in bucket.items():
            lines += [f"{scope},{i},{key},{v!r}" for i, v in zip(series.index, series.values,
                                                                 strict=True)]
    return "\n".join(lines) + "\n"


def metrics_json(follower: JobFollower) -> str:
    """{"job", "step": {key: {"index", "values"}}, "epoch": {...}}, with NaN as null."""
    def pack(bucket: dict[str, Series]) -> dict:
        return {key: {"index": s.index,
                      "values": [v if math.isfinite(v) else None for v in s.values]}
                for key, s in bucket.items()}

    return json.dumps({"job": follower.job_id, "step": pack(follower.step),
                       "epoch": pack(follower.epoch)})


def eta_seconds(job: Job, now: float | None = None) -> float | None:
    """Remaining time from progress so far (None until there is progress to extrapolate)."""
    if job.started is None or job.is_finished or not 0.0 < job.progress < 1.0:
        return None
    elapsed = (now if now is not None else time.time()) - job.started
    return elapsed * (1.0 - job.progress) / job.progress


def format_duration(seconds: float | None) -> str:
    """'1 h 02 min', '3 min 05 s', '42 s'; an em dash when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


def summary_cards(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) for a finished training run's headline numbers (a task's by its objective's
    name); a run cancelled before its first epoch has no accuracy, shown as an em dash rather
    than a made-up zero."""

    def percent(key: str) -> str:
        value = summary.get(key)
        return "—" if value is None else f"{value:.2%}"

    if "objective" in summary:  # a task's run: its own objective, by its name
        name = summary["objective"]

        def figure(key: str) -> str:
            value = summary.get(key)
            return "—" if value is None else f"{value:.4g}"

        steps, planned = summary.get("steps"), summary.get("planned_updates")
        return [(f"Best {name}", figure("best_objective")),
                (f"Final {name}", figure("final_objective")),
                ("Wall time", format_duration(summary.get("wall_time_s"))),
                ("Updates", "—" if steps is None else f"{steps:,} of {planned:,}")]
    images = summary.get("images_per_s")
    return [
        ("Best val top-1", percent("best_val_top1")),
        ("Final val top-1", percent("final_val_top1")),
        ("Wall time", format_duration(summary.get("wall_time_s"))),
        ("Images / s", "—" if images is None else f"{images:,.0f}"),
    ]


STATUS_COLOURS = {"queued": "gray", "running": "blue", "succeeded": "green", "failed": "red",
                  "cancelled": "orange"}


def progress_line(job: Job, now: float | None = None) -> tuple[float, str]:
    """(fraction, Markdown text) for a job's progress bar: a running job's message and ETA, or
    for a finished one how far it got, in its status colour (a job killed at step 525 of 4400
    shows 12 %, never a full bar)."""
    fraction = min(max(job.progress, 0.0), 1.0)
    if not job.is_finished:
        eta = format_duration(eta_seconds(job, now))
        return fraction, f"{job.message or job.status} · ETA {eta}"
    colour = STATUS_COLOURS.get(job.status, "gray")
    return fraction, f":{colour}[{job.status} at {fraction:.0%}]"


def job_from_link(store: Store, raw: str | None, kind: str) -> tuple[Job | None, str | None]:
    """The job a page's `?job=` link names, or why it cannot be shown: a stale or mistyped link
    gets a sentence, never a traceback."""
    if raw is None:
        return None, None
    try:
        job_id = int(raw)
    except ValueError:
        return None, f"The link's job={raw!r} is not a job number."
    try:
        job = store.get(job_id)
    except LrlabError:
        return None, f"Job {job_id} does not exist; it may have been deleted."
    if job.kind != kind:
        return None, (f"Job {job_id} is a {kind_of(job.kind).title}, not a "
                      f"{kind_of(kind).title}; open it from the Runs page.")
    return job, None


def jobs_from_link(raw: str | None, known: set[int]) -> tuple[list[int], str | None]:
    """The job ids a `?jobs=3,5` link names that exist, and a sentence about those that do not."""
    if not raw:
        return [], None
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    bad = [p for p in parts if not p.isdigit()]
    ids = [int(p) for p in parts if p.isdigit()]
    found = [i for i in ids if i in known]
    missing = [str(i) for i in ids if i not in known]
    problems = []
    if bad:
        problems.append(f"{', '.join(map(repr, bad))}: not a job number")
    if len(missing) == 1:
        problems.append(f"job {missing[0]} does not exist; it may have been deleted")
    elif missing:
        problems.append(f"jobs {', '.join(missing)} do not exist; they may have been deleted")
    return found, ("The link names " + "; ".join(problems) + ".") if problems else None
