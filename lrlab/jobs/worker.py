"""The worker: claims jobs from the store and runs each in its own spawned child process.

Why a child per job: a crash, a CUDA error or a leak in one run cannot take the worker down or
poison the next run, and terminating a job that ignores its stop flag is a plain `terminate()`.
Children are spawned, never forked, because forking a process that has touched CUDA is unsafe.

Why the child is started before its job: a fresh child spends seconds importing torch (and the
libraries torch and the analysis load lazily) before its first step. So the worker keeps one
child waiting: spawned while the worker is idle, warmed up (`kinds.warm_up`), blocked on a pipe
until a job is handed to it. Each child still runs exactly one job and exits. The next child is
spawned WARM_AFTER_S after a job ends, not at once: warming burns a core for seconds, and that
moment is when the user's page draws the job's result (on a small machine the result showed up to
a second later). A job claimed before then gets a fresh child, as warm as that child would be.

The parent owns the job's status. While the child runs, the parent heartbeats the job and itself
about once a second, turns a cancel request into the child's cooperative stop flag, terminates the
child if it has not stopped after a grace period, and at the end writes the outcome the child sent
back through a pipe (or, if none came, why the child died). The child writes only metrics and
progress. If the parent dies, the job's heartbeat stops and any other process reaps the job (see
`lrlab.jobs.kinds.reap`); the child notices the dead parent and stops too.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from lrlab.core.artifacts import local_path, run_url, staging_dir
from lrlab.core.errors import LrlabError
from lrlab.core.options import FIELDS
from lrlab.jobs import kinds
from lrlab.jobs.child_task import ChildTask, describe_error, run_child_task
from lrlab.store import Job, Lease, Store

# Seconds between a job's end and spawning the next warm child (see the module's docstring).
WARM_AFTER_S = 2.0


@dataclass(frozen=True)
class WorkerOptions:
    db_url: str | None = None
    device: str = "auto"
    once: bool = False  # run at most one job, then exit (exit at once if the queue is empty)
    poll_s: float = FIELDS["worker.poll"].default
    heartbeat_s: float = 1.0
    # used to reap other workers' dead jobs
    heartbeat_timeout_s: float = FIELDS["worker.heartbeat_timeout"].default
    cancel_grace_s: float = FIELDS["worker.cancel_grace"].default
    exit_with_pid: int | None = None  # stop when this process ends (the app that started us)
    executor: str = "local"  # "local": a warm child process per job; "ray": a Ray task per job
    ray_address: str | None = None
    gpus_per_job: float | None = None  # Ray: default 1 on a cluster with GPUs, else 0
    artifacts: str | None = None  # the artifact root URL (default: $LRLAB_ARTIFACTS, then local)
    tasks: tuple[str, ...] = ()  # task specs trusted besides entry points and $LRLAB_TASKS


@dataclass
class _Child:
    """A spawned child and its three channels: the task it waits for, its stop flag, its
    outcome."""

    process: Any
    tasks: Connection  # parent's sending end
    stop: Any
    outcome: Connection  # parent's receiving end


def _terminate(process: Any) -> None:
    process.terminate()
    process.join(5.0)
    if process.is_alive():
        process.kill()
        process.join()


class _ChildJob:
    """A job handed to a warm child process: its outcome comes through a pipe, a stop request
    is the child's stop flag, and terminating it is terminating the process."""

    reaps_others = True  # while it runs, the worker keeps reaping other workers' silent jobs

    def __init__(self, child: _Child, grace_s: float) -> None:
        self.child, self.grace_s = child, grace_s
        self._outcome: tuple[str, Any] | None = None
        self._pipe_open = True

    def _receive(self) -> None:
        try:
            self._outcome = self.child.outcome.recv()
        except EOFError:
            self._pipe_open = False

    def finished(self, timeout_s: float) -> bool:
        """Whether the outcome came (or the child died), waiting up to `timeout_s`."""
        process, receiver = self.child.process, self.child.outcome
        ready = wait([process.sentinel, receiver] if self._pipe_open else [process.sentinel],
                     timeout_s)
        if self._pipe_open and receiver in ready:
            self._receive()
        if self._outcome is not None:
            return True  # record it now: the child's exit adds nothing to the job
        if not process.is_alive():
            # Whatever the child sent before exiting is already in the pipe.
            while self._pipe_open and self._outcome is None and receiver.poll():
                self._receive()
            return True
        return False

    def ask_to_stop(self, cancel: bool) -> None:
        self.child.stop.set()

    def terminate(self) -> None:
        if self.child.process.is_alive():
            _terminate(self.child.process)

    def outcome(self) -> tuple[str, Any] | None:
        self.child.process.join(self.grace_s)
        if self.child.process.is_alive():  # sent its outcome but hangs on the way out
            _terminate(self.child.process)
        return self._outcome

    def cancel_seen(self, _store: Any, _job_id: int) -> bool:
        return False  # the worker's own heartbeat is where a cancel reaches a child

    def how_it_ended(self) -> str:
        code = self.child.process.exitcode
        if code is not None and code < 0:
            return f"was killed by signal {signal.Signals(-code).name}"
        return f"exited with code {code}"

    def close(self) -> None:
        self.child.outcome.close()


@dataclass
class _Supervision:
    """What happened while a child ran, to decide the job's final status."""

    outcome: tuple[str, Any] | None = None
    cancel_requested: bool = False
    shutdown: bool = False
    terminated: bool = False
    lease_lost: bool = False


def _watch_parent(stop: Any, grace_s: float) -> None:
    """In the child: if the worker dies, ask the runner to stop, and exit if it does not."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        stop.set()
        time.sleep(grace_s)
        os._exit(1)

    threading.Thread(target=watch, name="lrlab-parent-watch", daemon=True).start()


def _warm_up(device: str) -> None:
    try:
        kinds.warm_up(device)
    except Exception:  # the job itself will meet the same problem and report it
        traceback.print_exc(file=sys.stderr)


def _child_main(
    tasks: Connection, stop: Any, outcome: Connection, device: str, parent_grace_s: float
) -> None:
    """Entry point of the spawned child: warm up, wait for the job, run it, send
    ("ok", result) or ("error", text)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the worker's to interpret
    _watch_parent(stop, parent_grace_s)
    # Warm up beside the wait, not before it: a job that needs no torch (a self-test) starts at
    # once, and one that does waits only for what is not imported yet (imports share a lock).
    threading.Thread(target=_warm_up, args=(device,), name="lrlab-warm-up", daemon=True).start()
    try:
        task: ChildTask = tasks.recv()
    except EOFError:  # the worker stopped before it had a job for us
        return
    finally:
        tasks.close()
    try:
        outcome.send(run_child_task(task, lambda _store: stop))
    except BaseException as exc:  # the store could not be opened, the outcome not sent
        traceback.print_exc(file=sys.stderr)
        outcome.send(("error", describe_error(exc)))
    finally:
        outcome.close()
    # Skip the interpreter's teardown (seconds with torch loaded): nothing is left to save.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


class Worker:
    """One worker process: register, then claim and run jobs until told to stop."""

    def __init__(self, options: WorkerOptions) -> None:
        from lrlab.core.device import describe_device, resolve_device

        self.options = options
        device = resolve_device(options.device)
        self.device = str(device)
        self.device_name = describe_device(device)
        self.store = Store(options.db_url)
        self.id: str | None = None
        self.jobs_run = 0
        self._stopping = threading.Event()
        self._stop_signal = ""
        self._context = multiprocessing.get_context("spawn")
        self._waiting: _Child | None = None  # the warm child for the next job
        self._ray: Any = None
        if options.executor == "ray":
            from lrlab.jobs.ray_executor import RayPlacement

            self._ray = RayPlacement(options.ray_address, options.gpus_per_job)
            self.device_name = self._ray.describe()

    def request_stop(self, reason: str = "stop requested") -> None:
        self._stop_signal = reason
        self._stopping.set()

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def handle(signum: int, _frame: object) -> None:
            self.request_stop(signal.Signals(signum).name)
            signal.signal(signum, signal.SIG_DFL)  # a second signal stops the worker at once

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def _owner_gone(self) -> bool:
        pid = self.options.exit_with_pid
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def run(self) -> int:
        """The claim loop; returns the number of jobs run."""
        self._install_signal_handlers()
        self.id = self.store.register_worker(self.device_name)
        self._log(f"worker {self.id} on {self.device_name}, store {self.store.display_url}")
        last_beat = 0.0
        self._waiting = None if self._ray else self._spawn_child()
        spawn_at: float | None = None  # when to spawn the next warm child
        try:
            while not self._stopping.is_set():
                if self._owner_gone():
                    self.request_stop(f"process {self.options.exit_with_pid} ended")
                    break
                try:
                    self._reap_stale()
                    job = self.store.claim(self.id)
                    if job is None and time.monotonic() - last_beat >= self.options.heartbeat_s:
                        self.store.worker_heartbeat(self.id, "idle")
                        last_beat = time.monotonic()
                except LrlabError as exc:
                    if self.options.once:
                        raise
                    # A database restart or a long lock: keep the worker, try again shortly.
                    self._log(f"store unavailable, will retry: {exc}")
                    self._stopping.wait(max(self.options.poll_s, 1.0))
                    continue
                if job is None:
                    if self.options.once:
                        break
                    if spawn_at is not None and time.monotonic() >= spawn_at:
                        spawn_at, self._waiting = None, self._spawn_child()
                    self._stopping.wait(self.options.poll_s)
                    continue
                spawn_at = None  # the job gets a fresh child if none is waiting
                try:
                    self.run_job(job)
                except BaseException as exc:
                    # Whatever broke the worker must not leave the job "running" until reaped.
                    error = f"worker {self.id} failed: {describe_error(exc)}"
                    self.store.finish(job.id, "failed", error=error, worker_id=self.id)
                    raise
                self.jobs_run += 1
                if self.options.once:
                    break
                if not self._ray:
                    spawn_at = time.monotonic() + WARM_AFTER_S  # warms up while we are idle
        finally:
            self._dismiss_waiting()
            self.store.worker_heartbeat(self.id, "stopped")
            if self._stop_signal:
                self._log(f"worker {self.id} stopped ({self._stop_signal})")
            self.store.close()
        return self.jobs_run

    def run_job(self, job: Job) -> None:
        """Run one claimed job in a spawned child and record its outcome; a task this worker
        was not told to trust fails at once, its code never imported."""
        assert self.id is not None
        from lrlab.tasks.loading import registered_specs

        refused = kinds.refusal(job, registered_specs(self.options.tasks))
        if refused is not None:
            self.store.finish(job.id, "failed", error=refused, worker_id=self.id)
            self._log(f"job {job.id} ({job.kind}): refused, {refused}")
            return
        kind = kinds.kind_of(job.kind)
        # "auto" means this worker's device (a Ray task picks its own)
        config = dict(job.config) if self._ray else kinds.on_device(job.kind, job.config,
                                                                    self.device)
        out_dir = url = None
        if kind.takes_out_dir:
            url = run_url(job.id, self.options.artifacts)
            out_dir = str(local_path(url) or staging_dir(job.id))
        task = ChildTask(db_url=self.store.url, job_id=job.id, kind=job.kind, config=config,
                         out_dir=out_dir, artifacts_url=url)
        if self._ray:
            placed: Any = self._ray.place(task)
            self._log(f"job {job.id} ({job.kind}): placed on Ray")
        else:
            child = self._hand_over(task)
            placed = _ChildJob(child, self.options.cancel_grace_s)
            self._log(f"job {job.id} ({job.kind}): started in process {child.process.pid}")
        self.store.worker_heartbeat(self.id, "busy", job.id)
        try:
            seen = self._supervise(job.id, placed)
        finally:
            placed.close()
        self._record_outcome(job.id, placed, seen)

    def _spawn_child(self) -> _Child:
        """Start a child that warms up, then waits for its task."""
        task_receiver, task_sender = self._context.Pipe(duplex=False)
        outcome_receiver, outcome_sender = self._context.Pipe(duplex=False)
        stop = self._context.Event()
        process = self._context.Process(
            target=_child_main,
            args=(task_receiver, stop, outcome_sender, self.device,
                  self.options.cancel_grace_s),
            name="lrlab-job",
        )
        process.start()
        task_receiver.close()
        outcome_sender.close()  # the child holds the only writing end: EOF means it is gone
        return _Child(process, task_sender, stop, outcome_receiver)

    def _hand_over(self, task: ChildTask) -> _Child:
        """Give the task to the waiting child, or to a fresh one if that child is gone."""
        child, self._waiting = self._waiting, None
        if child is not None and child.process.is_alive():
            try:
                child.tasks.send(task)
                child.tasks.close()
                return child
            except OSError:  # it died between the check and the send
                pass
        if child is not None:
            self._discard(child)
        child = self._spawn_child()
        child.tasks.send(task)
        child.tasks.close()
        return child

    def _dismiss_waiting(self) -> None:
        """Stop the waiting child (it sees its task pipe close and exits)."""
        child, self._waiting = self._waiting, None
        if child is not None:
            self._discard(child)

    def _discard(self, child: _Child) -> None:
        """End a child that was never given a job: it holds no state, so stop it at once."""
        child.tasks.close()
        child.outcome.close()
        _terminate(child.process)

    def _supervise(self, job_id: int, job: Any) -> _Supervision:
        """Follow a placed job to its end: heartbeat its lease, pass a cancel or this worker's
        shutdown on as a stop request, and terminate it past the grace period. `job` is where
        it runs (a _ChildJob here, or a Ray task: lrlab.jobs.ray_executor.RayJob)."""
        seen = _Supervision()
        next_heartbeat = time.monotonic() + self.options.heartbeat_s
        deadline: float | None = None
        while not job.finished(0.2):
            now = time.monotonic()
            if self._stopping.is_set() and not seen.shutdown:
                seen.shutdown = True
                job.ask_to_stop(cancel=False)
                deadline = now + self.options.cancel_grace_s
            if now >= next_heartbeat:
                next_heartbeat = now + self.options.heartbeat_s
                lease = self._renew(job_id, reap=job.reaps_others)
                if not lease.held:
                    seen.lease_lost = True
                    job.terminate()
                    return seen
                if lease.cancel_requested and not seen.cancel_requested:
                    seen.cancel_requested = True
                    job.ask_to_stop(cancel=True)
                    deadline = now + self.options.cancel_grace_s
            if deadline is not None and now >= deadline and not seen.terminated:
                seen.terminated = True
                job.terminate()
        seen.outcome = job.outcome()
        # A Ray task reads the cancel flag itself and may stop before a heartbeat here saw it.
        seen.cancel_requested = seen.cancel_requested or job.cancel_seen(self.store, job_id)
        return seen

    def _renew(self, job_id: int, *, reap: bool) -> Lease:
        """Heartbeat the job's lease (and this worker); read whether a cancel was asked."""
        assert self.id is not None
        try:
            lease = self.store.heartbeat(job_id, self.id)
            self.store.worker_heartbeat(self.id, "busy", job_id)
            if reap:
                self._reap_stale()
        except LrlabError as exc:
            # Missed beats are harmless until the timeout; then the job is reaped and the next
            # successful heartbeat finds the lease lost.
            self._log(f"job {job_id}: heartbeat failed, will retry: {exc}")
            return Lease(held=True, cancel_requested=False)
        return lease

    def _reap_stale(self) -> None:
        """Fail other workers' jobs that stopped heartbeating (cheap when there are none)."""
        for job_id in kinds.reap(self.store, self.options.heartbeat_timeout_s):
            self._log(f"job {job_id}: marked failed, its worker stopped heartbeating")


    def _record_outcome(self, job_id: int, job: Any, seen: _Supervision) -> None:
        if seen.lease_lost:
            self._log(f"job {job_id}: no longer ours (reaped or deleted); child stopped")
            return
        result: Mapping[str, Any] | None = None
        error: str | None = None
        if seen.outcome is not None:
            kind, payload = seen.outcome
            if kind == "ok":
                result = payload
            else:
                error = payload
        elif seen.terminated:
            error = f"did not stop within {self.options.cancel_grace_s:g} s; terminated"
        else:
            error = f"the job's process {job.how_it_ended()} before reporting a result"
        if seen.cancel_requested:
            status = "cancelled"
        elif seen.shutdown:
            status = "failed"
            error = f"worker {self.id} was stopped ({self._stop_signal}) while running this job" + (
                f"; {error}" if error else ""
            )
        elif error is not None:
            status = "failed"
        else:
            status = "succeeded"
        self.store.finish(job_id, status, result=result, error=error, worker_id=self.id)
        self._log(f"job {job_id}: {status}" + (f" ({error})" if error else ""))

    @staticmethod
    def _log(message: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"[{stamp}] {message}", file=sys.stderr, flush=True)
