"""How fast the job store moves metrics and jobs, against plain references measured in the same run.

1. Metric latency: a runner in another process reports one metric every 20 ms through the real
   StoreReporter (batched, flushed every 0.25 s); a reader polling with the seq cursor records
   when each metric first becomes visible. Target: within 1 s. Reference: the runner's cost per
   reported step, batched vs. one transaction per metric.
2. Submit -> running with a warm `lrlab worker` (target: within 3 s), from the store's own
   timestamps (created -> started) and as a page would see it (polling every 0.1 s).
3. Claim throughput of `Store.claim` against a naive claim (SELECT the oldest queued job, then
   UPDATE it, in autocommit mode), single process; then two processes racing each way, counting
   jobs handed out twice.

Run: .venv/bin/python benchmarks/bench_store_latency.py
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lrlab.store import MetricPoint, Store
from lrlab.store.reporter import StoreReporter


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- 1. metric write -> visible --------------------------------------------------------------


def _report_metrics(url: str, job_id: int, count: int, period_s: float) -> None:
    with Store(url) as store, StoreReporter(store, job_id) as reporter:
        for step in range(count):
            reporter.step(step, {"sent_at": time.time()})
            time.sleep(period_s)


def metric_latency(url: str, count: int = 150, period_s: float = 0.02) -> list[float]:
    with Store(url) as store:
        job_id = store.submit("selftest", {})
        writer = multiprocessing.get_context("spawn").Process(
            target=_report_metrics, args=(url, job_id, count, period_s)
        )
        writer.start()
        latencies: list[float] = []
        cursor = 0
        while len(latencies) < count:
            for metric in store.metrics_since(job_id, cursor):
                latencies.append(time.time() - metric.value)
                cursor = metric.seq
            time.sleep(0.01)
        writer.join()
    return latencies


def step_cost(url: str, steps: int = 2000) -> tuple[float, float]:
    """Seconds per reported step (3 metrics) on the runner's thread: batched vs. per-step."""
    metrics = {"loss": 1.0, "lr": 0.1, "momentum": 0.9}
    with Store(url) as store:
        job_id = store.submit("selftest", {})
        with StoreReporter(store, job_id) as reporter:
            start = time.perf_counter()
            for step in range(steps):
                reporter.step(step, metrics)
            batched = (time.perf_counter() - start) / steps
        job_id = store.submit("selftest", {})
        start = time.perf_counter()
        for step in range(steps // 10):
            now = time.time()
            store.append_metrics(
                job_id, [MetricPoint("step", step, k, v, now) for k, v in metrics.items()]
            )
        direct = (time.perf_counter() - start) / (steps // 10)
    return batched, direct


# -- 2. submit -> running ----------------------------------------------------------------------


def submit_to_running(url: str, home: Path, jobs: int = 8) -> tuple[list[float], list[float]]:
    env = {**os.environ, "LRLAB_HOME": str(home)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "lrlab.cli", "worker", "--db", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    recorded, observed = [], []
    try:
        with Store(url) as store:
            while not store.live_workers():
                time.sleep(0.1)
            for _ in range(jobs):
                submitted = time.time()
                job_id = store.submit("selftest", {"steps": 3})
                while store.get(job_id).status == "queued":
                    time.sleep(0.1)
                observed.append(time.time() - submitted)
                while not (job := store.get(job_id)).is_finished:
                    time.sleep(0.05)
                recorded.append(job.started - job.created)
                time.sleep(0.3)  # let the worker go back to idle polling
    finally:
        worker.terminate()
        worker.wait()
    return recorded, observed


# -- 3. claims ---------------------------------------------------------------------------------


def naive_claim(conn: sqlite3.Connection, worker: str) -> int | None:
    """What one writes first: read the oldest queued job, then mark it running. Not atomic."""
    row = conn.execute("SELECT id FROM jobs WHERE status='queued' ORDER BY id LIMIT 1").fetchone()
    if row is None:
        return None
    conn.execute("UPDATE jobs SET status='running', worker=? WHERE id=?", (worker, row[0]))
    return row[0]


def _drain(url: str, path: str, naive: bool, name: str, out: multiprocessing.Queue) -> None:
    taken = []
    if naive:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        while (job_id := naive_claim(conn, name)) is not None:
            taken.append(job_id)
    else:
        with Store(url) as store:
            while (job := store.claim(name)) is not None:
                taken.append(job.id)
    out.put(taken)


def claims(path: Path, naive: bool, jobs: int, processes: int) -> tuple[float, int]:
    """Claims per second and the number of jobs handed out more than once."""
    url = f"sqlite:///{path}"
    with Store(url) as store:
        for _ in range(jobs):
            store.submit("selftest", {})
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_drain, args=(url, str(path), naive, f"w{i}", out))
        for i in range(processes)
    ]
    start = time.perf_counter()
    for p in procs:
        p.start()
    taken = [job_id for _ in procs for job_id in out.get()]
    elapsed = time.perf_counter() - start
    for p in procs:
        p.join()
    return len(taken) / elapsed, len(taken) - len(set(taken))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        url = f"sqlite:///{home / 'bench.db'}"
        Store(url).close()

        lat = metric_latency(url)
        print("1. metric written by a runner -> visible to a polling reader (StoreReporter)")
        print(
            f"   p50 {statistics.median(lat) * 1000:.0f} ms, p95 {percentile(lat, 0.95) * 1000:.0f}"
            f" ms, max {max(lat) * 1000:.0f} ms over {len(lat)} metrics (target < 1000 ms)"
        )
        batched, direct = step_cost(url)
        print(
            f"   runner's cost per step (3 metrics): batched {batched * 1e6:.1f} us, one "
            f"transaction per step {direct * 1e6:.0f} us -> {direct / batched:.0f}x less"
        )

        recorded, observed = submit_to_running(url, home)
        print("2. submit -> running with a warm worker (idle poll 0.5 s)")
        print(
            f"   store timestamps: median {statistics.median(recorded):.2f} s, max "
            f"{max(recorded):.2f} s; seen by a 0.1 s poller: median "
            f"{statistics.median(observed):.2f} s, max {max(observed):.2f} s (target < 3 s)"
        )

        print("3. claims (SQLite WAL)")
        for processes in (1, 2):
            ours, ours_dup = claims(home / f"ours{processes}.db", False, 1000, processes)
            naive, naive_dup = claims(home / f"naive{processes}.db", True, 1000, processes)
            print(
                f"   {processes} process(es): Store.claim {ours:.0f}/s ({ours_dup} double), "
                f"naive {naive:.0f}/s ({naive_dup} double); ratio {ours / naive:.2f}"
            )


if __name__ == "__main__":
    main()
