"""The task protocol's defaults, against what PyTorch computes by hand: the loss of (x, y) and of
dict batches, batches moved whatever their nesting, the default evaluate, and the loader facts
lrlab reads (batch size, batches per epoch)."""

from __future__ import annotations

from collections import namedtuple

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lrlab.core.errors import LrlabError
from lrlab.tasks.protocol import (
    OnDevice,
    Task,
    batch_size_of,
    batches_in,
    default_loss,
    to_device,
)


def _xy(n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 3, generator=g), torch.randint(0, 2, (n,), generator=g)


def test_the_default_loss_of_x_y_is_cross_entropy() -> None:
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    x, y = _xy()
    assert default_loss(model, (x, y)).item() == pytest.approx(
        nn.functional.cross_entropy(model(x), y).item())


def test_a_dict_batch_with_labels_uses_the_models_own_loss() -> None:
    class Own(nn.Module):
        def forward(self, inputs: torch.Tensor, labels: torch.Tensor) -> object:
            return type("Out", (), {"loss": (inputs.sum() - labels.sum()).float()})()

    x, y = _xy()
    assert default_loss(Own(), {"inputs": x, "labels": y}).item() == pytest.approx(
        (x.sum() - y.sum()).item())


@pytest.mark.parametrize(("batch", "words"), [
    ({"inputs": torch.zeros(2, 3)}, "needs a 'labels' entry"),
    ([torch.zeros(2, 3)], "takes (inputs, labels) or a dict with labels"),
])
def test_a_batch_the_default_loss_cannot_read_is_named(batch: object, words: str) -> None:
    with pytest.raises(LrlabError, match="give the task a loss") as err:
        default_loss(nn.Linear(3, 2), batch)
    assert words in str(err.value)


def test_batches_move_whatever_their_nesting() -> None:
    Pair = namedtuple("Pair", "a b")
    batch = {"x": [torch.zeros(2), (torch.ones(1), Pair(torch.zeros(1), "text"))], "n": 3}
    moved = to_device(batch, torch.device("meta"))
    assert moved["x"][0].device.type == "meta" and moved["x"][1][0].device.type == "meta"
    assert isinstance(moved["x"][1][1], Pair) and moved["x"][1][1].a.device.type == "meta"
    assert moved["x"][1][1].b == "text" and moved["n"] == 3
    assert to_device(batch, None) is batch


def test_the_default_evaluate_is_the_mean_validation_loss_in_eval_mode() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.Dropout(0.9))
    x, y = _xy(12)
    val = DataLoader(TensorDataset(x, y), batch_size=4)
    task = Task(model=model, train=val, val=val)
    model.train()
    metrics = task.metrics(model)
    model.eval()
    with torch.no_grad():
        by_hand = sum(nn.functional.cross_entropy(model(a), b).item() for a, b in val) / 3
    assert metrics == {"val_loss": pytest.approx(by_hand)}
    assert model.training is False  # restored to how it was: eval (set by the line above)


def test_loader_facts_are_read_not_guessed() -> None:
    x, y = _xy(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    assert (batch_size_of(loader), batches_in(loader)) == (4, 3)
    generator = (b for b in loader)
    assert (batch_size_of(generator), batches_in(generator)) == (None, None)
    on = OnDevice(loader, torch.device("meta"))
    assert len(on) == 3 and all(b[0].device.type == "meta" for b in on)
