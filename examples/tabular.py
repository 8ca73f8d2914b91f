"""A tabular classifier on scikit-learn's breast-cancer set (569 rows, 30 features; it ships with
scikit-learn, nothing is downloaded): a small MLP, dict batches, its own loss and an accuracy
objective to maximise.

    lrlab find --task examples.tabular:build --optimizer adam --epochs 20 --out find.json
    lrlab check --from find.json --points 5
    lrlab train --task examples.tabular:build --optimizer adam --epochs 20 --lr 0.003
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

import lrlab


class Rows(Dataset):
    """Feature rows and their labels, as dict batches {"features", "labels"}."""

    def __init__(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        self.features, self.labels = features, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"features": self.features[i], "labels": self.labels[i]}


def loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return nn.functional.cross_entropy(model(batch["features"]), batch["labels"])


def evaluate(model: nn.Module, batches: Iterable[dict[str, torch.Tensor]]) -> dict[str, float]:
    hits = count = 0
    total = 0.0
    for batch in batches:
        logits = model(batch["features"])
        total += float(nn.functional.cross_entropy(logits, batch["labels"], reduction="sum"))
        hits += int((logits.argmax(1) == batch["labels"]).sum())
        count += len(batch["labels"])
    return {"val_accuracy": hits / count, "val_loss": total / count}


@lrlab.task_form(
    title="Breast-cancer MLP (tabular)",
    description="A two-layer MLP tells malignant from benign tumours by 30 measurements "
                "(scikit-learn's breast-cancer set); ranked by validation accuracy.",
    args={"hidden": {"low": 1, "help": "width of both hidden layers"},
          "batch_size": {"low": 1, "help": "rows per batch"},
          "val_share": {"low": 0.05, "high": 0.9, "help": "share of the rows held out"}})
def build(hidden: int = 64, batch_size: int = 32, val_share: float = 0.25,
          seed: int = 0) -> lrlab.Task:
    """The MLP and its data: a fixed split by `seed`, features standardised on the training
    rows only."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    x = torch.tensor(data.data, dtype=torch.float32)
    y = torch.tensor(data.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_val = round(val_share * len(y))
    val, train = order[:n_val], order[n_val:]
    mean, std = x[train].mean(0), x[train].std(0).clamp_min(1e-6)
    x = (x - mean) / std
    model = nn.Sequential(nn.Linear(x.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                          nn.ReLU(), nn.Linear(hidden, 2))
    return lrlab.Task(
        model=model,
        train=DataLoader(Rows(x[train], y[train]), batch_size=batch_size, shuffle=True,
                         generator=torch.Generator().manual_seed(seed)),
        val=DataLoader(Rows(x[val], y[val]), batch_size=256),
        loss=loss, evaluate=evaluate, objective="val_accuracy", mode="max")
