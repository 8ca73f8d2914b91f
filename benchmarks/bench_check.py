"""The LR check ladder, two figures:

1. Parallel ladder: a 5-point ladder (small_cnn on digits, 3 epochs a point) run by two
   `lrlab worker --threads 1`s on one store (cores / workers each), against the same ladder run
   by one worker with every core (the same 5 runs one after another), each timed from the
   submit to the ladder's end (worker start-up excluded).
   Prints the ratio (target <= 0.65 on 2 cores).
2. Advice against the ladder's best, on three model/data pairs. Each pair: a range test of the
   setup (lrlab's advice sized to the run), then the same 1cycle schedule trained at the peaks
   of a 5-point ladder around the advice (x0.1 ... x10), and at torch-lr-finder's and fastai's
   (valley) suggestions, read off the same curve by those tools' own rules. Prints each run's
   final top-1 and the advice's share of the ladder's best.
   - small_cnn on digits (SGD): a pair the advice rules were tuned on
     (bench_suggestion_quality.py).
   - ResNet-18-D width 8 on digits with AdamW, label smoothing 0.1: held out.
   - small_cnn width 16 on a 4,000-image MNIST sample (the t10k set), SGD + Nesterov: held out.

    python benchmarks/bench_check.py [--mnist ../shared/data/mnist-t10k] [--only parallel|advice]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lrlab import ladder
from lrlab.errors import LrlabError
from lrlab.finder.job import run_from_config
from lrlab.jobs import runners
from lrlab.jobs.store import Store
from lrlab.reporting import NullReporter
from lrlab.train.job import train

REPO = Path(__file__).resolve().parents[1]
LADDER_SETUP = {"model": "small_cnn", "dataset": "digits", "epochs": 15, "device": "cpu"}


def ladder_seconds(workers: int) -> float:
    """Seconds from submitting a 5-point ladder to its end, with `workers` workers, each
    with its share of the cores (`--threads`; one worker keeps torch's default, all)."""
    threads = [] if workers == 1 else ["--threads", str(max(1, (os.cpu_count() or 1)
                                                            // workers))]
    with tempfile.TemporaryDirectory() as home:
        url = f"sqlite:///{Path(home) / 'jobs.db'}"
        env = {**os.environ, "LRLAB_HOME": home}
        with Store(url) as store:
            command = [sys.executable, "-m", "lrlab.cli", "worker", "--db", url, "--poll",
                       "0.05", *threads]
            procs = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL) for _ in range(workers)]
            try:
                while len(store.live_workers()) < workers:  # condition-wait: registered
                    time.sleep(0.05)
                warm = [store.submit("train", runners.validate("train", {
                    **LADDER_SETUP, "epochs": 1})) for _ in range(workers)]
                while not all(store.get(i).is_finished for i in warm):  # condition-wait
                    time.sleep(0.05)
                config = runners.validate("check", {"setup": LADDER_SETUP, "epochs": 3})
                started = time.perf_counter()
                job_id = store.submit("check", config)
                while not store.get(job_id).is_finished:  # condition-wait: the ladder ended
                    time.sleep(0.05)
                elapsed = time.perf_counter() - started
                assert store.get(job_id).status == "succeeded", store.get(job_id).error
                return elapsed
            finally:
                for proc in procs:
                    proc.send_signal(signal.SIGTERM)
                for proc in procs:
                    proc.wait(timeout=120)


def pairs(mnist: Path | None) -> list[tuple[str, dict, bool]]:
    """(name, setup, held out) of each model/data pair."""
    out = [
        ("small_cnn / digits, SGD", {"model": "small_cnn", "dataset": "digits", "epochs": 6,
                                     "batch_size": 64}, False),
        ("resnet18-D w8 / digits, AdamW + LS", {
            "model": "resnet18", "width": 8, "dataset": "digits", "epochs": 6, "batch_size": 64,
            "optimizer": {"name": "adamw", "weight_decay": 0.05}}, True),
    ]
    if mnist is not None:
        out.append(("small_cnn w16 / MNIST 4k, SGD Nesterov", {
            "model": "small_cnn", "width": 16, "dataset": "idx", "data_root": str(mnist),
            "limit": 4000, "epochs": 4, "batch_size": 64,
            "optimizer": {"nesterov": True}}, True))
    return [(name, {**setup, "device": "cpu"}, held) for name, setup, held in out]


def top1(setup: dict, schedule: dict, peak: float) -> float | None:
    """Final top-1 of the setup trained with `schedule` moved to `peak` (None if it diverged)."""
    from lrlab.schedules import Schedule
    from lrlab.schedules.fit import scale_lr

    moved = scale_lr(Schedule.from_dict(schedule), peak / schedule["base_lr"]).to_dict()
    try:
        return train({**setup, "schedule": moved})["summary"]["final_val_top1"]
    except LrlabError as exc:  # a diverged run is a result here
        print(f"    peak {peak:.3g}: {exc}")
        return None


def advice_quality(mnist: Path | None) -> None:
    for name, setup, held in pairs(mnist):
        started = time.perf_counter()
        found = run_from_config({"setup": setup, "num_points": 100}, NullReporter())
        advice = found["advice"]["onecycle"]
        cfg = ladder.validate_config({"setup": {**setup, "schedule": advice}, "points": 5,
                                      "epochs": setup["epochs"]})
        rows = {p["factor"]: top1(setup, advice, p["lr"]) for p in ladder.points(cfg)}
        peaks = {p["factor"]: p["lr"] for p in ladder.points(cfg)}
        best_factor = max((f for f in rows if rows[f] is not None), key=lambda f: rows[f])
        best = rows[best_factor]
        others = {}
        for method in ("torch_lr_finder", "fastai_valley"):
            lr = found["suggestions"].get(method)
            others[method] = (lr, top1(setup, advice, lr) if lr else None)
        tag = "held out" if held else "tuned on"
        print(f"\n{name} ({tag}); {found['planned_run']['updates']} updates, "
              f"{time.perf_counter() - started:.0f} s")
        for factor, acc in rows.items():
            mark = " <- advice" if factor == 1.0 else ""
            shown = "diverged" if acc is None else f"{100 * acc:.2f} %"
            print(f"  ladder x{factor:<6.3g} peak {peaks[factor]:<8.3g} {shown}{mark}")
        for method, (lr, acc) in others.items():
            shown = "diverged" if acc is None else f"{100 * acc:.2f} %"
            print(f"  {method:<16} peak {lr:<8.3g} {shown}")
        own = rows[1.0]
        if own is not None:
            print(f"  advice / ladder best = {own / best:.3f} (best x{best_factor:g}); "
                  f"advice - torch-lr-finder = "
                  f"{100 * (own - (others['torch_lr_finder'][1] or 0)):+.2f} points")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist", type=Path, default=REPO.parent / "shared/data/mnist-t10k")
    parser.add_argument("--only", choices=("parallel", "advice"), default=None)
    args = parser.parse_args()
    if args.only != "advice":
        one = ladder_seconds(1)
        two = ladder_seconds(2)
        print(f"5-point ladder, 3 epochs a point: 1 worker {one:.1f} s, 2 workers {two:.1f} s "
              f"-> ratio {two / one:.2f} (target <= 0.65)")
    if args.only != "parallel":
        advice_quality(args.mnist if args.mnist.exists() else None)


if __name__ == "__main__":
    main()
