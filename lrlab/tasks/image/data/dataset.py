"""A registered set loaded with its train and validation splits, or only counted."""

from __future__ import annotations

from pathlib import Path

import torch

from lrlab.core.errors import LrlabError
from lrlab.tasks.image.data.registry import DATASETS
from lrlab.tasks.image.data.sources import MEMORY_BUDGET_BYTES, SOURCES, image_folder, labels_of
from lrlab.tasks.image.data.splits import (
    Dataset,
    FileSplit,
    limit_split,
    resize_split,
    split_stats,
    stratified_order,
    stratified_split,
    val_share,
)


def load_dataset(
    name: str,
    *,
    root: str | Path | None = None,
    download: bool = False,
    val_fraction: float = 0.2,
    seed: int = 0,
    limit: int | None = None,
    image_size: int | None = None,
    in_memory: bool | None = None,
    memory_budget: int = MEMORY_BUDGET_BYTES,
) -> Dataset:
    """Load a registered set with a train and a validation split.

    Sets with official splits keep them (the test split is the validation split); sets with one
    split get a seeded stratified split of `val_fraction`. `limit` caps each source split to a
    seeded, class-proportional subset before splitting. `image_size` resizes every image.
    An image folder whose decoded pixels exceed `memory_budget` bytes (or any image folder with
    `in_memory=False`) stays on disk; every other set is decoded into memory.
    """
    _check_request(name, val_fraction, limit, image_size)
    folder = Path(root) if root is not None else None
    if name == "image_folder":
        raw = image_folder(folder, image_size, in_memory, memory_budget)
    elif in_memory is False:
        raise LrlabError(f"in_memory: only image_folder sets can stay on disk; {name!r} is "
                         "always loaded into memory")
    else:
        raw = SOURCES[name](folder, download, seed, image_size)
    train = limit_split(raw.train, limit, seed)
    if raw.val is None:
        train, val = stratified_split(train, val_fraction, seed)
    else:
        val = limit_split(raw.val, limit, seed)
    if image_size is not None:
        train, val = resize_split(train, image_size), resize_split(val, image_size)
    mean, std = split_stats(train, seed)
    num_classes = max(len(raw.classes), int(train.y.max()) + 1, int(val.y.max()) + 1)
    if isinstance(train, FileSplit):
        channels, height, width = train.channels, train.size, train.size
    else:
        channels, height, width = (int(n) for n in train.x.shape[1:])
    return Dataset(name=name, train=train, val=val, num_classes=num_classes,
                   in_channels=channels, image_size=(height, width), mean=mean, std=std,
                   augment=raw.augment, classes=list(raw.classes))


def _check_request(name: str, val_fraction: float, limit: int | None,
                   image_size: int | None) -> None:
    if name not in DATASETS:
        raise LrlabError(
            f"dataset: unknown dataset {name!r}; expected one of {', '.join(DATASETS)}"
        )
    if not 0.0 < val_fraction < 1.0:
        raise LrlabError(f"val_fraction: expected a number in (0, 1), got {val_fraction}")
    if limit is not None and limit < 2:
        raise LrlabError(f"limit: expected at least 2 examples, got {limit}")
    if image_size is not None and image_size < 1:
        raise LrlabError(f"image_size: expected a positive size, got {image_size}")


def train_examples(name: str, *, root: str | Path | None = None, download: bool = False,
                   val_fraction: float = 0.2, seed: int = 0, limit: int | None = None) -> int:
    """How many examples `load_dataset` would put in the training split, counted from the
    labels alone (the same limit and stratified split): what a run's length needs, without the
    images (see labels_of)."""
    if name not in DATASETS:
        raise LrlabError(
            f"dataset: unknown dataset {name!r}; expected one of {', '.join(DATASETS)}"
        )
    train, val = labels_of(name, Path(root) if root is not None else None, download, seed)
    if limit is not None and limit < len(train):
        train = train[stratified_order(train, seed)[:limit]]
    if val is not None:
        return len(train)
    return sum(len(members) - val_share(len(members), val_fraction)
               for members in (torch.nonzero(train == label).flatten()
                               for label in torch.unique(train)))
