"""The cost of live logging on a training run: images/s of the same run (small_cnn on digits,
the built-in image classification, 12 epochs at batch 32: about 540 updates) logged nowhere,
to TensorBoard (an event folder) and to MLflow (an SQLite tracking store), and of the same run
recorded in the job store too (as a worker runs it). The configurations are timed in turn,
round after round, on this shared machine; each one's median images/s and its ratio to the
unlogged run are printed (target: at most 5 % slower, a ratio of at least 0.95).

    .venv/bin/python benchmarks/bench_trackers.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import warnings
from pathlib import Path

from lrlab.core.reporting import NullReporter
from lrlab.tasks.setups import validate_setup
from lrlab.trackers import tracking
from lrlab.training.job import train

SETUP = {"model": "small_cnn", "dataset": "digits", "epochs": 12, "batch_size": 32,
         "device": "cpu", "precision": "fp32", "seed": 0}


def images_per_s(log_to: list[str], store_url: str | None) -> float:
    """One run's images/s (its own summary: training steps only), logged to `log_to`."""
    config = validate_setup({**SETUP, "log_to": log_to})
    if store_url is None:
        return _run(config, NullReporter(), None)
    from lrlab.store import Store
    from lrlab.store.reporter import StoreReporter

    with Store(store_url) as store:
        job_id = store.start("train", config, "bench")
        with StoreReporter(store, job_id) as reporter:
            return _run(config, reporter, job_id)


def _run(config: dict, reporter: object, job_id: int | None) -> float:
    with tracking("train", config, reporter, job_id) as run:
        result = train(config, run.reporter)
        run.ended(result)
    return result["summary"]["images_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    folder = Path(tempfile.mkdtemp(prefix="lrlab-bench-trackers-"))
    tb, ml = f"tensorboard:{folder / 'tb'}", f"mlflow:sqlite:///{folder / 'mlflow.db'}"
    store = f"sqlite:///{folder / 'jobs.db'}"
    variants = {"nowhere": ([], None), "TensorBoard": ([tb], None), "MLflow": ([ml], None),
                "store only": ([], store), "store + TensorBoard + MLflow": ([tb, ml], store)}
    warnings.simplefilter("ignore")  # MLflow's own deprecation notes
    images_per_s([], None)  # warm-up: imports, the digits set, the first MLflow tables
    images_per_s([tb, ml], store)
    seen: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(rounds):
        for name, (log_to, url) in variants.items():
            seen[name].append(images_per_s(log_to, url))
        print(f"round {r + 1}: " + ", ".join(f"{n} {v[-1]:,.0f}" for n, v in seen.items()))
    base = statistics.median(seen["nowhere"])
    print(f"\nsmall_cnn on digits, {SETUP['epochs']} epochs at batch {SETUP['batch_size']}, "
          f"{rounds} rounds (median images/s; ratio to the unlogged run, target >= 0.95):")
    for name, values in seen.items():
        median = statistics.median(values)
        print(f"  {name:30s} {median:9,.0f}   {median / base:.3f}")
    reference = statistics.median(seen["store only"])
    both = statistics.median(seen["store + TensorBoard + MLflow"])
    print(f"  trackers on top of the store: {both / reference:.3f}")


if __name__ == "__main__":
    main()
