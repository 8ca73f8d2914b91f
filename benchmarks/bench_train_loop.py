"""Loop overhead: lrlab.training.loop.run_epochs vs a hand-written PyTorch loop.

Same model (small_cnn), data (digits, on-device BatchLoader), batch size, optimizer and schedule;
the two are timed alternately over seven rounds on this shared machine; the ratio of the best
images/s of each and the median of the per-round ratios are printed (target ≥ 0.95). lrlab's loop
does more per step than the plain one (loss check, grad norm, train accuracy, metrics to the
reporter); that is what is measured.
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

from lrlab.tasks.image.data import load_dataset, make_loader
from lrlab.tasks.image.models import build_model
from lrlab.training.loop import run_epochs

EPOCHS = 3
ROUNDS = 7
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
    plain_times, lrlab_times = [], []
    for _ in range(ROUNDS):
        plain_times.append(plain(ds, loader))
        lrlab_times.append(lrlab_loop(ds, loader))
    best_plain, best_lrlab = min(plain_times), min(lrlab_times)
    paired = statistics.median(p / q for p, q in zip(plain_times, lrlab_times, strict=True))
    print(f"plain loop: {images / best_plain:8.0f} images/s (best of {ROUNDS})")
    print(f"lrlab loop: {images / best_lrlab:8.0f} images/s (best of {ROUNDS})")
    print(f"ratio lrlab/plain: best {best_plain / best_lrlab:.3f}, median of rounds {paired:.3f} "
          "(target >= 0.95)")


if __name__ == "__main__":
    main()
