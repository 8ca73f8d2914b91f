"""The datasets lrlab knows by name, and what each needs before it can be read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lrlab.core.errors import LrlabError


@dataclass(frozen=True)
class DatasetInfo:
    title: str
    description: str
    needs_root: bool
    downloadable: bool
    # (C, H, W) and class count when fixed by the set itself; None for folders of any shape
    input_shape: tuple[int, int, int] | None = None
    num_classes: int | None = None


DATASETS: dict[str, DatasetInfo] = {
    "digits": DatasetInfo(
        "Digits (scikit-learn)", "1,797 handwritten digits, 8x8 grey, offline", False, False,
        (1, 8, 8), 10,
    ),
    "mnist": DatasetInfo("MNIST", "handwritten digits, 28x28 grey (torchvision)", True, True,
                         (1, 28, 28), 10),
    "fashion_mnist": DatasetInfo(
        "Fashion-MNIST", "clothing items, 28x28 grey (torchvision)", True, True, (1, 28, 28), 10
    ),
    "kmnist": DatasetInfo("KMNIST", "Kuzushiji characters, 28x28 grey (torchvision)", True, True,
                          (1, 28, 28), 10),
    "cifar10": DatasetInfo("CIFAR-10", "10 classes, 32x32 colour (torchvision)", True, True,
                           (3, 32, 32), 10),
    "cifar100": DatasetInfo("CIFAR-100", "100 classes, 32x32 colour (torchvision)", True, True,
                            (3, 32, 32), 100),
    "svhn": DatasetInfo(
        "SVHN", "street-view house numbers, 32x32 colour (torchvision)", True, True, (3, 32, 32),
        10,
    ),
    "idx": DatasetInfo(
        "IDX folder", "any MNIST-format set: {train,t10k}-{images,labels} IDX files", True, False
    ),
    "image_folder": DatasetInfo(
        "Image folder", "your own images, one sub-folder per class", True, False
    ),
    "synthetic": DatasetInfo(
        "Synthetic", "seeded class-conditional patterns for quick tests", False, False,
        (1, 16, 16), 4,
    ),
}


def check_data_root(name: str, root: str | None, *, download: bool = False) -> None:
    """Refuse, before any job is queued, a set that needs a folder without one or with a folder
    that does not exist (unless torchvision may download into it)."""
    info = DATASETS.get(name)
    if info is None or not info.needs_root:
        return
    if root is None:
        raise LrlabError(f"data_root: dataset {name!r} needs a data folder")
    if not download and not Path(root).expanduser().is_dir():
        hint = " (or set download: true)" if info.downloadable else ""
        raise LrlabError(f"data_root: folder {root!r} does not exist{hint}")
