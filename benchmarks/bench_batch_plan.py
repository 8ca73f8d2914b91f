"""Smith et al. 2018 on digits: decay the LR, or increase the batch with the same noise scale.

ResNet-18-A (width 16), SGD momentum 0.9, batch 32, E epochs: one warmup epoch, then the LR
decays by 10 at 50 % and 75 % of the updates. Its equivalent batch plan (lrlab.schedules.
batch_plan) keeps the LR and grows the batch at the same points of the data. The paper's claim
is equal accuracy in fewer updates. Prints final validation top-1, updates and wall time of both
per seed, and the means; whichever way it goes.

    python benchmarks/bench_batch_plan.py [--seeds 2] [--epochs 12]
"""

from __future__ import annotations

import argparse
import statistics
import time

from lrlab.schedules import Schedule
from lrlab.schedules.batch_plan import equivalent_batch_plan
from lrlab.training.job import train

BATCH, TRAIN_EXAMPLES = 32, 1437  # digits' training split (val_fraction 0.2)
RUN = {"model": "resnet18", "variant": "A", "width": 16, "dataset": "digits",
       "batch_size": BATCH, "device": "cpu", "optimizer": {"lr": 0.1}}


def lr_decay(epochs: int) -> Schedule:
    per_epoch = TRAIN_EXAMPLES // BATCH
    total = epochs * per_epoch
    main = total - per_epoch
    return Schedule.from_dict({
        "format": "lrlab.schedule/1", "base_lr": 0.1, "total_steps": total,
        "warmup": {"steps": per_epoch}, "main": {"kind": "multistep", "gamma": 0.1,
                                                 "milestones": [main // 2, main * 3 // 4]}})


def run(schedule: Schedule, seed: int, epochs: int) -> tuple[float, int, float]:
    started = time.perf_counter()
    # A plan's length is the LR run's data in whole batches: within an update or two of what the
    # loader makes, so it is kept as it is.
    result = train({**RUN, "seed": seed, "epochs": epochs, "schedule": schedule.to_dict(),
                    "schedule_fit": "keep"})
    summary = result["summary"]
    return summary["final_val_top1"], summary["steps"], time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=12)
    args = parser.parse_args()
    decay = lr_decay(args.epochs)
    plan = equivalent_batch_plan(decay, TRAIN_EXAMPLES, BATCH)
    sizes = sorted({plan.batch_size(t, BATCH) for t in range(plan.total_steps)})
    print(f"LR decay: {decay.total_steps} updates at batch {BATCH}; batch plan: "
          f"{plan.total_steps} updates, batches {sizes}")
    rows: dict[str, list[tuple[float, int, float]]] = {"LR decay": [], "batch plan": []}
    for seed in range(args.seeds):
        for name, schedule in (("LR decay", decay), ("batch plan", plan)):
            top1, steps, seconds = run(schedule, seed, args.epochs)
            rows[name].append((top1, steps, seconds))
            print(f"seed {seed} {name:10s}: top-1 {top1:.2%}, {steps} updates, {seconds:.1f} s")
    print(f"\nmeans over {args.seeds} seeds, {args.epochs} epochs:")
    for name, values in rows.items():
        top1 = statistics.fmean(v[0] for v in values)
        steps = statistics.fmean(v[1] for v in values)
        seconds = statistics.fmean(v[2] for v in values)
        print(f"  {name:10s} top-1 {top1:.2%}  updates {steps:.0f}  wall {seconds:.1f} s")


if __name__ == "__main__":
    main()
