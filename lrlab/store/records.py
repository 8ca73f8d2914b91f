"""What the store hands out: a job, a metric, a lease, a worker; and the two formats it writes
(UTC times for people, strict JSON that PostgreSQL accepts)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from lrlab.core.json_safe import json_safe
from lrlab.core.lifecycle import FINISHED


@dataclass(frozen=True)
class Job:
    """One row of the jobs table."""

    id: int
    kind: str
    config: dict[str, Any]
    status: str
    progress: float
    message: str
    worker: str | None
    heartbeat: float | None
    result: dict[str, Any] | None
    error: str | None
    cancel_requested: bool
    last_seq: int
    created: float
    started: float | None
    finished: float | None

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED


class MetricPoint(NamedTuple):
    """A metric as a runner reports it, before the store numbers it."""

    scope: str  # "step" | "epoch"
    step: int
    key: str
    value: float
    time: float


class Metric(NamedTuple):
    """A stored metric; `seq` orders a job's metrics and is the polling cursor."""

    seq: int
    scope: str
    step: int
    key: str
    value: float
    time: float


class Lease(NamedTuple):
    """What a heartbeat learns: is the job still this worker's, and should it stop."""

    held: bool
    cancel_requested: bool


@dataclass(frozen=True)
class WorkerInfo:
    """One registered worker, as the sidebar shows it."""

    id: str
    host: str
    pid: int
    device: str
    started: float
    heartbeat: float
    status: str
    job_id: int | None


def format_time(ts: float | None) -> str:
    """A stored time as UTC wall-clock text for messages and tables."""
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def strict_json(value: Any) -> str:
    """JSON that PostgreSQL accepts too: non-finite floats (a diverged loss) become null."""
    return json.dumps(json_safe(value), allow_nan=False)
