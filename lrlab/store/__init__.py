"""The job store: jobs, their metrics and the live workers, in one database.

The store is the only thing the web app and the workers share, so it must work with no service on
one machine (a SQLite file in WAL mode, the default) and with several GPU machines sharing one queue
(PostgreSQL). SQLAlchemy Core gives both from one code path; the few places where the databases
differ are the connection set-up and the locking of a claim:

- SQLite: every write transaction starts with `BEGIN IMMEDIATE`, which takes the database's single
  write lock up front (waiting up to the busy timeout), so a claim's read-then-update cannot
  interleave with another process's.
- PostgreSQL: a claim picks its row with `SELECT ... FOR UPDATE SKIP LOCKED`, so concurrent workers
  take different rows without waiting on each other.

Either way the claiming UPDATE repeats `status = 'queued'` in its WHERE clause and checks the row
count, so a job is handed out at most once.

Metrics get a per-job sequence number `seq`, assigned by bumping a counter on the job row inside the
inserting transaction. The row lock serialises appends per job, so a reader that polls
`seq > last_seen` never skips a row that commits later with a smaller number.

Times are Unix seconds (floats) from the writer's clock; workers on several machines need
synchronised clocks (NTP) for the heartbeat timeout to be meaningful.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine, make_url

from lrlab.core.errors import LrlabError
from lrlab.core.options import HEARTBEAT_TIMEOUT_S
from lrlab.core.paths import lrlab_home
from lrlab.jobs.kinds import KINDS, expand, is_group, refresh_groups
from lrlab.store.lifecycle import FINISHED, STATUSES

SCHEMA_VERSION = 1
SCOPES = ("step", "epoch")
_WORKER_ROW_RETENTION_S = 24 * 3600.0
_WRITE = "lrlab_write"  # execution option: start the SQLite transaction with BEGIN IMMEDIATE

metadata = sa.MetaData()

meta_table = sa.Table(
    "lrlab_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)

jobs_table = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("progress", sa.Float, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("worker", sa.String(128)),
    sa.Column("heartbeat", sa.Float),
    sa.Column("result", sa.JSON),
    sa.Column("error", sa.Text),
    sa.Column("cancel_requested", sa.Boolean, nullable=False),
    sa.Column("metric_seq", sa.Integer, nullable=False),  # last seq handed out for this job
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("started", sa.Float),
    sa.Column("finished", sa.Float),
    sa.Index("ix_jobs_status_id", "status", "id"),
    # Never reuse the id of a deleted job: a bookmarked job URL must not open someone else's job.
    sqlite_autoincrement=True,
)

metrics_table = sa.Table(
    "metrics",
    metadata,
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("scope", sa.String(8), nullable=False),  # "step" | "epoch"
    sa.Column("step", sa.Integer, nullable=False),  # the step or epoch number
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("value", sa.Float),  # NULL stands for NaN (SQLite cannot store NaN)
    sa.Column("time", sa.Float, nullable=False),
)

workers_table = sa.Table(
    "workers",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("device", sa.String(255), nullable=False),
    sa.Column("started", sa.Float, nullable=False),
    sa.Column("heartbeat", sa.Float, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # idle | busy | stopped
    sa.Column("job_id", sa.Integer),
)


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


def resolve_db_url(url: str | None = None) -> str:
    """The database to use: an explicit URL (--db), else $LRLAB_DB, else $LRLAB_HOME/lrlab.db."""
    if url:
        return url
    if os.environ.get("LRLAB_DB"):
        return os.environ["LRLAB_DB"]
    return f"sqlite:///{lrlab_home() / 'lrlab.db'}"


def format_time(ts: float | None) -> str:
    """A stored time as UTC wall-clock text for messages and tables."""
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def strict_json(value: Any) -> str:
    """JSON that PostgreSQL accepts too: non-finite floats (a diverged loss) become null."""

    def clean(obj: Any) -> Any:
        if isinstance(obj, float) and not math.isfinite(obj):
            return None
        if isinstance(obj, Mapping):
            return {str(k): clean(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [clean(v) for v in obj]
        return obj

    return json.dumps(clean(value), allow_nan=False)


def _storable(config: Mapping[str, Any]) -> None:
    """Refuse a job config the JSON column cannot hold, naming why."""
    try:
        strict_json(config)
    except (TypeError, ValueError) as exc:
        raise LrlabError(f"job config: cannot be stored as JSON ({exc})") from exc


def _finite_or_none(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _create_engine(url: str) -> tuple[Engine, URL]:
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError as exc:
        raise LrlabError(
            f"database URL: cannot parse {url!r}; expected e.g. sqlite:////path/to/lrlab.db "
            "or postgresql+psycopg://user@host/dbname"
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file::memory:"):
            raise LrlabError(
                "database URL: an in-memory SQLite database cannot be shared by the app and "
                "workers; give a file, e.g. sqlite:////path/to/lrlab.db"
            )
        folder = Path(database).expanduser().resolve().parent
        if not folder.is_dir():
            raise LrlabError(f"database URL: folder {folder} does not exist")
    elif backend != "postgresql":
        raise LrlabError(
            f"database URL: backend {backend!r} is not supported; use sqlite or postgresql"
        )
    try:
        engine = sa.create_engine(
            parsed, json_serializer=strict_json, pool_pre_ping=backend == "postgresql"
        )
    except (sa_exc.NoSuchModuleError, ImportError) as exc:
        raise LrlabError(
            f"database URL: no driver for {parsed.drivername!r} is installed ({exc})"
        ) from exc
    if backend == "sqlite":
        _configure_sqlite(engine)
    return engine, parsed


def _configure_sqlite(engine: Engine) -> None:
    """WAL (readers never block the writer), a busy timeout, and BEGIN issued by us.

    pysqlite's own transaction handling would begin lazily and let two processes both read the
    queue before either writes; owning BEGIN lets write transactions take the lock up front.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = "IMMEDIATE" if connection.get_execution_options().get(_WRITE) else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")


# What a list of jobs shows of each result (a table's headline columns): read from the stored
# JSON by the database, so listing 300 jobs does not load 300 curves.
HEADLINE_PATHS = (("summary", "best_val_top1"), ("summary", "final_val_top1"),
                  ("suggestions", "consensus"), ("trust", "level"), ("best", "final_val_top1"))


def _headline_columns() -> list[Any]:
    columns = []
    for section, key in HEADLINE_PATHS:
        value = jobs_table.c.result[section][key]
        value = value.as_string() if key == "level" else value.as_float()
        columns.append(value.label(f"headline__{section}__{key}"))
    return columns


def _headline_result(row: sa.Row) -> dict[str, Any] | None:
    """The headline fields of a row read in summary mode, as a (partial) result mapping."""
    found: dict[str, Any] = {}
    for section, key in HEADLINE_PATHS:
        value = getattr(row, f"headline__{section}__{key}")
        if value is not None:
            found.setdefault(section, {})[key] = value
    return found or None


def _job_from_row(row: sa.Row, *, summary: bool = False) -> Job:
    return Job(
        id=row.id,
        kind=row.kind,
        config=row.config,
        status=row.status,
        progress=row.progress,
        message=row.message,
        worker=row.worker,
        heartbeat=row.heartbeat,
        result=_headline_result(row) if summary else row.result,
        error=row.error,
        cancel_requested=bool(row.cancel_requested),
        last_seq=row.metric_seq,
        created=row.created,
        started=row.started,
        finished=row.finished,
    )


class Store:
    """Jobs, metrics and workers in one database; safe to use from many processes at once.

    One `Store` per process (it owns a connection pool); a spawned child opens its own.
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = resolve_db_url(url)
        self._engine, parsed = _create_engine(self.url)
        self.display_url = parsed.render_as_string(hide_password=True)
        self._ensure_schema()

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A transaction that will write: on SQLite it holds the write lock from its start."""
        try:
            with self._engine.connect() as conn:
                conn.execution_options(**{_WRITE: True})
                with conn.begin():
                    yield conn
        except sa_exc.OperationalError as exc:
            raise self._database_error(exc) from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn:
                yield conn
        except sa_exc.OperationalError as exc:
            raise self._database_error(exc) from exc

    def _database_error(self, exc: sa_exc.OperationalError) -> LrlabError:
        detail = " ".join(str(exc.orig).split())  # drivers' messages span lines; ours is one
        return LrlabError(f"database {self.display_url}: {detail}")

    def _ensure_schema(self) -> None:
        for attempt in range(2):
            try:
                with self._write() as conn:
                    metadata.create_all(conn)
                    version = conn.execute(
                        sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")
                    ).scalar()
                    if version is None:
                        conn.execute(
                            meta_table.insert().values(
                                key="schema_version", value=str(SCHEMA_VERSION)
                            )
                        )
                    elif int(version) != SCHEMA_VERSION:
                        raise LrlabError(
                            f"database {self.display_url}: schema version {version}; this lrlab "
                            f"reads version {SCHEMA_VERSION}"
                        )
                return
            except (sa_exc.IntegrityError, sa_exc.ProgrammingError):
                # Another process created the schema at the same moment (PostgreSQL); look again.
                if attempt == 1:
                    raise

    def _get_row(self, conn: Connection, job_id: int) -> sa.Row:
        row = conn.execute(sa.select(jobs_table).where(jobs_table.c.id == job_id)).first()
        if row is None:
            raise LrlabError(f"job {job_id}: no such job in {self.display_url}")
        return row

    # -- jobs --------------------------------------------------------------------------------

    def submit(self, kind: str, config: Mapping[str, Any]) -> int:
        """Queue a job and return its id. Validate the config first (lrlab.jobs.kinds).

        A group kind (an LR check ladder) queues its children in the same transaction and is
        itself stored as running, never claimed; its config gains `children`, their ids."""
        if kind not in KINDS:
            raise LrlabError(f"job kind: expected one of {', '.join(KINDS)}, got {kind!r}")
        if not isinstance(config, Mapping):
            raise LrlabError(f"job config: expected a mapping, got {type(config).__name__}")
        _storable(config)
        grouping = is_group(kind)
        now = time.time()
        with self._write() as conn:
            job_id = self._insert(conn, kind, config, now, running=grouping)
            if grouping:  # its children know its id; a child that cannot be stored undoes all
                group = expand(kind, config, job_id)
                for _, child in group:
                    _storable(child)
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
        summary: bool = False,
    ) -> list[Job]:
        """Jobs newest first, optionally of one kind and/or status. With `summary`, each job's
        result holds only its headline fields (HEADLINE_PATHS), for tables and pickers."""
        if summary:
            columns = [c for c in jobs_table.c if c.name != "result"] + _headline_columns()
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
            return [_job_from_row(row, summary=summary) for row in conn.execute(query)]

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
        job stays "running" after its worker died. Metrics written so far are kept.
        """
        reaped = self._reap(timeout_s)
        refresh_groups(self)  # and no group (ladder) stays running once its children ended
        return reaped

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

    def mark_worker_dead(self, host: str, pid: int, reason: str) -> list[int]:
        """A supervisor saw worker process `pid` on `host` die: mark it stopped and fail its
        running jobs now with the reason (rather than after the heartbeat timeout); their ids.
        Metrics written so far are kept."""
        with self._write() as conn:
            ids = [
                row.id
                for row in conn.execute(
                    sa.select(workers_table.c.id).where(
                        workers_table.c.host == host, workers_table.c.pid == pid
                    )
                )
            ]
            if not ids:
                return []
            conn.execute(
                workers_table.update()
                .where(workers_table.c.id.in_(ids))
                .values(status="stopped", job_id=None)
            )
            running = sa.and_(jobs_table.c.status == "running", jobs_table.c.worker.in_(ids))
            failed = [row.id for row in conn.execute(sa.select(jobs_table.c.id).where(running))]
            conn.execute(
                jobs_table.update()
                .where(running)
                .values(status="failed", error=reason, finished=time.time(), message="failed")
            )
        return failed

    # -- workers -----------------------------------------------------------------------------

    def register_worker(
        self, device: str, *, host: str | None = None, pid: int | None = None
    ) -> str:
        """Record a starting worker and return its id (host-pid-random, unique across restarts)."""
        host = host or socket.gethostname()
        pid = os.getpid() if pid is None else pid
        worker_id = f"{host}-{pid}-{secrets.token_hex(3)}"
        now = time.time()
        with self._write() as conn:
            conn.execute(
                workers_table.delete().where(
                    sa.or_(
                        workers_table.c.status == "stopped",
                        workers_table.c.heartbeat < now - _WORKER_ROW_RETENTION_S,
                    )
                )
            )
            conn.execute(
                workers_table.insert().values(
                    id=worker_id,
                    host=host,
                    pid=pid,
                    device=device,
                    started=now,
                    heartbeat=now,
                    status="idle",
                    job_id=None,
                )
            )
        return worker_id

    def worker_heartbeat(self, worker_id: str, status: str, job_id: int | None = None) -> None:
        """Say the worker is alive and whether it is idle, busy (with job_id) or stopped."""
        with self._write() as conn:
            conn.execute(
                workers_table.update()
                .where(workers_table.c.id == worker_id)
                .values(heartbeat=time.time(), status=status, job_id=job_id)
            )

    def live_workers(self, max_age_s: float = HEARTBEAT_TIMEOUT_S) -> list[WorkerInfo]:
        """Workers that heartbeated within max_age_s and did not say they stopped."""
        query = (
            sa.select(workers_table)
            .where(
                workers_table.c.status != "stopped",
                workers_table.c.heartbeat >= time.time() - max_age_s,
            )
            .order_by(workers_table.c.started)
        )
        with self._read() as conn:
            return [
                WorkerInfo(
                    id=r.id,
                    host=r.host,
                    pid=r.pid,
                    device=r.device,
                    started=r.started,
                    heartbeat=r.heartbeat,
                    status=r.status,
                    job_id=r.job_id,
                )
                for r in conn.execute(query)
            ]


_shared: dict[str, Store] = {}
_shared_lock = threading.Lock()


def shared_store(url: str | None = None) -> Store:
    """This process's one Store for a database (it owns a connection pool): the app's pages and
    its worker supervisor share it rather than each keeping a cache."""
    resolved = resolve_db_url(url)
    with _shared_lock:
        if resolved not in _shared:
            _shared[resolved] = Store(resolved)
        return _shared[resolved]
