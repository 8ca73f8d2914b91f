"""Accuracy within a time budget with the full trick set, as `lrlab train` runs it.

- digits (scikit-learn, 1,437 train / 360 val): target ≥ 98% validation top-1 within 30 s;
- MNIST test set (../shared/data/mnist-t10k) split 8k train / 2k val: ≥ 98.5% within 3 min.

Wall time counts everything `train()` does (loading the data, building the model, training and
validating every epoch); the time to target is the setup plus the elapsed time of the first epoch
whose validation top-1 reaches the target. Each recipe also runs once with every trick off
(same epochs and peak LR) in the same process, so the tricks' contribution is measured here too.
Prints time to target / budget (≤ 1.0 meets the target).

    python benchmarks/bench_train_targets.py [--only digits|mnist]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from lrlab.core.errors import LrlabError
from lrlab.training.job import train

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-t10k"
NO_TRICKS = {"linear_scaling": False, "warmup_epochs": 0, "zero_gamma": False,
             "no_bias_decay": False, "cosine": False, "label_smoothing": 0.0, "mixup": 0.0}

RECIPES: dict[str, dict[str, Any]] = {
    "digits": {
        "target": 0.98, "budget_s": 30.0,
        "config": {"model": "resnet18", "variant": "D", "width": 16, "dataset": "digits",
                   "batch_size": 64, "epochs": 8, "optimizer": {"lr": 0.8},
                   "device": "cpu"},
    },
    "mnist": {
        "target": 0.985, "budget_s": 180.0,
        "config": {"model": "resnet18", "variant": "D", "width": 8, "dataset": "idx",
                   "data_root": str(MNIST), "val_fraction": 0.2, "batch_size": 128,
                   "epochs": 8, "optimizer": {"lr": 0.8}, "device": "cpu"},
    },
}


def time_to_target(result: dict[str, Any], target: float) -> float | None:
    for epoch in result["epochs"]:
        if epoch["val_top1"] >= target:
            return result["summary"]["setup_s"] + epoch["elapsed_s"]
    return None


def run(name: str) -> None:
    recipe = RECIPES[name]
    target, budget = recipe["target"], recipe["budget_s"]
    print(f"== {name}: target {target:.1%} within {budget:.0f} s")
    full = recipe["config"]
    # the same effective peak LR, reached without the linear-scaling rule
    plain_lr = full["optimizer"]["lr"] * full["batch_size"] / 256
    plain = {**full, "tricks": NO_TRICKS, "optimizer": {**full["optimizer"], "lr": plain_lr}}
    for label, config in (("full tricks", full), ("no tricks", plain)):
        started = time.perf_counter()
        try:
            result = train(config)
        except LrlabError as exc:
            print(f"  {label:<11} failed: {exc}")
            continue
        wall = time.perf_counter() - started
        s = result["summary"]
        reached = time_to_target(result, target)
        curve = " ".join(f"{e['val_top1']:.3f}" for e in result["epochs"])
        print(f"  {label:<11} best {s['best_val_top1']:.2%}  final {s['final_val_top1']:.2%}  "
              f"wall {wall:5.1f} s  {s['images_per_s']:6.0f} img/s  ({curve})")
        if reached is None:
            print(f"  {label:<11} did not reach {target:.1%}")
        else:
            print(f"  {label:<11} reached {target:.1%} at {reached:5.1f} s: "
                  f"ratio to budget {reached / budget:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=tuple(RECIPES))
    args = parser.parse_args()
    for name in RECIPES:
        if args.only in (None, name):
            if name == "mnist" and not MNIST.is_dir():
                print(f"== mnist: skipped, {MNIST} not found")
                continue
            run(name)


if __name__ == "__main__":
    main()
