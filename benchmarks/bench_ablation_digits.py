"""The paper's one-trick-at-a-time ablation (He et al. 2019, Tables 4-6) on digits over 3 seeds.

Baseline: ResNet-18-A (width 16, small-image stem) with SGD, no warmup, no zero-γ, weight decay on
every parameter, step decay, hard labels. Rows then add, cumulatively: warmup, zero-γ, no bias
decay, ResNet-D, cosine decay, label smoothing, mixup and distillation from a wider
ResNet-18-D (width 32) teacher trained here first. Prints final validation top-1 mean ± std over
the seeds and the delta of each row to the one before (the paper's reading of its tables).

    python benchmarks/bench_ablation_digits.py [--seeds 3] [--out runs/ablation-digits]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from lrlab.training.ablation import ablation_table, run_ablation
from lrlab.training.job import train

BASE = {"model": "resnet18", "variant": "D", "width": 16, "dataset": "digits", "batch_size": 64,
        "epochs": 8, "optimizer": {"lr": 0.8}, "device": "cpu"}
TEACHER = {**BASE, "width": 32, "epochs": 10}
TRICKS = ["warmup", "zero_gamma", "no_bias_decay", "resnet_d", "cosine", "label_smoothing",
          "mixup", "distillation"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="lrlab-ablation-"))
    started = time.perf_counter()
    teacher_dir = out / "teacher"
    teacher = train(TEACHER, None, teacher_dir)["summary"]
    print(f"teacher ResNet-18-D width 32: final top-1 {teacher['final_val_top1']:.2%}")
    base = {**BASE, "tricks": {"distillation": {"teacher": str(teacher_dir),
                                                "temperature": 20.0}}}
    rows = run_ablation(base, TRICKS, list(range(args.seeds)), out_dir=out)
    print(ablation_table(rows))
    print(f"{len(rows) * args.seeds} runs in {time.perf_counter() - started:.0f} s; "
          f"results in {out}")


if __name__ == "__main__":
    main()
