"""A Lightning `LightningModule` (with its datamodule) as a task: its `training_step` is the loss,
its dataloaders the batches, its `validation_step` the evaluation. lrlab drives the updates with
its own optimizer and schedule (the module's `configure_optimizers` is not used), so the range
test, the LR check and training sweep and train what the module defines. Lightning is not
imported: the module is driven through its own methods.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch

from lrlab.core.errors import LrlabError
from lrlab.tasks.protocol import Task


def lightning_task(module: Any, datamodule: Any = None, objective: str = "val_loss",
                   mode: str = "min") -> Task:
    """The module's setup as a task; the datamodule (prepared and set up for fitting) gives the
    dataloaders when there is one, else the module's own `*_dataloader` methods."""
    source = module
    if datamodule is not None:
        datamodule.prepare_data()
        datamodule.setup("fit")
        source = datamodule
    val = source.val_dataloader() if _has(source, "val_dataloader") else None

    def loss(_model: torch.nn.Module, batch: Any) -> torch.Tensor:
        return _loss_of(module.training_step(batch, 0), "training_step")

    return Task(model=module, train=source.train_dataloader(), val=val, loss=loss,
                evaluate=lambda _model, batches: evaluate(module, batches),
                objective=objective, mode=mode)


def evaluate(module: Any, batches: Iterable[Any]) -> dict[str, float]:
    """The mean of what `validation_step` returns (a loss tensor, or a dict of numbers) over the
    validation batches; a step that returns nothing (it only logs) is read as its
    `training_step` loss, as ``val_loss``."""
    sums: dict[str, float] = {}
    count = 0
    for index, batch in enumerate(batches):
        out = module.validation_step(batch, index) if _has(module, "validation_step") else None
        if out is None:
            out = {"val_loss": _loss_of(module.training_step(batch, index), "training_step")}
        elif isinstance(out, torch.Tensor):
            out = {"val_loss": out}
        for key, value in dict(out).items():
            sums[key] = sums.get(key, 0.0) + float(value)
        count += 1
    return {key: total / count for key, total in sums.items()} if count else {}


def _loss_of(out: Any, step: str) -> torch.Tensor:
    if isinstance(out, Mapping):
        out = out.get("loss")
    if not isinstance(out, torch.Tensor):
        raise LrlabError(f"{step}: expected a loss tensor (or a dict with 'loss'), got "
                         f"{type(out).__name__}")
    return out


def _has(obj: Any, method: str) -> bool:
    """Whether `obj` defines `method` itself (Lightning's base classes define them all)."""
    found = getattr(type(obj), method, None)
    return found is not None and getattr(found, "__module__", "").split(".")[0] not in (
        "lightning", "pytorch_lightning")
