"""Training a task, checked against PyTorch by hand: the updates a plain loop makes (one batch,
or accumulated batches), evaluations where the config says, groups keeping their LR ratios, a
weights-only checkpoint, two ranks making the one-process updates, and every broken task a
sentence naming its spec."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lrlab.core.errors import LrlabError
from lrlab.core.reporting import MemoryReporter
from lrlab.training.job import train

SPEC = "task_factories:linear"


def _config(**extra: object) -> dict:
    return {"task": {"spec": SPEC, "args": extra.pop("args", {})},
            "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.0, "weight_decay": 0.0},
            "epochs": 2, "device": "cpu", **extra}


def _by_hand(batch_size: int, updates: int, accumulate: int = 1) -> dict[str, torch.Tensor]:
    """The same task trained by a plain PyTorch loop."""
    import task_factories

    torch.manual_seed(0)
    task = task_factories.linear(batch_size=batch_size)
    opt = torch.optim.SGD(task.model.parameters(), lr=0.1)
    batches = [b for _ in range(10) for b in task.train]
    for u in range(updates):
        opt.zero_grad()
        for x, y in batches[u * accumulate:(u + 1) * accumulate]:
            (nn.functional.cross_entropy(task.model(x), y) / accumulate).backward()
        opt.step()
    return task.model.state_dict()


def test_a_task_trains_as_a_plain_pytorch_loop_and_keeps_its_weights(tmp_path) -> None:
    reporter = MemoryReporter()
    result = train(_config(), reporter, tmp_path / "run")
    assert result["summary"]["steps"] == 8  # 2 epochs of 64 rows at batch 16
    weights = torch.load(tmp_path / "run" / "weights.pt", weights_only=True)
    for key, value in _by_hand(16, 8).items():
        assert torch.allclose(weights[key], value, atol=1e-6), key
    # evaluated at the start and after each epoch; the objective is the default val_loss
    assert [e["step"] for e in result["evaluations"]] == [0, 4, 8]
    assert result["summary"]["objective"] == "val_loss" and result["summary"]["mode"] == "min"
    assert result["summary"]["final_objective"] == result["evaluations"][-1]["val_loss"]
    assert len(reporter.series("loss")) == 8 and reporter.series("lr") == [0.1] * 8


def test_accumulated_batches_make_the_larger_batchs_update(tmp_path) -> None:
    accumulated = train(_config(args={"batch_size": 8}, accumulation_steps=2), None,
                        tmp_path / "accumulated")
    whole = train(_config(args={"batch_size": 16}), None, tmp_path / "whole")
    assert accumulated["summary"]["steps"] == whole["summary"]["steps"] == 8
    a = torch.load(tmp_path / "accumulated" / "weights.pt", weights_only=True)
    b = torch.load(tmp_path / "whole" / "weights.pt", weights_only=True)
    by_hand = _by_hand(8, 8, accumulate=2)
    for key in by_hand:
        assert torch.allclose(a[key], by_hand[key], atol=1e-6), key
        assert torch.allclose(a[key], b[key], atol=1e-6), key  # two halves = the whole batch


def test_max_steps_cycles_the_loader_and_eval_every_sets_the_evaluations() -> None:
    result = train(_config(max_steps=10, eval_every=3))
    assert result["summary"]["steps"] == 10 and result["summary"]["planned_updates"] == 10
    assert [e["step"] for e in result["evaluations"]] == [0, 3, 6, 9, 10]


def test_a_schedule_of_another_length_is_refused_or_stretched() -> None:
    schedule = {"format": "lrlab.schedule/1", "base_lr": 0.2, "total_steps": 100,
                "main": {"kind": "linear", "end_factor": 0.0}}
    with pytest.raises(LrlabError, match="total_steps is 100 but this run makes 8 updates"):
        train(_config(schedule=schedule))
    reporter = MemoryReporter()
    result = train(_config(schedule=schedule, schedule_fit="stretch"), reporter)
    assert result["schedule"]["total_steps"] == 8
    assert reporter.series("lr") == pytest.approx([0.2 * (1 - t / 8) for t in range(8)])


def test_dict_batches_use_the_models_own_loss_and_bf16_runs() -> None:
    result = train({**_config(precision="bf16"), "task": {"spec": "task_factories:dict_batches"}})
    assert result["summary"]["stop_reason"] == "completed"
    assert result["environment"]["precision"] == "bf16"


@pytest.mark.parametrize(("factory", "words"), [
    ("raises", "the factory raised RuntimeError: no data here"),
    ("not_a_task", "the factory returned dict, not an lrlab.Task"),
    ("vector_loss", "the loss must be a scalar tensor, got (32,)"),  # at the first evaluation
    ("no_objective", "evaluate returned accuracy but not the objective 'val_accuracy'"),
    ("empty_loader", "its training loader yields no batch"),
    ("wrong_shape", "raised RuntimeError: mat1 and mat2 shapes cannot be multiplied"),
    ("nan_loss", "training stopped: non-finite loss (nan) at update 0"),
])
def test_a_broken_task_is_one_sentence_naming_its_spec(factory: str, words: str) -> None:
    with pytest.raises(LrlabError) as err:
        train({**_config(), "task": {"spec": f"task_factories:{factory}"}})
    assert f"task_factories:{factory}" in str(err.value) or factory == "nan_loss"
    assert words in str(err.value) and "\n" not in str(err.value)


def test_two_ranks_make_the_single_process_updates(tmp_path) -> None:
    one, two = MemoryReporter(), MemoryReporter()
    single = train(_config(), one)
    double = train(_config(nproc=2), two, tmp_path / "run")
    assert two.series("loss") == pytest.approx(one.series("loss"), abs=1e-6)
    assert double["summary"]["final_objective"] == pytest.approx(
        single["summary"]["final_objective"], abs=1e-6)
    assert (tmp_path / "run" / "weights.pt").exists()  # rank 0 wrote the run folder


def test_a_plateau_schedule_is_fed_each_updates_training_loss() -> None:
    schedule = {"format": "lrlab.schedule/1", "base_lr": 0.1, "total_steps": 8,
                "main": {"kind": "plateau", "mode": "min", "factor": 0.5, "patience": 0,
                         "threshold": 10.0, "threshold_mode": "abs", "cooldown": 0,
                         "min_lr": 0.0, "eps": 0.0}}
    reporter = MemoryReporter()
    train(_config(schedule=schedule), reporter)
    # no loss beats the best by 10: every update after the first halves the LR
    assert reporter.series("lr") == pytest.approx([0.1 * 0.5 ** max(0, t - 1) for t in range(8)])
