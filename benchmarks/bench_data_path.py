"""On-device batching (lrlab.tasks.image.data.BatchLoader) vs torch.utils.data.DataLoader,
in the same run.

Both read the same in-memory uint8 tensors and deliver normalised float32 batches on the CPU.
The DataLoader collates sample by sample (num_workers 0, and 2 with persistent workers); with
augmentation it applies torchvision's RandomCrop per sample, the usual way to write it.
Run: .venv/bin/python benchmarks/bench_data_path.py
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset
from torchvision.transforms import v2

from lrlab.tasks.image.data import Dataset, load_dataset, make_loader

BATCH = 128
MNIST_T10K = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-t10k"


class CroppedTensors(torch.utils.data.Dataset):
    """Per-sample augmentation, as a DataLoader pipeline would apply it."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, padding: int) -> None:
        self.x, self.y = x, y
        self.crop = v2.RandomCrop(x.shape[-1], padding=padding)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.crop(self.x[index]), self.y[index]


def images_per_second(
    batches: Callable[[], Iterable], epochs: int, normalise: Callable, repeats: int = 3
) -> float:
    """Best of `repeats` timed windows: the machine is shared, so the best is the least noisy."""
    for x, _y in batches():  # warm-up epoch (worker start-up, allocator)
        normalise(x)
    best = 0.0
    for _ in range(repeats):
        count = 0
        start = time.perf_counter()
        for _ in range(epochs):
            for x, _y in batches():
                count += normalise(x).shape[0]
        best = max(best, count / (time.perf_counter() - start))
    return best


def bench(data: Dataset, epochs: int) -> None:
    mean = torch.tensor(data.mean).view(1, -1, 1, 1)
    std = torch.tensor(data.std).view(1, -1, 1, 1)

    def normalise(x: torch.Tensor) -> torch.Tensor:
        return (x.float() / 255 - mean) / std if x.dtype == torch.uint8 else x

    padding = 1 if data.image_size[0] < 16 else 2
    results: dict[str, float] = {}
    for augment in (False, True):
        loader = make_loader(data, "train", BATCH, augment=augment)
        label = f"lrlab BatchLoader{' + shift' if augment else ''}"
        results[label] = images_per_second(lambda loader=loader: loader, epochs, lambda x: x)
    plain = TensorDataset(data.train.x, data.train.y)
    cropped = CroppedTensors(data.train.x, data.train.y, padding)
    for workers in (0, 2):
        for augment, source in ((False, plain), (True, cropped)):
            loader = DataLoader(
                source,
                batch_size=BATCH,
                shuffle=True,
                drop_last=True,
                num_workers=workers,
                persistent_workers=workers > 0,
            )
            label = f"DataLoader w={workers}{' + RandomCrop' if augment else ''}"
            results[label] = images_per_second(lambda loader=loader: loader, epochs, normalise)
    print(f"\n{data.name}: {len(data.train)} train images {data.image_size}, batch {BATCH}")
    for label, rate in results.items():
        print(f"  {label:34s} {rate:12,.0f} images/s")
    ours, ours_aug = results["lrlab BatchLoader"], results["lrlab BatchLoader + shift"]
    for workers in (0, 2):
        plain_rate = results[f"DataLoader w={workers}"]
        aug_rate = results[f"DataLoader w={workers} + RandomCrop"]
        print(
            f"  ratio vs DataLoader w={workers}: no augmentation {ours / plain_rate:6.1f}x, "
            f"with augmentation {ours_aug / aug_rate:6.1f}x"
        )


def main() -> None:
    bench(load_dataset("digits"), epochs=10)
    if MNIST_T10K.is_dir():
        bench(load_dataset("idx", root=MNIST_T10K), epochs=2)
    else:
        print(f"MNIST t10k not found at {MNIST_T10K}; skipped")


if __name__ == "__main__":
    main()
