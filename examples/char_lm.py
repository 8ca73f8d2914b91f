"""A character-level language model on Python's own documentation (the pydoc topics that ship
with every Python, about 465,000 characters; nothing is downloaded): a GRU predicting the next
character, (inputs, targets) batches, its own loss over every position and bits per character.

    lrlab find --task examples.char_lm:build --optimizer adam --epochs 2 --out find.json
    lrlab check --from find.json --points 5
    lrlab train --task examples.char_lm:build --optimizer adam --epochs 2 --lr 0.003
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lrlab


def corpus() -> str:
    """Python's documentation topics, in a fixed order."""
    from pydoc_data.topics import topics

    return "\n".join(topics[key] for key in sorted(topics))


class CharGRU(nn.Module):
    """Embedding, a GRU and a linear read-out to the next character's logits."""

    def __init__(self, vocab: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.gru = nn.GRU(hidden, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(self.embed(x))
        return self.head(out)


def loss(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    x, y = batch
    logits = model(x)
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(),
                                       y.reshape(-1))


def evaluate(model: nn.Module,
             batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, float]:
    total, count = 0.0, 0
    for x, y in batches:
        logits = model(x).float()
        total += float(nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                   y.reshape(-1), reduction="sum"))
        count += y.numel()
    return {"val_loss": total / count, "val_bpc": total / count / math.log(2)}


@lrlab.task_form(
    title="Character GRU (Python's docs)",
    description="A GRU predicts the next character of Python's own documentation; ranked by "
                "validation loss (nats per character).",
    args={"chars": {"low": 1000, "help": "characters of the corpus used"},
          "context": {"low": 2, "help": "characters per training window"},
          "hidden": {"low": 1, "help": "width of the embedding and the GRU"},
          "layers": {"low": 1, "high": 8, "help": "stacked GRU layers"},
          "batch_size": {"low": 1, "help": "windows per batch"}})
def build(chars: int = 200_000, context: int = 64, hidden: int = 128, layers: int = 1,
          batch_size: int = 32, seed: int = 0) -> lrlab.Task:
    """The first `chars` characters cut into windows of `context`; the last tenth of them (in
    text order, so no window leaks into the other split) is for validation."""
    text = corpus()[:chars]
    vocab = sorted(set(corpus()))
    index = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.long)
    windows = (len(ids) - 1) // context
    x = ids[: windows * context].reshape(windows, context)
    y = ids[1: windows * context + 1].reshape(windows, context)
    n_val = max(1, windows // 10)
    train, val = TensorDataset(x[:-n_val], y[:-n_val]), TensorDataset(x[-n_val:], y[-n_val:])
    return lrlab.Task(
        model=CharGRU(len(vocab), hidden, layers),
        train=DataLoader(train, batch_size=batch_size, shuffle=True, drop_last=True,
                         generator=torch.Generator().manual_seed(seed)),
        val=DataLoader(val, batch_size=256),
        loss=loss, evaluate=evaluate, objective="val_loss", mode="min")
