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

import threading

from lrlab.store.database import resolve_db_url
from lrlab.store.jobs import HeadlinePath, JobQueue
from lrlab.store.metrics import MetricLog
from lrlab.store.records import (
    Job,
    Lease,
    Metric,
    MetricPoint,
    WorkerInfo,
    format_time,
    strict_json,
)
from lrlab.store.schema import SCHEMA_VERSION, metadata
from lrlab.store.workers import WorkerRegistry

__all__ = ["SCHEMA_VERSION", "HeadlinePath", "Job", "Lease", "Metric", "MetricPoint", "Store",
           "WorkerInfo", "format_time", "metadata", "resolve_db_url", "shared_store",
           "strict_json"]


class Store(JobQueue, MetricLog, WorkerRegistry):
    """Jobs, metrics and workers in one database; safe to use from many processes at once.

    One `Store` per process (it owns a connection pool); a spawned child opens its own.
    """


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
