"""Task factories the integration tests name by spec ("task_factories:linear"): small, exact,
and each broken one broken in one way."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lrlab

if os.environ.get("LRLAB_TEST_IMPORT_MARKER"):  # proves whether this module was imported
    Path(os.environ["LRLAB_TEST_IMPORT_MARKER"]).write_text("imported")


def _data(n: int = 64, features: int = 4, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    return TensorDataset(x, y)


def linear(batch_size: int = 16, n: int = 64, shuffle: bool = False,
           seed: int = 0) -> lrlab.Task:
    """A linear classifier on (x, y) batches with the default loss and evaluate."""
    model = nn.Linear(4, 2)
    data = _data(n, seed=seed)
    return lrlab.Task(model=model, train=DataLoader(data, batch_size=batch_size, shuffle=shuffle),
                      val=DataLoader(_data(32, seed=seed + 1), batch_size=32))


def dict_batches(seed: int = 0) -> lrlab.Task:
    """Dict batches with labels, and a model that computes its own .loss (transformers' way)."""

    class WithLoss(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(4, 2)

        def forward(self, features: torch.Tensor, labels: torch.Tensor) -> dict:
            logits = self.linear(features)
            return {"loss": nn.functional.cross_entropy(logits, labels), "logits": logits}

    data = _data(seed=seed)
    rows = [{"features": x, "labels": y} for x, y in data]
    return lrlab.Task(model=WithLoss(), train=DataLoader(rows, batch_size=16),
                      val=DataLoader(rows[:32], batch_size=32))


def raises(seed: int = 0) -> lrlab.Task:
    raise RuntimeError("no data here")


def not_a_task(seed: int = 0) -> dict:
    return {"model": nn.Linear(4, 2)}


def vector_loss() -> lrlab.Task:
    task = linear()
    task.loss = lambda model, batch: nn.functional.cross_entropy(model(batch[0]), batch[1],
                                                                 reduction="none")
    return task


def nan_loss() -> lrlab.Task:
    task = linear()
    task.loss = lambda model, batch: model(batch[0]).sum() * float("nan")
    return task


def no_objective() -> lrlab.Task:
    task = linear()
    task.evaluate = lambda model, batches: {"accuracy": 1.0}
    task.objective = "val_accuracy"
    return task


def empty_loader() -> lrlab.Task:
    task = linear()
    task.train = DataLoader(TensorDataset(torch.zeros(0, 4), torch.zeros(0).long()),
                            batch_size=4)
    return task


def wrong_shape() -> lrlab.Task:
    task = linear()
    task.model = nn.Linear(5, 2)  # the batches have 4 features
    return task
