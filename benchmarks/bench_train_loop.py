"""Loop overhead: lrlab.train.loop.run_epochs vs a hand-written PyTorch loop.

Same model (small_cnn), data (digits, on-device BatchLoader), batch size, optimizer and schedule;
the two are timed alternately (best of three) on this shared machine and the ratio of images/s is
printed (target ≥ 0.95).
"""

from __future__ import annotations

import time

import torch
from torch import nn

from lrlab.data import load_dataset, make_loader
from lrlab.models import build_model
from lrlab.train.loop import run_epochs

EPOCHS = 2
BATCH = 64


def _fresh(ds):
    torch.manual_seed(0)
    model = build_model(
        "small_cnn",
        num_classes=ds.num_classes,
        in_channels=ds.in_channels,
        image_size=ds.image_size,
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0)
    return model, opt, sched


def plain(ds, loader) -> float:
    model, opt, sched = _fresh(ds)
    start = time.perf_counter()
    for _ in range(EPOCHS):
        model.train()
        for x, y in loader:
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return time.perf_counter() - start


def lrlab_loop(ds, loader) -> float:
    model, opt, sched = _fresh(ds)
    empty: list[tuple[torch.Tensor, torch.Tensor]] = []
    start = time.perf_counter()
    run_epochs(model, opt, sched, loader, empty, EPOCHS)
    return time.perf_counter() - start


def main() -> None:
    ds = load_dataset("digits")
    loader = make_loader(ds, "train", BATCH, device=torch.device("cpu"), seed=0)
    images = EPOCHS * len(loader) * BATCH
    best_plain, best_lrlab = float("inf"), float("inf")
    for _ in range(3):
        best_plain = min(best_plain, plain(ds, loader))
        best_lrlab = min(best_lrlab, lrlab_loop(ds, loader))
    print(f"plain loop: {images / best_plain:8.0f} images/s")
    print(f"lrlab loop: {images / best_lrlab:8.0f} images/s")
    print(f"ratio lrlab/plain: {best_plain / best_lrlab:.3f} (target >= 0.95)")


if __name__ == "__main__":
    main()
