"""The live workers: registered, heartbeating, listed, and marked dead with their jobs failed."""

from __future__ import annotations

import os
import secrets
import socket
import time

import sqlalchemy as sa

from lrlab.core.options import HEARTBEAT_TIMEOUT_S
from lrlab.store.database import Database
from lrlab.store.records import WorkerInfo
from lrlab.store.schema import jobs_table, workers_table

_WORKER_ROW_RETENTION_S = 24 * 3600.0


class WorkerRegistry(Database):
    """The workers table's operations."""

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
