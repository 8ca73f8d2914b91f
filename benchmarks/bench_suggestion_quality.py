"""Where does each LR suggestion land against the LR that trains best?

For each model/dataset pair: one lrlab range test (SGD, momentum 0.9) analysed with every rule
(lrlab's 1cycle advice and consensus, fastai valley/steep/minimum/slide, torch-lr-finder's
steepest gradient, Lightning); then short 1cycle training runs (max_lr = the LR under test, fixed
seed and data order) at a log-spaced grid of LRs and at every suggested LR. Prints the grid's
best LR and, per suggestion, its distance from it in decades and the validation accuracy reached.

Pairs: a small CNN on scikit-learn's digits, and a narrow ResNet on a 6000/2000 split of the MNIST
test set (/work/shared/data/mnist-t10k). Plain training loop, so the benchmark measures the
suggestions and nothing else.

Run: .venv/bin/python benchmarks/bench_suggestion_quality.py [--grid 9] [--epochs 3]
"""

from __future__ import annotations

import argparse
import gzip
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

from lrlab.finder.advice import advise
from lrlab.finder.analysis import analyze
from lrlab.finder.range_test import range_test

MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist-t10k"
SEED = 0

Split = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def digits() -> Split:
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = (x - x.mean()) / x.std()
    y = torch.tensor(d.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(SEED))
    x, y = x[order], y[order]
    return x[:1400], y[:1400], x[1400:], y[1400:]


def _idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def mnist_split() -> Split:
    x = torch.tensor(_idx(MNIST / "t10k-images-idx3-ubyte.gz"), dtype=torch.float32)
    x = ((x / 255.0 - 0.1307) / 0.3081).unsqueeze(1)
    y = torch.tensor(_idx(MNIST / "t10k-labels-idx1-ubyte.gz"), dtype=torch.long)
    return x[:6000], y[:6000], x[6000:8000], y[6000:8000]


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 16, 10),
    )


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.skip = (nn.Identity() if stride == 1 and cin == cout else
                     nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                   nn.BatchNorm2d(cout)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


def narrow_resnet() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),  # 14x14
        _Block(8, 8, 1), _Block(8, 16, 2), _Block(16, 32, 2),  # 4x4
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
    )


def batches(x: torch.Tensor, y: torch.Tensor, batch: int, epoch: int) -> list[tuple]:
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(SEED + epoch))
    return [(x[order[i:i + batch]], y[order[i:i + batch]])
            for i in range(0, len(y) - batch + 1, batch)]


def sgd(model: nn.Module, lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)


def train(make: Callable[[], nn.Module], data: Split, lr: float, epochs: int,
          batch: int) -> float:
    """1cycle with max_lr=lr, fixed init and data order; returns validation accuracy (%)."""
    xt, yt, xv, yv = data
    torch.manual_seed(SEED)
    model = make()
    opt = sgd(model, lr)
    steps = epochs * (len(yt) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    model.train()
    for epoch in range(epochs):
        for xb, yb in batches(xt, yt, batch, epoch):
            loss = nn.functional.cross_entropy(model(xb), yb)
            if not torch.isfinite(loss):
                return 100.0 * float((yv == 0).float().mean())  # diverged: chance-level answer
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    with torch.no_grad():
        return 100.0 * float((model(xv).argmax(1) == yv).float().mean())


def suggestions(make: Callable[[], nn.Module], data: Split, batch: int) -> dict[str, float]:
    xt, yt, _, _ = data
    torch.manual_seed(SEED)
    model = make()
    curve = range_test(model, sgd(model, 1e-7), batches(xt, yt, batch, 0),
                       criterion=nn.CrossEntropyLoss(), start_lr=1e-6, end_lr=10.0,
                       num_points=100)
    analysis = analyze(curve.lrs, curve.losses, stop_reason=curve.stop_reason,
                       planned_steps=curve.planned_points)
    found = {name: lr for name, lr in analysis.suggestions.items() if lr is not None}
    if analysis.consensus is not None:
        advice = advise(analysis, total_steps=1000, batch_size=batch)
        found = {"lrlab 1cycle advice": advice["onecycle"]["base_lr"],
                 "lrlab consensus": analysis.consensus, **found}
    return found


def bench(name: str, make: Callable[[], nn.Module], data: Split, args: argparse.Namespace,
          batch: int) -> None:
    started = time.perf_counter()
    found = suggestions(make, data, batch)
    grid = np.logspace(-3, 0.5, args.grid)
    grid_acc = {float(lr): train(make, data, float(lr), args.epochs, batch) for lr in grid}
    best_lr = max(grid_acc, key=lambda lr: grid_acc[lr])
    print(f"\n== {name}: {len(data[1])} train / {len(data[3])} val, batch {batch}, "
          f"{args.epochs} epochs 1cycle, SGD momentum 0.9")
    print("grid: " + "  ".join(f"{lr:.2g}:{acc:.1f}%" for lr, acc in grid_acc.items()))
    print(f"grid best LR {best_lr:.3g} -> {grid_acc[best_lr]:.1f}%")
    print(f"{'suggestion':<18} {'LR':>9} {'decades from best':>18} {'val acc':>8}")
    for method, lr in found.items():
        acc = train(make, data, lr, args.epochs, batch)
        print(f"{method:<18} {lr:9.3g} {math.log10(lr / best_lr):+18.2f} {acc:7.1f}%")
    print(f"({time.perf_counter() - started:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grid", type=int, default=9)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    bench("small CNN on digits", small_cnn, digits(), args, batch=64)
    if MNIST.exists():
        bench("narrow ResNet on MNIST t10k split", narrow_resnet, mnist_split(), args, batch=128)


if __name__ == "__main__":
    main()
