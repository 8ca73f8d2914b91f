"""The LR-free optimizers of the optimizer table (Schedule-Free AdamW and SGD, Prodigy,
D-Adaptation Adam, DoG) trained through lrlab: one update equal to the package's own optimizer
stepped by hand on the same model and batch, the step size each chose reported per update,
Schedule-Free's averaged weights (and DoG's polynomial-decay average) switched in for every
evaluation and out after, and a missing
package named in one sentence."""

from __future__ import annotations

import copy
import sys

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lrlab.core.errors import LrlabError
from lrlab.core.reporting import MemoryReporter
from lrlab.tasks.protocol import Task
from lrlab.tasks.task_config import validate_config
from lrlab.training.loop import recompute_batchnorm
from lrlab.training.task_run import run_task

pytestmark = pytest.mark.timeout(300)


def _by_hand(name: str, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    """Each package's optimizer with its paper's settings, written out here (not read from
    lrlab's table), at weight decay 0.01."""
    if name == "schedulefree_adamw":
        import schedulefree

        opt = schedulefree.AdamWScheduleFree(params, lr=0.0025, betas=(0.9, 0.999),
                                             weight_decay=0.01)
        opt.train()
        return opt
    if name == "schedulefree_sgd":
        import schedulefree

        opt = schedulefree.SGDScheduleFree(params, lr=1.0, momentum=0.9, weight_decay=0.01)
        opt.train()
        return opt
    if name == "prodigy":
        import prodigyopt

        return prodigyopt.Prodigy(params, lr=1.0, betas=(0.9, 0.999), weight_decay=0.01,
                                  decouple=True)
    if name == "dadapt_adam":
        import dadaptation

        return dadaptation.DAdaptAdam(params, lr=1.0, betas=(0.9, 0.999), weight_decay=0.01,
                                      decouple=True)
    import dog

    return dog.DoG(params, lr=1.0, weight_decay=0.01, reps_rel=1e-6)


def _record_modes(monkeypatch: pytest.MonkeyPatch, cls: type) -> list[str]:
    """Every train() and eval() call on a Schedule-Free class, in order (the list it fills)."""
    seen: list[str] = []
    for mode in ("train", "eval"):
        original = getattr(cls, mode)

        def record(self, _original=original, _mode=mode):
            seen.append(_mode)
            return _original(self)

        monkeypatch.setattr(cls, mode, record)
    return seen


def _task(model: nn.Module, evaluate=None) -> Task:
    torch.manual_seed(1)
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    loader = DataLoader(TensorDataset(x, y), batch_size=8)
    return Task(model=model, train=loader, val=loader, evaluate=evaluate)


def _config(name: str, lr: float, **extra: object) -> dict:
    return validate_config({"task": {"spec": "tests.only:task"}, "device": "cpu",
                            "precision": "fp32", "max_steps": 1,
                            "optimizer": {"name": name, "lr": lr, "weight_decay": 0.01},
                            **extra})


@pytest.mark.parametrize(("name", "lr"), [("schedulefree_adamw", 0.0025),
                                          ("schedulefree_sgd", 1.0), ("prodigy", 1.0),
                                          ("dadapt_adam", 1.0), ("dog", 1.0)])
def test_one_update_through_lrlab_is_the_packages_own(name: str, lr: float) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    theirs = copy.deepcopy(model)
    task = _task(model)
    reporter = MemoryReporter()
    run_task(_config(name, lr), reporter, task=task)

    optimizer = _by_hand(name, list(theirs.parameters()))
    (x, y), = list(task.train)
    nn.functional.cross_entropy(theirs(x), y).backward()
    optimizer.step()
    for ours, hand in zip(model.parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(ours, hand, rtol=1e-6, atol=1e-7)
    (_, metrics), = reporter.steps
    group = optimizer.param_groups[0]
    if name in ("prodigy", "dadapt_adam"):
        assert metrics["step_size"] == pytest.approx(float(group["d"]) * group["lr"])
    elif name == "dog":
        assert metrics["step_size"] == pytest.approx(float(group["eta"][0]))
    else:
        assert "step_size" not in metrics  # Schedule-Free's step is its LR


def test_schedule_free_evaluates_at_its_averaged_weights(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import schedulefree

    seen = _record_modes(monkeypatch, schedulefree.AdamWScheduleFree)

    def evaluate(model: nn.Module, batches) -> dict[str, float]:
        seen.append("evaluate")
        return {"val_loss": 0.0}

    torch.manual_seed(0)
    task = _task(nn.Sequential(nn.Linear(4, 3)), evaluate)
    run_task(_config("schedulefree_adamw", 0.0025, max_steps=4, eval_every=2),
             MemoryReporter(), task=task)
    assert seen[0] == "train"  # built in its train mode
    assert seen[1:] == ["eval", "evaluate", "train"] * 3  # at the start, update 2 and 4


def test_dog_evaluates_at_the_packages_polynomial_decay_average() -> None:
    """DoG's README: evaluate at the iterates' polynomial-decay average. After 5 updates the
    weights each evaluation saw equal its own PolynomialDecayAverager's model, stepped by hand
    beside the package's DoG; after the evaluation training goes on from the last iterate."""
    from dog import PolynomialDecayAverager

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    theirs = copy.deepcopy(model)
    seen: list[list[torch.Tensor]] = []

    def evaluate(evaluated: nn.Module, batches) -> dict[str, float]:
        seen.append([p.detach().clone() for p in evaluated.parameters()])
        return {"val_loss": 0.0}

    task = _task(model, evaluate)
    run_task(_config("dog", 1.0, max_steps=5), MemoryReporter(), task=task)

    optimizer = _by_hand("dog", list(theirs.parameters()))
    averager = PolynomialDecayAverager(theirs)  # gamma 8, its default
    (x, y), = list(task.train)
    for _ in range(5):
        optimizer.zero_grad()
        nn.functional.cross_entropy(theirs(x), y).backward()
        optimizer.step()
        averager.step()
    for ours, average in zip(seen[-1], averager.averaged_model.parameters(), strict=True):
        torch.testing.assert_close(ours, average, rtol=1e-6, atol=1e-7)
    for ours, last in zip(model.parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(ours, last, rtol=1e-6, atol=1e-7)  # swapped back
    assert not torch.equal(seen[-1][0], next(model.parameters()))


def test_batchnorm_is_measured_again_only_where_there_is_one() -> None:
    calls: list[bool] = []

    def forward(model: nn.Module):
        return lambda batch: calls.append(model.training and not torch.is_grad_enabled())

    plain = nn.Linear(2, 2)
    recompute_batchnorm(plain, [torch.zeros(1, 2)] * 3, forward(plain))
    assert calls == []
    normed = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)).eval()
    recompute_batchnorm(normed, [torch.zeros(1, 2)] * 80, forward(normed), limit=50)
    assert calls == [True] * 50  # in train mode, without gradients, at most `limit` batches


def test_a_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prodigyopt", None)
    with pytest.raises(LrlabError, match=r"^optimizer.name: prodigy \(Prodigy\) needs the "
                                         r"package prodigyopt; pip install 'lrlab\[lrfree\]'$"):
        run_task(_config("prodigy", 1.0), MemoryReporter(), task=_task(nn.Linear(4, 3)))


def test_a_range_test_of_an_lr_free_optimizer_is_refused_by_name() -> None:
    from lrlab.finder.job import validate_config as validate_find

    with pytest.raises(LrlabError, match=r"^setup.optimizer.name: dog \(DoG\) sets its own step "
                                         r"size, so a range test has no LR to sweep; train it "
                                         r"at its paper's LR \(1\) as it is$"):
        validate_find({"setup": {"optimizer": {"name": "dog"}}})
    # Schedule-Free has an LR of its own to sweep
    assert validate_find({"setup": {"optimizer": {"name": "schedulefree_adamw"}}})


def test_the_step_size_it_chose_is_drawn_beside_the_lr() -> None:
    import numpy as np

    from lrlab.web.plots import training_figure

    series = {("step", k): (np.arange(3), np.ones(3)) for k in ("loss", "lr", "step_size")}
    titles = [a.text for a in training_figure([("run", series)]).layout.annotations]
    assert titles[:3] == ["training loss", "learning rate", "step size it chose"]
    plain = {k: v for k, v in series.items() if k != ("step", "step_size")}
    assert "step size it chose" not in [a.text for a in training_figure(
        [("run", plain)]).layout.annotations]


def test_the_image_classification_trains_them_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """small_cnn (BatchNorm) on digits: Schedule-Free switched per epoch, Prodigy's d·lr
    reported per update."""
    import schedulefree

    from lrlab.training.job import train

    seen = _record_modes(monkeypatch, schedulefree.SGDScheduleFree)
    base = {"model": "small_cnn", "dataset": "digits", "limit": 128, "batch_size": 32,
            "epochs": 2, "device": "cpu", "precision": "fp32"}
    result = train({**base, "optimizer": {"name": "schedulefree_sgd", "lr": 1.0},
                    "tricks": {"linear_scaling": False, "warmup_epochs": 0, "cosine": False}})
    assert result["summary"]["stop_reason"] == "completed"
    assert seen == ["train"] + ["eval", "train"] * 2  # around each epoch's evaluation
    reporter = MemoryReporter()
    train({**base, "optimizer": {"name": "prodigy", "lr": 1.0},
           "tricks": {"linear_scaling": False, "warmup_epochs": 0, "cosine": True}}, reporter)
    sizes = [m["step_size"] for _, m in reporter.steps]
    lrs = [m["lr"] for _, m in reporter.steps]
    assert len(sizes) == len(lrs) == 6 and all(s > 0 for s in sizes)  # every update
    assert sizes[0] == pytest.approx(1e-6 * lrs[0])  # d starts at d0 = 1e-6
