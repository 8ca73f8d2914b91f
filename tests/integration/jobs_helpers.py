"""Real worker processes for the job integration tests: start, watch, stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from lrlab.store import Job, Store

T = TypeVar("T")
LRLAB = [sys.executable, "-m", "lrlab.cli"]
# Liveness bound for waits: generous so a loaded machine never fails a correct run.
PATIENCE_S = 90.0


def wait_for(predicate: Callable[[], T], what: str, patience_s: float = PATIENCE_S) -> T:
    """Poll until predicate() is truthy and return it; fail naming what never happened."""
    deadline = time.monotonic() + patience_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {patience_s:g} s waiting for {what}")
        time.sleep(0.05)  # condition-wait


def wait_finished(store: Store, job_id: int) -> Job:
    return wait_for(
        lambda: (job := store.get(job_id)).is_finished and job, f"job {job_id} to finish"
    )


class WorkerProcess:
    """`lrlab worker` as a real subprocess with its log in a file."""

    def __init__(self, db_url: str, home: Path, log: Path, *extra: str,
                 env: dict[str, str] | None = None) -> None:
        self.log_path = log
        env = {**os.environ, "LRLAB_HOME": str(home), **(env or {})}
        env.pop("LRLAB_DB", None)
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [*LRLAB, "worker", "--db", db_url, "--poll", "0.05", *extra],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=PATIENCE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def job_process(self, job_id: int) -> int:
        """The pid of the child that ran job_id, from the worker's log."""
        match = re.search(rf"job {job_id} \(\w+\): started in process (\d+)", self.log())
        assert match, f"job {job_id} has not started in this worker:\n{self.log()}"
        return int(match.group(1))

    def spawned_children(self) -> list[int]:
        """Pids of the child processes this worker spawned that are still alive (the one that
        waits, warm, for the next job included)."""
        found = []
        for task in Path(f"/proc/{self.pid}/task").glob("*"):
            try:
                pids = (task / "children").read_text().split()
            except OSError:
                continue
            for pid in pids:
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if b"spawn_main" in cmdline:
                    found.append(int(pid))
        return found
