"""lrlab's range test against torch-lr-finder 0.2.2, same model, data, seed and sweep.

torch-lr-finder's exp sweep is lr_i = start·(end/start)^(i/(N−1)), i = 0..N−1 (its
ExponentialLR with last_epoch starting at 0), and `history["lr"][i]` is the LR the i-th step used:
the same inclusive grid lrlab sweeps. Its `history["loss"]` is an undebiased EMA (smooth_f=0.05)
of the raw losses, which `torch_lr_finder_smooth` reproduces from lrlab's raw curve.

Prints (a) the max abs difference between the two smoothed curves, (b) the wall-time ratio
(torch-lr-finder time / lrlab time, > 1 means lrlab is faster; each tool's time includes putting
the model back: lrlab does it itself, torch-lr-finder needs `reset()`), (c) whether each tool left
the model as it found it without a `reset()` call.

Run: .venv/bin/python benchmarks/bench_vs_torch_lr_finder.py [--points 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch_lr_finder import LRFinder

from lrlab.finder.range_test import range_test
from lrlab.finder.smoothing import torch_lr_finder_smooth


def digits_loader(batch_size: int) -> DataLoader:
    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(digits.target, dtype=torch.long)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=False, drop_last=True)


def small_cnn(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 16, 10),
    )


def params_of(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def unchanged(before: dict[str, torch.Tensor], model: nn.Module) -> bool:
    return all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def run_torch_lr_finder(loader: DataLoader, start: float, end: float, n: int,
                        reset: bool) -> tuple[list[float], list[float], float, bool]:
    model = small_cnn(0)
    before = params_of(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=start, momentum=0.9)
    started = time.perf_counter()
    finder = LRFinder(model, optimizer, nn.CrossEntropyLoss(), device="cpu")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        finder.range_test(loader, start_lr=start, end_lr=end, num_iter=n, step_mode="exp",
                          smooth_f=0.05, diverge_th=5)
    if reset:
        finder.reset()
    seconds = time.perf_counter() - started
    return finder.history["lr"], finder.history["loss"], seconds, unchanged(before, model)


def run_lrlab(loader: DataLoader, start: float, end: float,
              n: int) -> tuple[list[float], list[float], float, bool]:
    model = small_cnn(0)
    before = params_of(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=start, momentum=0.9)
    started = time.perf_counter()
    curve = range_test(model, optimizer, loader, criterion=nn.CrossEntropyLoss(),
                       start_lr=start, end_lr=end, num_points=n, mode="exp")
    seconds = time.perf_counter() - started
    return curve.lrs, curve.losses, seconds, unchanged(before, model)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    loader = digits_loader(args.batch_size)
    start, end, n = 1e-5, 10.0, args.points

    tl_lrs, tl_loss, _, _ = run_torch_lr_finder(loader, start, end, n, reset=True)
    ll_lrs, ll_raw, _, _ = run_lrlab(loader, start, end, n)
    # torch-lr-finder stops on 5×best of its EMA, lrlab on its own rule: compare the common part
    m = min(len(tl_lrs), len(ll_lrs))
    lr_diff = float(np.max(np.abs(np.array(tl_lrs[:m]) / np.array(ll_lrs[:m]) - 1)))
    loss_diff = float(np.max(np.abs(torch_lr_finder_smooth(ll_raw)[:m] - np.array(tl_loss[:m]))))
    print(f"sweep: {n} points exp {start:g} -> {end:g}, small CNN on digits, batch "
          f"{args.batch_size}, SGD momentum 0.9")
    print(f"points compared: {m} (torch-lr-finder {len(tl_lrs)}, lrlab {len(ll_lrs)})")
    print(f"(a) max relative LR difference: {lr_diff:.2e}; max abs difference of smoothed "
          f"loss (smooth_f=0.05): {loss_diff:.2e}")

    # equal work for the timing: both sweep the full grid (no early stop)
    tl_times, ll_times = [], []
    for _ in range(args.repeats):
        tl_times.append(run_torch_lr_finder(loader, start, 1e-2, n, reset=True)[2])
        ll_times.append(run_lrlab(loader, start, 1e-2, n)[2])
    tl_t, ll_t = statistics.median(tl_times), statistics.median(ll_times)
    print(f"(b) wall time, median of {args.repeats}: torch-lr-finder (+reset) {tl_t:.3f} s, "
          f"lrlab {ll_t:.3f} s, ratio {tl_t / ll_t:.2f}x")

    _, _, _, tl_same = run_torch_lr_finder(loader, start, end, n, reset=False)
    _, _, _, ll_same = run_lrlab(loader, start, end, n)
    print(f"(c) model unchanged afterwards without reset(): lrlab {ll_same}, "
          f"torch-lr-finder {tl_same}")


if __name__ == "__main__":
    main()
