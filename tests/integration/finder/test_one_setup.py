"""One setup for every job: a range test and a training run built from one lrlab.train/1 config
train the same network with the same loss over the same optimizer groups, and the range test's
advice is sized to that config's run."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from lrlab.core.errors import LrlabError
from lrlab.core.reporting import NullReporter
from lrlab.finder import job as finder_job
from lrlab.schedules import Schedule

SETUP = {"model": "resnet18", "variant": "D", "width": 8, "dataset": "digits", "limit": 400,
         "batch_size": 32, "epochs": 5, "device": "cpu",
         "optimizer": {"name": "sgd", "momentum": 0.8, "weight_decay": 1e-3, "nesterov": True},
         "tricks": {"label_smoothing": 0.2, "mixup": 0.4, "zero_gamma": True,
                    "no_bias_decay": True}}


class BuiltError(Exception):
    """Raised by the stand-ins once they have seen what the job built."""


def capture_range_test(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def stand_in(model, optimizer, batches, *, step_fn, **_kwargs):
        seen.update(model=model, optimizer=optimizer, step=step_fn, batch=next(iter(batches)))
        raise BuiltError

    monkeypatch.setattr("lrlab.finder.range_test.range_test", stand_in)
    return seen


def capture_training(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def stand_in(network, optimizer, scheduler, train_loader, *_args, objective, **_kwargs):
        seen.update(model=network, optimizer=optimizer, objective=objective)
        raise BuiltError

    monkeypatch.setattr("lrlab.training.run.run_epochs", stand_in)
    return seen


def groups(optimizer: torch.optim.Optimizer) -> list[tuple]:
    return [(len(g["params"]), [tuple(p.shape) for p in g["params"]], g["weight_decay"],
             g["momentum"], g["nesterov"]) for g in optimizer.param_groups]


def test_a_range_test_and_a_training_run_of_one_config_build_the_same_objects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lrlab.training.job import train

    found = capture_range_test(monkeypatch)
    with pytest.raises(BuiltError):
        finder_job.run_from_config({"setup": SETUP, "num_points": 20}, NullReporter())
    trained = capture_training(monkeypatch)
    with pytest.raises(BuiltError):
        train(SETUP)

    a, b = found["model"], trained["model"]
    assert type(a) is type(b) and str(a) == str(b)  # the same class, variant and width
    state_a, state_b = a.state_dict(), b.state_dict()
    assert state_a.keys() == state_b.keys()
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)  # zero-γ init included
    zero_gamma = [k for k in state_a if k.endswith("bn2.weight") or k.endswith("bn3.weight")]
    assert zero_gamma and all(not state_a[k].any() for k in zero_gamma)

    assert groups(found["optimizer"]) == groups(trained["optimizer"])
    assert [g[2] for g in groups(found["optimizer"])] == [1e-3, 0.0]  # no bias decay

    # the same loss: label smoothing 0.2 and mixup 0.4, drawn from the same seeded streams
    x, y = found["batch"]
    objective = trained["objective"]
    assert (objective.label_smoothing, objective.mixup_alpha) == (0.2, 0.4)
    torch.manual_seed(0)
    loss_range_test = found["step"](a, (x, y))
    torch.manual_seed(0)
    loss_training = objective(b, x, y)[0]
    assert torch.allclose(loss_range_test, loss_training)
    plain = torch.nn.functional.cross_entropy(a(x), y)
    assert not torch.allclose(loss_range_test, plain)  # and not plain cross-entropy


def test_advice_is_sized_to_the_setups_run_and_peaks_inside_it() -> None:
    setup = {"model": "small_cnn", "dataset": "digits", "epochs": 5, "device": "cpu"}
    result = finder_job.run_from_config({"setup": setup, "num_points": 40}, NullReporter())
    assert result["format"] == "lrlab.range_test/2"
    assert result["planned_run"]["updates"] == 55  # 1437 training digits, batch 128, 5 epochs
    for name, config in result["advice"].items():
        schedule = Schedule.from_dict(config)
        assert schedule.total_steps == 55, name
        values = schedule.lr(np.arange(55))
        peak = int(np.argmax(values))
        # the peak is reached inside the run (1cycle's falls between two updates: within 1 %)
        assert 0 < peak < 54 and values[peak] >= 0.99 * schedule.effective_base_lr, name
        assert "scaling" not in config  # tested and trained at the same batch


def test_a_flat_range_test_config_still_tests_the_network_it_always_did() -> None:
    cfg = finder_job.validate_config({"model": "resnet18", "dataset": "digits"})
    setup = cfg["setup"]
    assert (setup["batch_size"], setup["precision"], setup["variant"]) == (64, "fp32", "A")
    assert setup["tricks"]["label_smoothing"] == 0.0 and not setup["tricks"]["zero_gamma"]
    assert not setup["tricks"]["no_bias_decay"] and setup["tricks"]["mixup"] == 0.0
    with pytest.raises(LrlabError, match="unknown field"):
        finder_job.validate_config({"model": "resnet18", "dataset": "digits", "epochs": 3})
    with pytest.raises(LrlabError, match=r"setup\.nproc"):
        finder_job.validate_config({"setup": {"nproc": 2}})
