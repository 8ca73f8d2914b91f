"""The app's own worker: started with the server, kept alive by a supervisor thread.

`make run` must work on its own, with no page open: a job queued from the CLI right after start,
or after the worker died, must still run. So the server process owns a supervisor that checks its
`lrlab worker` child about once a second and restarts it when it dies, at once after a long life
and with growing back-off (1, 2, 4 ... 60 s) while it keeps dying young. When the child dies it
fails the job the child was running with the reason, rather than leaving it to the heartbeat
timeout. The worker exits by itself if the server dies (`--exit-with`).

No local worker is started while another live worker serves the same store (a compose worker
service, GPU machines), nor at all with LRLAB_LOCAL_WORKER=0.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from lrlab.core.errors import LrlabError
from lrlab.core.paths import lrlab_home
from lrlab.jobs import kinds
from lrlab.store import Store, WorkerInfo, format_time, resolve_db_url, shared_store

_CHECK_TIMEOUT_S = 60.0
SUPERVISE_EVERY_S = 1.0
# A worker that dies sooner than this after its start is restarted with back-off: it would
# otherwise crash again at once, forever.
MIN_UPTIME_S = 15.0
MAX_BACKOFF_S = 60.0
LOCAL_WORKER_NICENESS = 10  # the app's own worker yields the CPU to the pages (max 19)


@dataclass(frozen=True)
class WorkerStatus:
    """What the sidebar shows: the live workers and the state of this server's own worker."""

    workers: list[WorkerInfo]
    started_pid: int | None  # the worker this server runs now, if any
    log_path: Path | None  # where that worker writes its log
    failure: str | None = None  # how this server's worker last died
    restarts: int = 0  # how often the supervisor restarted it
    retry_in_s: float | None = None  # seconds until the next restart, while backing off

    @property
    def starting(self) -> bool:
        """True while the worker this server started has not registered yet."""
        return self.started_pid is not None and not any(
            w.pid == self.started_pid for w in self.workers
        )

    def summary(self) -> str:
        if not self.workers:
            if self.starting:
                return "Starting a local worker..."
            if self.failure:
                retry = (
                    f"; restarting in {self.retry_in_s:.0f} s"
                    if self.retry_in_s is not None
                    else ""
                )
                return f"No live worker: {self.failure}{retry}"
            return "No live worker"
        parts = []
        for worker in self.workers:
            state = f"job {worker.job_id}" if worker.status == "busy" else worker.status
            local = " (started by this app)" if worker.pid == self.started_pid else ""
            parts.append(f"{worker.device}, {state}{local}")
        noun = "worker" if len(self.workers) == 1 else "workers"
        return f"{len(self.workers)} {noun}: " + "; ".join(parts)

    def restart_note(self) -> str | None:
        """A line for the sidebar once the supervisor has had to restart the worker."""
        if not self.restarts:
            return None
        times = "once" if self.restarts == 1 else f"{self.restarts} times"
        return f"Local worker restarted {times}; last exit: {self.failure}"


def describe_exit(code: int | None) -> str:
    """'killed by SIGKILL' / 'exited with code 1' for a child's return code."""
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


class LocalWorkerSupervisor:
    """Keeps one `lrlab worker` child alive for this server and one store."""

    def __init__(
        self,
        url: str,
        *,
        every_s: float = SUPERVISE_EVERY_S,
        min_uptime_s: float = MIN_UPTIME_S,
        max_backoff_s: float = MAX_BACKOFF_S,
    ) -> None:
        self.url = url
        self.every_s = every_s
        self.min_uptime_s = min_uptime_s
        self.max_backoff_s = max_backoff_s
        self.store = shared_store(url)
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self.started_at = 0.0
        self.restarts = 0
        self.quick_deaths = 0  # consecutive deaths before min_uptime_s
        self.failure: str | None = None
        self.next_start = 0.0  # monotonic time before which no restart is tried
        self._pids: set[int] = set()  # every worker this supervisor started
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start supervising (idempotent); the first check runs before this returns. Pages call
        this on every refresh, so once the thread runs it costs nothing."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
        self.tick()
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._loop, name="lrlab-worker-supervisor", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.tick()
            except Exception as exc:  # the store is down: keep supervising, say why
                print(f"lrlab: worker supervisor: {exc}", file=sys.stderr, flush=True)

    def tick(self) -> None:
        """One supervision step: notice a death, then (re)start when due and needed."""
        with self._lock:
            now = time.monotonic()
            if self.process is not None and self.process.poll() is not None:
                self._on_death(now)
            if self.process is not None or now < self.next_start:
                return
            if any(not self._is_ours(w) for w in live_workers(self.store)):
                return  # another worker serves this store
            if self._pids:  # started before: this is a restart
                self.restarts += 1
            self._spawn()

    def _is_ours(self, worker: WorkerInfo) -> bool:
        return worker.host == socket.gethostname() and worker.pid in self._pids

    def _on_death(self, now: float) -> None:
        assert self.process is not None and self.log_path is not None
        how = describe_exit(self.process.returncode)
        lines = self.log_path.read_text(errors="replace").strip().splitlines()
        last = f" ({lines[-1].strip()})" if lines and self.process.returncode != -9 else ""
        self.failure = f"the local worker {how} at {format_time(time.time())}{last}"
        failed = self.store.mark_worker_dead(
            socket.gethostname(), self.process.pid, f"the app's local worker {how}"
        )
        if failed:
            ids = ", ".join(str(i) for i in failed)
            print(f"lrlab: local worker {how}; failed job(s) {ids}", file=sys.stderr, flush=True)
        lived = now - self.started_at
        self.quick_deaths = self.quick_deaths + 1 if lived < self.min_uptime_s else 0
        delay = 0.0 if not self.quick_deaths else 2.0 ** (self.quick_deaths - 1)
        self.next_start = now + min(delay, self.max_backoff_s)
        self.process = None

    def _spawn(self) -> None:
        logs = lrlab_home() / "logs"
        logs.mkdir(exist_ok=True)
        self.log_path = logs / f"worker-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        command = [
            sys.executable, "-m", "lrlab.cli", "worker", "--db", self.url,
            "--exit-with", str(os.getpid()),
            "--nice", str(LOCAL_WORKER_NICENESS),  # the pages keep CPU priority
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the app's terminal goes to the app
            )
        self._pids.add(self.process.pid)
        self.started_at = time.monotonic()
        atexit.register(_stop_worker, self.process)

    def status(self) -> WorkerStatus:
        workers = live_workers(self.store)
        with self._lock:
            process = self.process
            retry = None
            if process is None and self.failure is not None:
                retry = max(0.0, self.next_start - time.monotonic())
            return WorkerStatus(
                workers,
                process.pid if process is not None else None,
                self.log_path,
                failure=self.failure,
                restarts=self.restarts,
                retry_in_s=retry,
            )

    def stop(self) -> None:
        """Stop supervising and stop the worker (it fails its running job with the reason)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            if self.process is not None:
                _stop_worker(self.process)
                self.process = None


_lock = threading.Lock()
_supervisors: dict[str, LocalWorkerSupervisor] = {}


def live_workers(store: Store) -> list[WorkerInfo]:
    """Live workers, after reaping jobs of dead ones (so the app never shows a ghost as running)."""
    kinds.reap(store)
    return store.live_workers()


def local_worker_wanted() -> bool:
    """False when workers run elsewhere (LRLAB_LOCAL_WORKER=0: a compose worker service)."""
    return os.environ.get("LRLAB_LOCAL_WORKER", "1") != "0"


def ensure_local_worker(db_url: str | None = None) -> WorkerStatus:
    """This server's worker status; starts the supervisor for the store on first call."""
    url = resolve_db_url(db_url)
    if not local_worker_wanted():
        return WorkerStatus(live_workers(shared_store(url)), None, None)
    with _lock:
        supervisor = _supervisors.get(url)
        if supervisor is None:
            supervisor = _supervisors[url] = LocalWorkerSupervisor(url)
    supervisor.start()
    return supervisor.status()


def stop_local_workers() -> None:
    """Stop the supervisors and workers this process started (also done at exit)."""
    with _lock:
        supervisors = list(_supervisors.values())
        _supervisors.clear()
    for supervisor in supervisors:
        supervisor.stop()


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
