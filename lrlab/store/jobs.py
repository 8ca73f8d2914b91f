"""The queue: submitting, claiming, heartbeating, finishing, cancelling, listing and reaping jobs.
A claim hands each job out at most once (see lrlab.store)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lrlab.core.errors import LrlabError
from lrlab.core.lifecycle import FINISHED, STATUSES
from lrlab.core.options import HEARTBEAT_TIMEOUT_S
from lrlab.core.validation import require_mapping
from lrlab.store.database import Database
from lrlab.store.records import Job, Lease, format_time, strict_json
from lrlab.store.schema import jobs_table, metrics_table


def _storable_job(kind: str, config: Mapping[str, Any]) -> None:
    """Refuse a job the table cannot hold, naming why."""
    if not isinstance(kind, str) or not 0 < len(kind) <= 16:
        raise LrlabError(f"job kind: expected a name of 1 to 16 characters, got {kind!r}")
    require_mapping(config, "job config")
    try:
        strict_json(config)
    except (TypeError, ValueError) as exc:
        raise LrlabError(f"job config: cannot be stored as JSON ({exc})") from exc


# A figure a summary read takes from each stored result: ((section, key), is text). The database
# reads it from the JSON, so listing 300 jobs does not load 300 curves.
HeadlinePath = tuple[tuple[str, str], bool]


def _headline_columns(paths: Sequence[HeadlinePath]) -> list[Any]:
    columns = []
    for (section, key), text in paths:
        value = jobs_table.c.result[section][key]
        value = value.as_string() if text else value.as_float()
        columns.append(value.label(f"headline__{section}__{key}"))
    return columns


def _headline_result(row: sa.Row, paths: Sequence[HeadlinePath]) -> dict[str, Any] | None:
    """The headline fields of a row read in summary mode, as a (partial) result mapping."""
    found: dict[str, Any] = {}
    for (section, key), _ in paths:
        value = getattr(row, f"headline__{section}__{key}")
        if value is not None:
            found.setdefault(section, {})[key] = value
    return found or None


def _job_from_row(row: sa.Row, headlines: Sequence[HeadlinePath] | None = None) -> Job:
    return Job(
        id=row.id,
        kind=row.kind,
        config=row.config,
        status=row.status,
        progress=row.progress,
        message=row.message,
        worker=row.worker,
        heartbeat=row.heartbeat,
        result=row.result if headlines is None else _headline_result(row, headlines),
        error=row.error,
        cancel_requested=bool(row.cancel_requested),
        last_seq=row.metric_seq,
        created=row.created,
        started=row.started,
        finished=row.finished,
    )


class JobQueue(Database):
    """The jobs table's operations."""

    # -- jobs --------------------------------------------------------------------------------

    def submit(self, kind: str, config: Mapping[str, Any]) -> int:
        """Queue a job and return its id (validate its config first: lrlab.jobs.kinds)."""
        _storable_job(kind, config)
        with self._write() as conn:
            return self._insert(conn, kind, config, time.time())

    def submit_group(self, kind: str, config: Mapping[str, Any],
                     children: Callable[[int], Sequence[tuple[str, Mapping[str, Any]]]]) -> int:
        """Queue a group job with the jobs `children(group_id)` names, in one transaction (a
        child that cannot be stored undoes all). The group is stored as running and never
        claimed; its config gains `children`, their ids."""
        _storable_job(kind, config)
        now = time.time()
        with self._write() as conn:
            job_id = self._insert(conn, kind, config, now, running=True)
            group = list(children(job_id))
            for child_kind, child in group:
                _storable_job(child_kind, child)
            ids = [self._insert(conn, k, c, now) for k, c in group]
            conn.execute(jobs_table.update().where(jobs_table.c.id == job_id).values(
                config={**config, "children": ids},
                message=f"0 of {len(ids)} points done"))
            return job_id

    @staticmethod
    def _insert(conn: Connection, kind: str, config: Mapping[str, Any], now: float,
                *, running: bool = False) -> int:
        inserted = conn.execute(
            jobs_table.insert().values(
                kind=kind,
                config=dict(config),
                status="running" if running else "queued",
                progress=0.0,
                message="queued",
                cancel_requested=False,
                metric_seq=0,
                created=now,
                started=now if running else None,
            )
        )
        return int(inserted.inserted_primary_key[0])

    def record(self, kind: str, config: Mapping[str, Any], result: Mapping[str, Any]) -> int:
        """Keep work done elsewhere (an imported range-test curve) as a job that succeeded,
        so it is listed, opened and built on like one that ran here."""
        now = time.time()
        with self._write() as conn:
            job_id = self._insert(conn, kind, config, now, running=True)
            conn.execute(jobs_table.update().where(jobs_table.c.id == job_id).values(
                status="succeeded", finished=now, progress=1.0, result=dict(result),
                message="kept"))
        return job_id

    def start(self, kind: str, config: Mapping[str, Any], holder: str) -> int:
        """A job its caller runs itself (``lrlab.find`` in a notebook): running at once, held
        by `holder`, which renews its heartbeat (`heartbeat`) as a worker would."""
        now = time.time()
        with self._write() as conn:
            job_id = self._insert(conn, kind, config, now, running=True)
            conn.execute(jobs_table.update().where(jobs_table.c.id == job_id).values(
                worker=holder, heartbeat=now, message="started"))
        return job_id

    def claim(self, worker_id: str) -> Job | None:
        """Atomically take the oldest queued job for this worker, or None if the queue is empty."""
        queued = sa.select(jobs_table.c.id).where(jobs_table.c.status == "queued").limit(1)
        with self._read() as conn:  # idle workers poll often; an empty queue takes no write lock
            if conn.execute(queued).first() is None:
                return None
        now = time.time()
        with self._write() as conn:
            oldest = (
                sa.select(jobs_table.c.id)
                .where(jobs_table.c.status == "queued")
                .order_by(jobs_table.c.id)
                .limit(1)
                .with_for_update(skip_locked=True)  # PostgreSQL; SQLite holds the write lock
            )
            job_id = conn.execute(oldest).scalar()
            if job_id is None:
                return None
            taken = conn.execute(
                jobs_table.update()
                .where(jobs_table.c.id == job_id, jobs_table.c.status == "queued")
                .values(
                    status="running",
                    worker=worker_id,
                    heartbeat=now,
                    started=now,
                    message="started",
                )
            )
            if taken.rowcount != 1:
                return None
            return _job_from_row(self._get_row(conn, job_id))

    def heartbeat(self, job_id: int, worker_id: str) -> Lease:
        """Renew a running job's heartbeat; says if it is still ours and if cancel was asked."""
        with self._write() as conn:
            cancel = conn.execute(
                jobs_table.update()
                .where(
                    jobs_table.c.id == job_id,
                    jobs_table.c.status == "running",
                    jobs_table.c.worker == worker_id,
                )
                .values(heartbeat=time.time())
                .returning(jobs_table.c.cancel_requested)
            ).first()
        if cancel is None:
            return Lease(held=False, cancel_requested=False)
        return Lease(held=True, cancel_requested=bool(cancel[0]))

    def finish(
        self,
        job_id: int,
        status: str,
        *,
        result: Mapping[str, Any] | None = None,
        error: str | None = None,
        worker_id: str | None = None,
    ) -> bool:
        """End a running job; False if it was no longer running (reaped) or not this worker's."""
        if status not in FINISHED:
            raise LrlabError(f"job status: expected one of {sorted(FINISHED)}, got {status!r}")
        conditions = [jobs_table.c.id == job_id, jobs_table.c.status == "running"]
        if worker_id is not None:
            conditions.append(jobs_table.c.worker == worker_id)
        values: dict[str, Any] = {
            "status": status,
            "finished": time.time(),
            "result": dict(result) if result is not None else None,
            "error": error,
            "message": status,
        }
        if status == "succeeded":
            values["progress"] = 1.0
        with self._write() as conn:
            return (
                conn.execute(jobs_table.update().where(*conditions).values(**values)).rowcount == 1
            )

    def request_cancel(self, job_id: int) -> str:
        """Cancel a queued job at once, or flag a running one for its worker; returns the status.
        A group (an LR check ladder) is flagged and all its children are cancelled with it."""
        now = time.time()
        with self._write() as conn:
            row = self._get_row(conn, job_id)
            children = (row.config or {}).get("children") or []
            for child in [job_id, *children]:
                conn.execute(
                    jobs_table.update()
                    .where(jobs_table.c.id == child, jobs_table.c.status == "queued")
                    .values(
                        status="cancelled",
                        cancel_requested=True,
                        finished=now,
                        message="cancelled before it started",
                    )
                )
                conn.execute(
                    jobs_table.update()
                    .where(jobs_table.c.id == child, jobs_table.c.status == "running")
                    .values(cancel_requested=True, message="cancel requested")
                )
            return self._get_row(conn, job_id).status

    def get(self, job_id: int) -> Job:
        with self._read() as conn:
            return _job_from_row(self._get_row(conn, job_id))

    def list_jobs(
        self,
        limit: int | None = 50,
        *,
        kind: str | None = None,
        status: str | None = None,
        exclude_kinds: Sequence[str] = (),
        headlines: Sequence[HeadlinePath] | None = None,
    ) -> list[Job]:
        """Jobs newest first, optionally of one kind and/or status. With `headlines`, each job's
        result holds only those fields (a summary read, for tables and pickers)."""
        if headlines is not None:
            columns = [c for c in jobs_table.c if c.name != "result"] + _headline_columns(
                headlines)
            query = sa.select(*columns)
        else:
            query = sa.select(jobs_table)
        query = query.order_by(jobs_table.c.id.desc())
        if kind is not None:
            query = query.where(jobs_table.c.kind == kind)
        if exclude_kinds:
            query = query.where(jobs_table.c.kind.not_in(list(exclude_kinds)))
        if status is not None:
            if status not in STATUSES:
                raise LrlabError(
                    f"job status: expected one of {', '.join(STATUSES)}, got {status!r}"
                )
            query = query.where(jobs_table.c.status == status)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            return [_job_from_row(row, headlines) for row in conn.execute(query)]

    def delete(self, job_id: int) -> None:
        """Remove a job and its metrics. A running job must be cancelled first."""
        with self._write() as conn:
            if self._get_row(conn, job_id).status == "running":
                raise LrlabError(f"job {job_id} is running; cancel it before deleting it")
            conn.execute(metrics_table.delete().where(metrics_table.c.job_id == job_id))
            conn.execute(jobs_table.delete().where(jobs_table.c.id == job_id))

    def fail_stale(self, timeout_s: float = HEARTBEAT_TIMEOUT_S) -> list[int]:
        """Mark running jobs whose heartbeat is older than timeout_s as failed; their ids.

        Any process may call this (workers, `lrlab jobs`, the app): it is what guarantees that no
        job stays "running" after its worker died. Metrics written so far are kept. Group jobs
        (no heartbeat) are ended by their own kind's code (lrlab.jobs.kinds.reap).
        """
        return self._reap(timeout_s)

    def _reap(self, timeout_s: float) -> list[int]:
        cutoff = time.time() - timeout_s
        stale = sa.and_(jobs_table.c.status == "running", jobs_table.c.heartbeat < cutoff)
        with self._read() as conn:  # the common case, nothing stale, takes no write lock
            if conn.execute(sa.select(jobs_table.c.id).where(stale).limit(1)).first() is None:
                return []
        reaped = []
        with self._write() as conn:
            rows = conn.execute(
                sa.select(jobs_table.c.id, jobs_table.c.worker, jobs_table.c.heartbeat)
                .where(stale)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                reason = (
                    f"worker {row.worker} stopped heartbeating (presumed dead) at "
                    f"{format_time(row.heartbeat)}"
                )
                done = conn.execute(
                    jobs_table.update()
                    .where(jobs_table.c.id == row.id, stale)
                    .values(status="failed", error=reason, finished=time.time(), message="failed")
                )
                if done.rowcount == 1:
                    reaped.append(row.id)
        return reaped
