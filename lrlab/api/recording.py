"""Work run in your own process (a notebook, a script), kept in the job store as it runs: a job
held by this process, its metrics written live by the store's reporter, its heartbeat renewed
so no worker reaps it, a cancel from the app honoured between steps, and its result or error
recorded at the end. The app's pages show it like any job."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from lrlab.core.errors import LrlabError
from lrlab.core.reporting import NullReporter, Reporter, Tee
from lrlab.store import Store
from lrlab.store.reporter import StoreReporter

HEARTBEAT_S = 2.0  # well within the store's timeout, after which a silent job is failed


class _Lease(threading.Thread):
    """Renews the job's heartbeat and raises `cancel` when someone asked to stop it."""

    def __init__(self, store: Store, job_id: int, holder: str) -> None:
        super().__init__(name=f"lrlab-lease-{job_id}", daemon=True)
        self.store, self.job_id, self.holder = store, job_id, holder
        self.cancel, self.done = threading.Event(), threading.Event()

    def run(self) -> None:
        while not self.done.wait(HEARTBEAT_S):
            try:
                if self.store.heartbeat(self.job_id, self.holder).cancel_requested:
                    self.cancel.set()
            except LrlabError:  # the database is busy: the next beat tries again
                continue


class Recording:
    """Where a call reports (`reporter`), and the job it is kept as (`job_id`, None when not
    recorded); `finish` records the result."""

    def __init__(self, reporter: Reporter, store: Store | None = None,
                 job_id: int | None = None) -> None:
        self.reporter, self.store, self.job_id = reporter, store, job_id

    def finish(self, result: Mapping[str, Any], cancelled: bool = False) -> None:
        if self.store is not None and self.job_id is not None:
            status = "cancelled" if cancelled else "succeeded"
            self.store.finish(self.job_id, status, result=result)


@contextmanager
def recorded(kind: str, config: Mapping[str, Any], *, record: bool = True,
             db: str | None = None, reporter: Reporter | None = None) -> Iterator[Recording]:
    """A job of `kind` for work this process does, live in the store (``db``, else
    ``LRLAB_DB``, else the default store under ``LRLAB_HOME``) unless `record` is False. An
    error fails the job with its sentence and goes on to the caller."""
    mine = reporter or NullReporter()
    if not record:
        yield Recording(mine)
        return
    store = Store(db)
    holder = f"{socket.gethostname()}-{os.getpid()}-python"
    job_id = store.start(kind, dict(config), holder)
    lease = _Lease(store, job_id, holder)
    lease.start()
    try:
        with StoreReporter(store, job_id, lease.cancel) as live:
            recording = Recording(Tee(live, mine), store, job_id)
            try:
                yield recording
            except BaseException as exc:
                error = (str(exc) if isinstance(exc, LrlabError)
                         else f"{type(exc).__name__}: {exc}")
                live.flush()
                store.finish(job_id, "failed", error=error)
                raise
    finally:
        lease.done.set()
        lease.join()
        store.close()
