"""The task protocol: any PyTorch model, data, loss and metric, as one value lrlab can sweep,
check and train.

A task is what a factory returns (see lrlab.tasks.loading for how a factory is named and
called). Only `model` and `train` are required; the defaults fill in the rest the way the
common cases need:

- the loss of an ``(x, y)`` batch is cross-entropy of ``model(x)`` against ``y``;
- the loss of a dict batch with ``labels`` is the model's own ``.loss`` (transformers models);
- `evaluate` defaults to the mean loss over `val`, named ``val_loss`` (minimised);
- batches move to the run's device whatever their nesting (tensors in tuples, lists, dicts).

`param_groups` (optional) are the optimizer's groups: each a dict with ``params`` and, if it
differs from the rest, ``lr_scale`` (a multiple of the schedule's LR: per-layer LRs) or
``weight_decay`` (for example 0 for biases and norms). A range test moves every group together,
so their ratios hold.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from lrlab.core.errors import LrlabError

Loss = Callable[[nn.Module, Any], torch.Tensor]
Evaluate = Callable[[nn.Module, Iterable[Any]], Mapping[str, float]]
MODES = ("min", "max")


@dataclass
class Task:
    """A model, its batches, a loss for one batch and what "better" means."""

    model: nn.Module
    train: Iterable[Any]  # re-iterable: iterated once per epoch (a DataLoader)
    loss: Loss | None = None  # (model, batch) -> a scalar tensor; None: the defaults above
    val: Iterable[Any] | None = None
    evaluate: Evaluate | None = None  # (model, val) -> {name: float}; None: mean val loss
    objective: str = "val_loss"  # the metric the LR check and training rank by
    mode: str = "min"  # "min" or "max": which way is better
    param_groups: Sequence[Mapping[str, Any]] | None = None  # see the module's docstring

    def loss_of(self, model: nn.Module, batch: Any) -> torch.Tensor:
        """The task's loss of one batch (already on the device), or the default's: a scalar
        tensor, else one sentence saying what came instead."""
        loss = (self.loss or default_loss)(model, batch)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            got = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
            raise LrlabError(f"the loss must be a scalar tensor, got {got}")
        return loss.reshape(())

    def metrics(self, model: nn.Module, device: torch.device | None = None) -> dict[str, float]:
        """The task's evaluation of `model` on `val` (no grad, eval mode, its batches on
        `device`), as plain floats."""
        was_training = model.training
        model.eval()
        val = OnDevice(self.val if self.val is not None else (), device)
        try:
            with torch.no_grad():
                if self.evaluate is not None:
                    found = self.evaluate(model, val)
                else:
                    found = {"val_loss": mean_loss(self, model, val)}
        finally:
            model.train(was_training)
        if not isinstance(found, Mapping):
            raise LrlabError(f"evaluate: expected a mapping of metric names to numbers, got "
                             f"{type(found).__name__}")
        return {str(k): float(v) for k, v in found.items()}


def default_loss(model: nn.Module, batch: Any) -> torch.Tensor:
    """Cross-entropy of an ``(x, y)`` batch; a dict batch with ``labels``: the model's own
    ``.loss`` (a transformers model computes it when given labels)."""
    if isinstance(batch, Mapping):
        if "labels" not in batch:
            raise LrlabError("loss: a dict batch needs a 'labels' entry for the default loss "
                             f"(it has {', '.join(map(str, batch)) or 'nothing'}); give the "
                             "task a loss")
        out = model(**batch)
        loss = out["loss"] if isinstance(out, Mapping) else getattr(out, "loss", None)
        if loss is None:
            raise LrlabError("loss: the model returned no .loss for a batch with labels; give "
                             "the task a loss")
        return loss
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        x, y = batch
        return nn.functional.cross_entropy(model(x).float(), y)
    raise LrlabError(f"loss: the default loss takes (inputs, labels) or a dict with labels, "
                     f"got a batch of type {type(batch).__name__}; give the task a loss")


def mean_loss(task: Task, model: nn.Module, batches: Iterable[Any]) -> float:
    """The loss averaged over batches (each batch weighted alike): the default `evaluate`."""
    total, count = 0.0, 0
    for batch in batches:
        total += float(task.loss_of(model, batch))
        count += 1
    return total / count if count else math.nan


class OnDevice:
    """A re-iterable view of a loader whose batches arrive on `device`: what `evaluate` and
    the loss are given, so task code never moves tensors itself."""

    def __init__(self, loader: Iterable[Any], device: torch.device | None) -> None:
        self.loader, self.device = loader, device

    def __iter__(self) -> Any:
        return (to_device(batch, self.device) for batch in self.loader)

    def __len__(self) -> int:
        return len(self.loader)  # type: ignore[arg-type]


def to_device(batch: Any, device: torch.device | None, non_blocking: bool = False) -> Any:
    """The batch with every tensor in it on `device`, whatever its nesting."""
    if device is None:
        return batch
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, Mapping):
        moved = {k: to_device(v, device, non_blocking) for k, v in batch.items()}
        try:
            return type(batch)(moved)  # a dict, or a mapping type such as BatchEncoding
        except TypeError:
            return moved
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # a namedtuple
        return type(batch)(*(to_device(v, device, non_blocking) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device, non_blocking) for v in batch)
    return batch


def batch_size_of(loader: Iterable[Any]) -> int | None:
    """The loader's batch size (a DataLoader's, or a batch sampler's); None when it has none,
    for linear scaling and the noise scale to say so rather than guess."""
    size = getattr(loader, "batch_size", None)
    if size is None:
        size = getattr(getattr(loader, "batch_sampler", None), "batch_size", None)
    return int(size) if isinstance(size, int) and size > 0 else None


def batches_in(loader: Iterable[Any]) -> int | None:
    """How many batches one pass over the loader yields, or None for a loader without length."""
    try:
        return len(loader)  # type: ignore[arg-type]
    except TypeError:
        return None
