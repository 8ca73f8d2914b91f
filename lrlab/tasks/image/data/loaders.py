"""Loaders: batches of normalised images on the device, one epoch per pass, in a seeded order
that follows a batch plan when given."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from typing import Any

import torch

from lrlab.core.errors import LrlabError
from lrlab.core.options import AUGMENTATIONS
from lrlab.tasks.image.data.augment import BatchTransform, epoch_generator
from lrlab.tasks.image.data.splits import Dataset, FileSplit, TensorSplit, decode_image


class EpochPlan:
    """What both loaders share: length, epochs (`set_epoch`, as DistributedSampler has it, so a
    resumed run sees epoch k's order again) and the epoch's permutation."""

    def __init__(self, n: int, batch_size: int, *, shuffle: bool, drop_last: bool,
                 seed: int) -> None:
        self.batch_size = batch_size
        self.shuffle = shuffle
        # Never let drop_last turn a small split into zero batches.
        self.drop_last = drop_last and n >= batch_size
        self.seed = seed
        self.epoch = 0
        self._n = n
        self.batch_plan: Callable[[int], int] | None = None
        self.updates = 0  # batches handed out over all epochs: the batch plan's clock
        self.rank, self.world = 0, 1

    def shard(self, rank: int, world: int) -> None:
        """Hand out only this rank's part of every batch (data parallel): the same global
        batches as one process, each split into `world` near-equal consecutive parts."""
        if not 0 <= rank < world:
            raise LrlabError(f"rank: expected 0 <= rank < {world}, got {rank}")
        self.rank, self.world = rank, world

    def _part(self, start: int, stop: int) -> tuple[int, int]:
        base, extra = divmod(stop - start, self.world)
        first = start + self.rank * base + min(self.rank, extra)
        return first, first + base + (1 if self.rank < extra else 0)

    def follow_plan(self, batch_at: Callable[[int], int], updates_done: int = 0) -> None:
        """Give update u a batch of batch_at(u) from now on (a batch-size schedule)."""
        self.batch_plan = batch_at
        self.updates = updates_done

    def _spans(self, first_update: int | None = None) -> list[tuple[int, int]]:
        """(start, stop) in the epoch's order of each batch of an epoch whose first batch is
        update `first_update` (default: the next one)."""
        n = self._n
        if self.batch_plan is None:
            return [(i * self.batch_size, min(n, (i + 1) * self.batch_size))
                    for i in range(len(self))]
        spans: list[tuple[int, int]] = []
        start, update = 0, self.updates if first_update is None else first_update
        while start < n:
            size = self.batch_plan(update)
            if self.drop_last and start + size > n and spans:
                break
            spans.append((start, min(n, start + size)))
            start, update = start + size, update + 1
        return spans

    def planned_updates(self, epochs: int) -> int:
        """Batches in the next `epochs` epochs (they vary under a batch plan)."""
        if self.batch_plan is None:
            return len(self) * epochs
        update = self.updates
        for _ in range(epochs):
            update += len(self._spans(update))
        return update - self.updates

    def __len__(self) -> int:
        n = self._n
        if self.batch_plan is not None:
            return len(self._spans())
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    @property
    def num_examples(self) -> int:
        return self._n

    def set_epoch(self, epoch: int) -> None:
        if epoch < 0:
            raise LrlabError(f"epoch: expected a non-negative integer, got {epoch}")
        self.epoch = epoch

    def _next_epoch(self) -> tuple[torch.Generator, torch.Tensor]:
        generator = epoch_generator(self.seed, self.epoch)
        self.epoch += 1
        if self.shuffle:
            return generator, torch.randperm(self._n, generator=generator)
        return generator, torch.arange(self._n)


class _OnDevice(EpochPlan):
    """What both loaders share: the device the batches are made on and their transform."""

    def __init__(self, n: int, *, batch_size: int, mean: tuple[float, ...],
                 std: tuple[float, ...], device: torch.device, shuffle: bool, augment: str,
                 drop_last: bool, seed: int) -> None:
        super().__init__(n, batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed)
        self.device = device
        self.augment = augment
        self._transform = BatchTransform(mean, std, device, augment)


class BatchLoader(_OnDevice):
    """Re-iterable batches of (normalised float32 images, int64 labels) on the device, from a set
    held there as uint8 tensors. Each pass is one epoch with its own order and augmentation."""

    def __init__(self, split: TensorSplit, **settings: Any) -> None:
        super().__init__(len(split), **settings)
        self.x = _to_device(split.x, self.device)
        self.y = _to_device(split.y, self.device)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        spans = self._spans()
        generator, order = self._next_epoch()
        order = order.to(self.device)
        for start, stop in spans:
            self.updates += 1
            start, stop = self._part(start, stop)
            if start == stop:  # a short last batch split over more ranks than examples
                continue
            index = order[start:stop]
            yield self._transform(self.x[index], generator), self.y[index]


class _DecodedImages(torch.utils.data.Dataset):
    def __init__(self, split: FileSplit) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.split
        return torch.from_numpy(decode_image(s.paths[i], s.mode, s.size)), s.y[i]


class FileLoader(_OnDevice):
    """The same batches as BatchLoader for a set on disk: worker processes decode the images,
    the device augments and normalises each batch."""

    def __init__(self, split: FileSplit, *, num_workers: int, **settings: Any) -> None:
        super().__init__(len(split), **settings)
        self.num_workers = num_workers
        self._images = _DecodedImages(split)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        spans = self._spans()
        generator, order = self._next_epoch()
        cuda = self.device.type == "cuda"
        indices = order.tolist()
        parts = [self._part(a, b) for a, b in spans]
        batches = torch.utils.data.DataLoader(
            self._images, batch_sampler=[indices[a:b] for a, b in parts if b > a],
            num_workers=self.num_workers,
            pin_memory=cuda,  # page-locked batches copy to the GPU asynchronously
            persistent_workers=False)
        for x, y in batches:
            x = x.to(self.device, non_blocking=cuda)
            self.updates += 1
            yield self._transform(x, generator), y.to(self.device, non_blocking=cuda)


def default_workers() -> int:
    """Decoding workers for a set on disk: every core but one (the training loop's)."""
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def _to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    if device.type == "cuda" and tensor.device.type == "cpu":
        # A pinned source lets the one-off host-to-device copy run asynchronously.
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def make_loader(
    dataset: Dataset,
    split: str,
    batch_size: int,
    *,
    device: torch.device | str = "cpu",
    shuffle: bool | None = None,
    augment: bool | str | None = None,
    drop_last: bool | None = None,
    seed: int = 0,
    num_workers: int | None = None,
) -> BatchLoader | FileLoader:
    """A loader for `split` ("train" or "val"); train shuffles, augments and drops the last
    partial batch by default, val does none of these. `augment` is True/"auto" (the dataset's
    own), False/"none", or "shift", "crop", "crop_flip". A split on disk gets a FileLoader with
    `num_workers` decoding processes (default: every core but one)."""
    if split not in ("train", "val"):
        raise LrlabError(f"split: expected 'train' or 'val', got {split!r}")
    if batch_size < 1:
        raise LrlabError(f"batch_size: expected a positive integer, got {batch_size}")
    is_train = split == "train"
    if augment is None:
        augment = is_train
    if isinstance(augment, bool):
        augment = "auto" if augment else "none"
    if augment not in AUGMENTATIONS:
        raise LrlabError(f"augment: expected one of {', '.join(AUGMENTATIONS)}, got {augment!r}")
    source = dataset.train if is_train else dataset.val
    options = {
        "batch_size": batch_size,
        "mean": dataset.mean,
        "std": dataset.std,
        "device": torch.device(device),
        "shuffle": is_train if shuffle is None else shuffle,
        "augment": dataset.augment if augment == "auto" else augment,
        "drop_last": is_train if drop_last is None else drop_last,
        "seed": seed,
    }
    if isinstance(source, FileSplit):
        workers = default_workers() if num_workers is None else num_workers
        return FileLoader(source, num_workers=workers, **options)
    return BatchLoader(source, **options)
