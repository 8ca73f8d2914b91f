"""Augmentation as whole-batch tensor operations on the device: shift, crop and flip."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional


def _shift_padding(height: int) -> int:
    return 1 if height < 16 else 2


def _crop_padding(height: int) -> int:
    return max(1, height // 8)  # 4 px on 32 px images, as in the ResNet CIFAR recipe


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The random stream of one epoch: order and augmentation.

    Seeded from (seed, epoch) through numpy's SeedSequence, so streams never overlap: with
    `seed + epoch` seed 0's second epoch would repeat seed 1's first, and runs "with different
    seeds" would share their data orders.
    """
    state = np.random.SeedSequence([seed, epoch]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


class BatchTransform:
    """uint8 images on the device -> augmented, normalised float32, as whole-batch operations."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...], device: torch.device,
                 augment: str) -> None:
        shape = (1, len(mean), 1, 1)
        self.augment = augment
        self._mean = torch.tensor(mean, dtype=torch.float32, device=device).view(shape) * 255
        self._inv_std = 1.0 / (
            torch.tensor(std, dtype=torch.float32, device=device).view(shape) * 255
        )

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        images = images.float()
        if self.augment in ("crop", "crop_flip"):
            images = _random_crop(images, _crop_padding(images.shape[2]), generator)
        if self.augment == "crop_flip":
            images = _random_flip(images, generator)
        elif self.augment == "shift":
            images = _random_crop(images, _shift_padding(images.shape[2]), generator)
        return (images - self._mean) * self._inv_std


def _random_crop(images: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad by `padding` and crop back to size at a random offset per image.

    One gather over the flattened padded images: a crop is the fixed window of flat indices
    shifted by row_offset * padded_width + column_offset (several times faster than 4-D
    advanced indexing).
    """
    b, c, h, w = images.shape
    padded = functional.pad(images, (padding, padding, padding, padding))
    padded_w = w + 2 * padding
    offsets = torch.randint(0, 2 * padding + 1, (2, b), generator=generator).to(images.device)
    window = torch.arange(h, device=images.device)[:, None] * padded_w
    window = (window + torch.arange(w, device=images.device)).flatten()  # [H * W]
    index = window[None, :] + (offsets[0] * padded_w + offsets[1])[:, None]  # [B, H * W]
    flat = padded.reshape(b, c, -1)
    return flat.gather(2, index[:, None, :].expand(b, c, h * w)).view(b, c, h, w)


def _random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    flip = (torch.rand(images.shape[0], generator=generator) < 0.5).to(images.device)
    return torch.where(flip[:, None, None, None], images.flip(3), images)
