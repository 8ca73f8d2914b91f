"""BatchNorm vs Fixup (no normalisation) on digits, each at the LR its own range test suggests.

For each norm and seed: a range test of ResNet-18-A (width 16, the one-conv stem Fixup uses) on
digits with SGD (momentum 0.9), then a warmup + cosine run at the range test's consensus LR (no
linear scaling, so that LR is the peak). Then both nets once more at a large fixed LR, the
regime where Fixup's authors claim stable training without normalisation. Prints validation
top-1 per run and the mean per norm.

    python benchmarks/bench_fixup.py [--seeds 2] [--epochs 10] [--large-lr 1.0]
"""

from __future__ import annotations

import argparse
import statistics
import time

from lrlab.core.errors import LrlabError
from lrlab.core.reporting import NullReporter
from lrlab.finder.job import run_from_config as range_test
from lrlab.finder.job import validate_config
from lrlab.training.job import train

NET = {"model": "resnet18", "variant": "A", "width": 16, "dataset": "digits"}


def suggested_lr(norm: str, seed: int) -> float:
    config = validate_config({**NET, "norm": norm, "seed": seed, "batch_size": 64,
                              "num_points": 100, "start_lr": 1e-5, "end_lr": 10.0,
                              "optimizer": {"name": "sgd", "momentum": 0.9,
                                            "weight_decay": 5e-4}, "device": "cpu"})
    return range_test(config, NullReporter())["suggestions"]["consensus"]


def top1(norm: str, seed: int, lr: float, epochs: int) -> float:
    config = {**NET, "norm": norm, "seed": seed, "batch_size": 64, "epochs": epochs,
              "device": "cpu", "optimizer": {"lr": lr},
              "tricks": {"linear_scaling": False, "warmup_epochs": 1.0}}
    try:
        return train(config)["summary"]["final_val_top1"]
    except LrlabError as exc:  # a diverged run: report it as such
        print(f"    {norm} at lr {lr:.3g}: {exc}")
        return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--large-lr", type=float, default=1.0)
    args = parser.parse_args()
    started = time.perf_counter()
    rows: dict[str, list[float]] = {}
    for norm in ("batch", "none"):
        for seed in range(args.seeds):
            lr = suggested_lr(norm, seed)
            acc = top1(norm, seed, lr, args.epochs)
            large = top1(norm, seed, args.large_lr, args.epochs)
            rows.setdefault(f"{norm} suggested", []).append(acc)
            rows.setdefault(f"{norm} large", []).append(large)
            print(f"norm={norm:5s} seed {seed}: suggested LR {lr:.3g} -> top-1 {acc:.2%}; "
                  f"at LR {args.large_lr:g} -> {large:.2%}")
    print(f"\nmean top-1 over {args.seeds} seeds, {args.epochs} epochs, ResNet-18-A width 16:")
    for name, values in rows.items():
        each = ", ".join(f"{v:.2%}" for v in values)
        print(f"  {name:16s} {statistics.fmean(values):.2%}  ({each})")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
