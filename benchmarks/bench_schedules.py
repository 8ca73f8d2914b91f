"""Vectorised schedule evaluation vs stepping PyTorch's scheduler, in the same run.

The designer previews a 1,000,000-step schedule on every widget change, so evaluation must be
instant; PyTorch's schedulers can only be stepped one update at a time.
Run: .venv/bin/python benchmarks/bench_schedules.py
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch.optim import lr_scheduler as tls

from lrlab.schedules import Schedule
from lrlab.web.designer import preview

N = 1_000_000
TORCH_STEPS = 100_000


def torch_seconds_per_step(make) -> float:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    scheduler = make(opt)
    start = time.perf_counter()
    for _ in range(TORCH_STEPS):
        scheduler.step()  # the optimizer step itself is left out: only the scheduler is timed
    return (time.perf_counter() - start) / TORCH_STEPS


CASES = {
    "cosine": ({"kind": "cosine"}, {}, lambda o: tls.CosineAnnealingLR(o, T_max=N)),
    "onecycle": ({"kind": "onecycle"}, {}, lambda o: tls.OneCycleLR(o, max_lr=0.1, total_steps=N)),
    "sgdr": ({"kind": "sgdr", "T_0": 1000, "T_mult": 2}, {},
             lambda o: tls.CosineAnnealingWarmRestarts(o, T_0=1000, T_mult=2)),
    "warmup+cosine": ({"kind": "cosine"}, {"warmup": {"steps": 5000, "start_factor": 0.01}},
                      lambda o: tls.SequentialLR(o, [
                          tls.LinearLR(o, start_factor=0.01, total_iters=5000),
                          tls.CosineAnnealingLR(o, T_max=N - 5000)], milestones=[5000])),
}


def main() -> None:
    import warnings

    warnings.filterwarnings("ignore")
    print(f"{'kind':<15}{'lrlab 1M steps':>16}{'torch 1M steps':>16}{'speedup':>10}")
    for name, (main, top, make) in CASES.items():
        schedule = Schedule.from_dict({"format": "lrlab.schedule/1", "base_lr": 0.1,
                                       "total_steps": N, "main": main, **top})
        start = time.perf_counter()
        schedule.lr(np.arange(N))
        ours = time.perf_counter() - start
        theirs = torch_seconds_per_step(make) * N
        print(f"{name:<15}{ours * 1e3:>13.1f} ms{theirs:>14.1f} s{theirs / ours:>9.0f}x")
    schedule = Schedule.from_dict({"format": "lrlab.schedule/1", "base_lr": 0.1,
                                   "total_steps": N, "main": {"kind": "sgdr", "T_0": 1000}})
    start = time.perf_counter()
    p = preview(schedule, "sgdr")
    print(f"designer preview of a 1,000,000-step SGDR: {(time.perf_counter() - start) * 1e3:.0f} ms"
          f" ({len(p.steps)} points plotted)")


if __name__ == "__main__":
    main()
