"""Scaling figures, each against a reference measured in the same run:

0. Executors: 8 short jobs (a 2 s self-test each) through one `lrlab worker` with the local
   executor, then through one with `--executor ray` on a local Ray instance, each timed from
   the first submit to the last job finished (worker start-up excluded); prints the ratio
   (target <= 1.15 on 2 cores).
1. Claim latency: submit N jobs, then time `Store.claim` one job at a time on each store (the
   SQLite file lrlab uses by default; PostgreSQL when --pg-url names a test database). Prints
   median and p95 and the PostgreSQL/SQLite ratio.
2. DDP on CPU: the same run (ResNet-18-A without BatchNorm, width 16, digits, global batch 128,
   2 epochs) with --nproc 1 and --nproc 2; prints the median training step time, the ratio and
   the wall time (start-up included). On CPU, two ranks share the same cores, so no speed-up
   is expected here: the win is on GPUs, one rank per GPU, where it is bounded by the
   gradient all-reduce (about 2 × parameter bytes per step over NVLink/PCIe/network) against
   the compute of each rank's half batch.

    python benchmarks/bench_scale.py [--jobs 200] [--pg-url postgresql+psycopg://.../x_test]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lrlab.core.reporting import MemoryReporter
from lrlab.store import Store
from lrlab.training.job import train


def executor_seconds(executor: str, jobs: int = 8) -> float:
    """Seconds from the first submit to the last of `jobs` self-tests finished."""
    with tempfile.TemporaryDirectory() as home:
        url = f"sqlite:///{Path(home) / 'jobs.db'}"
        with Store(url) as store:
            worker = subprocess.Popen(
                [sys.executable, "-m", "lrlab.cli", "worker", "--db", url, "--poll", "0.05",
                 "--executor", executor], env={**os.environ, "LRLAB_HOME": home},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                while not store.live_workers():  # condition-wait: the worker has registered
                    time.sleep(0.05)
                warm = store.submit("selftest", {"steps": 1})  # first-job costs excluded
                while not store.get(warm).is_finished:
                    time.sleep(0.05)
                started = time.perf_counter()
                ids = [store.submit("selftest", {"steps": 40, "step_seconds": 0.05})
                       for _ in range(jobs)]
                while not all(store.get(i).is_finished for i in ids):
                    time.sleep(0.05)
                return time.perf_counter() - started
            finally:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=120)


def claim_latency(url: str, jobs: int) -> list[float]:
    with Store(url) as store:
        for _ in range(jobs):
            store.submit("selftest", {})
        worker = store.register_worker("bench")
        out = []
        for _ in range(jobs):
            started = time.perf_counter()
            job = store.claim(worker)
            out.append(time.perf_counter() - started)
            assert job is not None
            store.finish(job.id, "succeeded", result={}, worker_id=worker)
        return out


def ddp_steps(nproc: int) -> tuple[float, float]:
    """(median step seconds, wall seconds) of the benchmark run on `nproc` ranks."""
    reporter = MemoryReporter()
    started = time.perf_counter()
    train({"model": "resnet18", "variant": "A", "norm": "none", "width": 16,
           "dataset": "digits", "batch_size": 128, "epochs": 2, "device": "cpu",
           "augment": "none", "nproc": nproc}, reporter)
    wall = time.perf_counter() - started
    per_step = [m["batch"] / m["images_per_s"] for _, m in reporter.steps[2:]]  # rank 0
    return statistics.median(per_step), wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--pg-url", default=None,
                        help="a PostgreSQL test database (its name must end in _test)")
    args = parser.parse_args()
    local, ray = executor_seconds("local"), executor_seconds("ray")
    print(f"8 self-test jobs of 2 s, one worker: local executor {local:.1f} s, Ray executor "
          f"{ray:.1f} s (ratio {ray / local:.2f})")
    with tempfile.TemporaryDirectory() as home:
        sqlite = claim_latency(f"sqlite:///{Path(home) / 'jobs.db'}", args.jobs)
    print(f"claim on SQLite: median {statistics.median(sqlite) * 1e3:.2f} ms, "
          f"p95 {sorted(sqlite)[int(0.95 * len(sqlite))] * 1e3:.2f} ms ({args.jobs} jobs)")
    if args.pg_url:
        pg = claim_latency(args.pg_url, args.jobs)
        print(f"claim on PostgreSQL: median {statistics.median(pg) * 1e3:.2f} ms, "
              f"p95 {sorted(pg)[int(0.95 * len(pg))] * 1e3:.2f} ms; "
              f"ratio PostgreSQL/SQLite {statistics.median(pg) / statistics.median(sqlite):.2f}")
    one, wall_one = ddp_steps(1)
    two, wall_two = ddp_steps(2)
    print(f"DDP on CPU, global batch 128: step {one * 1e3:.1f} ms on 1 process, "
          f"{two * 1e3:.1f} ms on 2 (ratio {two / one:.2f}); wall {wall_one:.1f} s vs "
          f"{wall_two:.1f} s (start-up of the ranks included)")


if __name__ == "__main__":
    main()
