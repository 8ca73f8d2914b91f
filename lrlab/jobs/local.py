"""The app's side of workers: find live ones through the store, start a local one if none.

`streamlit run app.py` must work on its own, so when no worker has heartbeated recently the app
starts `lrlab worker` as a background process, once per server process and database, and stops it
when the server exits (the worker also exits on its own if the server dies: `--exit-with`).
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from lrlab.errors import LrlabError
from lrlab.jobs.store import Store, WorkerInfo, lrlab_home, resolve_db_url

_CHECK_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class WorkerStatus:
    """What the sidebar shows: the live workers and whether this server started one."""

    workers: list[WorkerInfo]
    started_pid: int | None  # the worker this server started, if any
    log_path: Path | None  # where that worker writes its log
    failure: str | None = None  # why the worker this server started could not keep running

    @property
    def starting(self) -> bool:
        """True while the worker this server started has not registered yet."""
        return self.started_pid is not None and not any(
            w.pid == self.started_pid for w in self.workers
        )

    def summary(self) -> str:
        if not self.workers:
            if self.failure:
                return f"No live worker: {self.failure}"
            if self.starting:
                return "Starting a local worker..."
            return "No live worker"
        parts = []
        for worker in self.workers:
            state = f"job {worker.job_id}" if worker.status == "busy" else worker.status
            local = " (started by this app)" if worker.pid == self.started_pid else ""
            parts.append(f"{worker.device}, {state}{local}")
        noun = "worker" if len(self.workers) == 1 else "workers"
        return f"{len(self.workers)} {noun}: " + "; ".join(parts)


# A local worker that dies sooner than this after its start is not restarted (it would crash
# again on every page refresh); the sidebar shows why instead.
_MIN_UPTIME_S = 15.0
LOCAL_WORKER_NICENESS = 10  # the app's own worker yields the CPU to the pages


@dataclass(frozen=True)
class _LocalWorker:
    process: subprocess.Popen
    log_path: Path
    started: float

    def failure(self) -> str:
        lines = self.log_path.read_text(errors="replace").strip().splitlines()
        last = f": {lines[-1]}" if lines else ""
        return f"the local worker exited with code {self.process.returncode}{last}"


_lock = threading.Lock()
_stores: dict[str, Store] = {}
_started: dict[str, _LocalWorker] = {}


def _store(url: str) -> Store:
    with _lock:
        if url not in _stores:
            _stores[url] = Store(url)
        return _stores[url]


def live_workers(store: Store) -> list[WorkerInfo]:
    """Live workers, after reaping jobs of dead ones (so the app never shows a ghost as running)."""
    store.fail_stale()
    return store.live_workers()


def ensure_local_worker(db_url: str | None = None) -> WorkerStatus:
    """Find a live worker; if there is none, start one (at most one at a time per server),
    unless LRLAB_LOCAL_WORKER=0 says workers are run elsewhere."""
    url = resolve_db_url(db_url)
    workers = live_workers(_store(url))
    if os.environ.get("LRLAB_LOCAL_WORKER", "1") == "0":
        # Workers run elsewhere (a compose worker service, GPU machines): never start one here.
        return WorkerStatus(workers, None, None)
    with _lock:
        local = _started.get(url)
        if local is not None and local.process.poll() is None:
            return WorkerStatus(workers, local.process.pid, local.log_path)
        if workers:
            return WorkerStatus(workers, None, None)
        if local is not None and time.monotonic() - local.started < _MIN_UPTIME_S:
            return WorkerStatus(workers, None, local.log_path, failure=local.failure())
        local = _start_worker(url)
        _started[url] = local
        return WorkerStatus(workers, local.process.pid, local.log_path)


def _start_worker(url: str) -> _LocalWorker:
    logs = lrlab_home() / "logs"
    logs.mkdir(exist_ok=True)
    log_path = logs / f"worker-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    command = [
        sys.executable,
        "-m",
        "lrlab.cli",
        "worker",
        "--db",
        url,
        "--exit-with",
        str(os.getpid()),
        "--nice",  # the app and its worker share the CPU: the pages keep priority
        str(LOCAL_WORKER_NICENESS),
    ]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the app's terminal goes to the app, not the worker
        )
    atexit.register(_stop_worker, process)
    return _LocalWorker(process, log_path, time.monotonic())


def stop_local_workers() -> None:
    """Stop the workers this process started (also done at exit)."""
    with _lock:
        started = list(_started.values())
        _started.clear()
    for local in started:
        _stop_worker(local.process)


def _stop_worker(process: subprocess.Popen) -> None:
    """Graceful stop (the worker fails its running job with a clear reason), then force."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def check_workers(store: Store, timeout_s: float = _CHECK_TIMEOUT_S) -> str:
    """Prove a live worker runs jobs end to end: queue a tiny self-test and wait for it."""
    workers = live_workers(store)
    if not workers:
        raise LrlabError(f"no live worker on {store.display_url}; start one with `lrlab worker`")
    if not any(w.status == "idle" for w in workers):
        return f"{len(workers)} live worker(s), all busy; not queueing a self-test behind them"
    job_id = store.submit("selftest", {"steps": 5})
    deadline = time.monotonic() + timeout_s
    try:
        while not (job := store.get(job_id)).is_finished:
            if time.monotonic() > deadline:
                store.request_cancel(job_id)
                raise LrlabError(f"self-test job {job_id} did not finish within {timeout_s:g} s")
            time.sleep(0.1)
    finally:
        if store.get(job_id).is_finished:
            store.delete(job_id)
    if job.status != "succeeded":
        raise LrlabError(f"self-test job {job_id} {job.status}: {job.error}")
    device = next((w.device for w in workers if w.id == job.worker), "?")
    seconds = (job.finished or 0.0) - job.created
    return f"ok: worker {job.worker} ({device}) ran a self-test {seconds:.2f} s after it was queued"
