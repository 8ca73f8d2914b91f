"""A set's splits (in memory or on disk), and how a source becomes seeded, class-balanced train
and validation splits with their normalisation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional

STATS_SAMPLE = 512  # images decoded to estimate the normalisation of a set left on disk


@dataclass(frozen=True)
class TensorSplit:
    x: torch.Tensor  # uint8 [N, C, H, W]
    y: torch.Tensor  # int64 [N]

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True)
class FileSplit:
    """Images left on disk: decoded per batch by a DataLoader at `size` in `mode` (L or RGB)."""

    paths: tuple[Path, ...]
    y: torch.Tensor  # int64 [N]
    size: int
    mode: str

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def channels(self) -> int:
        return 1 if self.mode == "L" else 3


Split = TensorSplit | FileSplit


def decode_image(path: Path, mode: str, size: int) -> np.ndarray:
    """One image as uint8 [C, H, W] at `size` x `size` in `mode`."""
    from PIL import Image

    with Image.open(path) as image:
        pixels = np.array(image.convert(mode).resize((size, size), Image.BILINEAR))
    return pixels[None] if pixels.ndim == 2 else np.ascontiguousarray(pixels.transpose(2, 0, 1))


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    val: Split
    num_classes: int
    in_channels: int
    image_size: tuple[int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: str
    classes: list[str]


def stratified_order(y: torch.Tensor, seed: int) -> torch.Tensor:
    """A seeded permutation whose every prefix holds the classes in their overall proportions."""
    generator = torch.Generator().manual_seed(seed)
    keys = torch.empty(len(y), dtype=torch.float64)
    for label in torch.unique(y):
        members = torch.nonzero(y == label).flatten()
        shuffled = members[torch.randperm(len(members), generator=generator)]
        keys[shuffled] = (torch.arange(len(members), dtype=torch.float64) + 0.5) / len(members)
    return torch.argsort(keys, stable=True)


def _take(split: Split, index: torch.Tensor) -> Split:
    index = torch.sort(index).values  # keep the source order: cheap, and stable across seeds
    if isinstance(split, FileSplit):
        paths = tuple(split.paths[i] for i in index.tolist())
        return FileSplit(paths, split.y[index].contiguous(), split.size, split.mode)
    return TensorSplit(split.x[index].contiguous(), split.y[index].contiguous())


def limit_split(split: Split, limit: int | None, seed: int) -> Split:
    if limit is None or limit >= len(split):
        return split
    return _take(split, stratified_order(split.y, seed)[:limit])


def val_share(members: int, val_fraction: float) -> int:
    """Examples of a class of `members` that go to validation: the share, rounded, leaving at
    least one on each side when there are two or more."""
    n_val = round(members * val_fraction)
    return min(max(n_val, 1), members - 1) if members > 1 else n_val


def stratified_split(split: Split, val_fraction: float, seed: int) -> tuple[Split, Split]:
    """Per class, a seeded share of `val_fraction` (rounded) goes to validation."""
    generator = torch.Generator().manual_seed(seed)
    train_parts, val_parts = [], []
    for label in torch.unique(split.y):
        members = torch.nonzero(split.y == label).flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        n_val = val_share(len(members), val_fraction)
        val_parts.append(members[:n_val])
        train_parts.append(members[n_val:])
    return _take(split, torch.cat(train_parts)), _take(split, torch.cat(val_parts))


def _channel_stats(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std in [0, 1] units, accumulated in float64 chunks to bound memory."""
    channels = x.shape[1]
    total = torch.zeros(channels, dtype=torch.float64)
    squares = torch.zeros(channels, dtype=torch.float64)
    for start in range(0, len(x), 4096):
        chunk = x[start : start + 4096].to(torch.float64) / 255.0
        total += chunk.sum(dim=(0, 2, 3))
        squares += (chunk * chunk).sum(dim=(0, 2, 3))
    count = x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    std = (squares / count - mean * mean).clamp_min(0).sqrt().clamp_min(1e-3)
    return tuple(mean.tolist()), tuple(std.tolist())


def split_stats(split: Split, seed: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Normalisation of the training split; a set on disk is estimated from a seeded sample."""
    if isinstance(split, TensorSplit):
        return _channel_stats(split.x)
    generator = torch.Generator().manual_seed(seed)
    sample = torch.randperm(len(split), generator=generator)[:STATS_SAMPLE].tolist()
    pixels = np.stack([decode_image(split.paths[i], split.mode, split.size) for i in sample])
    return _channel_stats(torch.from_numpy(pixels))


def resize_split(split: Split, size: int) -> Split:
    if isinstance(split, FileSplit):
        return FileSplit(split.paths, split.y, size, split.mode)
    if split.x.shape[-2:] == (size, size):
        return split
    resized = functional.interpolate(
        split.x.float(), size=(size, size), mode="bilinear", antialias=True
    )
    return TensorSplit(resized.round().clamp(0, 255).to(torch.uint8), split.y)
