"""A job's metrics: appended in numbered batches, read back after a cursor (see lrlab.store)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from lrlab.core.errors import LrlabError
from lrlab.store.database import Database
from lrlab.store.records import Metric, MetricPoint
from lrlab.store.schema import SCOPES, jobs_table, metrics_table


def _finite_or_none(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


class MetricLog(Database):
    """The metrics table's operations."""

    def append_metrics(
        self,
        job_id: int,
        points: Sequence[MetricPoint],
        progress: tuple[float, str] | None = None,
    ) -> int:
        """Store metrics (numbered in order) and optionally progress in one transaction.

        Returns the job's last seq. Points are written even for a finished job, so the final
        flush of a run that was cancelled or reaped is not lost.
        """
        for point in points:
            if point.scope not in SCOPES:
                raise LrlabError(f"metric scope: expected one of {SCOPES}, got {point.scope!r}")
        with self._write() as conn:
            values: dict[str, Any] = {"metric_seq": jobs_table.c.metric_seq + len(points)}
            if progress is not None:
                values["progress"] = min(max(float(progress[0]), 0.0), 1.0)
                values["message"] = progress[1]
            last = conn.execute(
                jobs_table.update()
                .where(jobs_table.c.id == job_id)
                .values(**values)
                .returning(jobs_table.c.metric_seq)
            ).scalar()
            if last is None:
                raise LrlabError(f"job {job_id}: no such job in {self.display_url}")
            if points:
                first = last - len(points) + 1
                conn.execute(
                    metrics_table.insert(),
                    [
                        {
                            "job_id": job_id,
                            "seq": first + i,
                            "scope": p.scope,
                            "step": int(p.step),
                            "key": p.key,
                            "value": _finite_or_none(p.value),
                            "time": p.time,
                        }
                        for i, p in enumerate(points)
                    ],
                )
            return int(last)

    def metrics_since(
        self, job_id: int, after_seq: int = 0, limit: int | None = None
    ) -> list[Metric]:
        """A job's metrics with seq > after_seq, in order: poll with the last seq you saw."""
        query = (
            sa.select(
                metrics_table.c.seq,
                metrics_table.c.scope,
                metrics_table.c.step,
                metrics_table.c.key,
                metrics_table.c.value,
                metrics_table.c.time,
            )
            .where(metrics_table.c.job_id == job_id, metrics_table.c.seq > after_seq)
            .order_by(metrics_table.c.seq)
        )
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [
            Metric(r.seq, r.scope, r.step, r.key, math.nan if r.value is None else r.value, r.time)
            for r in rows
        ]

    def set_progress(self, job_id: int, fraction: float, message: str = "") -> None:
        self.append_metrics(job_id, [], progress=(fraction, message))
