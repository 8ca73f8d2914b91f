"""Batch-size schedules: Smith et al. 2018's "increase the batch instead of decaying the LR",
with the noise scale of Smith & Le matched exactly; the loader and training follow the plan."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from lrlab.core.reporting import MemoryReporter
from lrlab.schedules import Schedule, ScheduleError
from lrlab.schedules.batch_plan import equivalent_batch_plan, phases
from lrlab.schedules.noise_scale import noise_scale
from lrlab.tasks.image.data import load_dataset, make_loader
from lrlab.training.job import train

N, B = 1437, 32  # digits' training split and a small batch
LR_RUN = {"format": "lrlab.schedule/1", "base_lr": 0.1, "total_steps": 540,
          "warmup": {"steps": 45}, "main": {"kind": "multistep", "milestones": [250, 375],
                                             "gamma": 0.1}}


def _by_phase(schedule: Schedule, batch_of) -> tuple[list[np.ndarray], list[int]]:
    """Per phase (warmup+hold, then between LR or batch changes): the noise scale at each
    update, and the examples the phase sees."""
    steps = np.arange(schedule.total_steps)
    lr = schedule.lr(steps)
    batches = np.asarray([batch_of(t) for t in steps])
    g = noise_scale(lr, N, batches, 0.9)
    head = schedule.warmup_steps + schedule.hold_steps
    if schedule.config.get("batch"):
        cuts = [head, *schedule.config["batch"]["milestones"], schedule.total_steps]
    else:
        cuts = [head, *(head + m for m in schedule.params["milestones"]), schedule.total_steps]
    return ([g[a:b] for a, b in itertools.pairwise(cuts)],
            [int(batches[a:b].sum()) for a, b in itertools.pairwise(cuts)])


def test_the_plan_keeps_the_noise_scale_of_the_lr_decay_at_every_step() -> None:
    lr_run = Schedule.from_dict(LR_RUN)
    plan = equivalent_batch_plan(lr_run, N, B)
    g_lr, seen_lr = _by_phase(lr_run, lambda t: B)
    g_plan, seen_plan = _by_phase(plan, lambda t: plan.batch_size(t, B))
    assert len(g_lr) == len(g_plan) == 3
    for i, (a, b) in enumerate(zip(g_lr, g_plan, strict=True)):
        assert np.ptp(a) == 0 and np.ptp(b) == 0  # constant within a phase, after warmup
        np.testing.assert_allclose(b, a[0], rtol=1e-12, err_msg=f"phase {i}")
    # Each phase sees the same examples, to within one of the plan's batches...
    for i, (a, b) in enumerate(zip(seen_lr, seen_plan, strict=True)):
        assert abs(a - b) <= plan.batch_size(plan.total_steps - 1, B), (i, a, b)
    # ...in fewer updates: 250 + 15 + 5 after warmup instead of 250 + 125 + 120.
    assert [p.plan_updates for p in phases(lr_run, N, B)] == [250, 15, 5]
    assert plan.total_steps == 45 + 270 < lr_run.total_steps
    # The warmup is the LR run's, at the run's batch.
    np.testing.assert_array_equal(plan.lr(np.arange(45)), lr_run.lr(np.arange(45)))


def test_batches_are_the_smith_et_al_ones_and_the_cap_takes_over() -> None:
    lr_run = Schedule.from_dict(LR_RUN)
    got = phases(lr_run, N, B)
    # B_1 = N·B/(γ(N − B) + B) = 45984/172.5 = 266.6 -> 267; B_2 would be 999 > N/2 = 718.
    assert [p.batch for p in got] == [32, 267, 718]
    assert got[1].plan_lr_factor == pytest.approx(0.1 * (N / B - 1) / (N / 267 - 1))
    assert got[2].plan_lr_factor == pytest.approx(0.01 * (N / B - 1) / (N / 718 - 1))
    with pytest.raises(ScheduleError, match="needs a step or multistep decay"):
        equivalent_batch_plan(Schedule.from_dict({**LR_RUN, "main": {"kind": "cosine"}}), N, B)


def test_the_loader_changes_batch_at_the_milestones_across_epochs() -> None:
    dataset = load_dataset("digits", seed=0)
    loader = make_loader(dataset, "train", 100)
    plan = Schedule.from_dict({**LR_RUN, "format": "lrlab.schedule/2", "batch": {
        "kind": "steps", "milestones": [10, 20], "factors": [2.0, 5.0]}})
    loader.follow_plan(lambda u: plan.batch_size(u, 100))
    assert loader.planned_updates(3) == 22
    epochs = [[y.shape[0] for _, y in loader] for _ in range(3)]
    # 1437 examples, the last partial batch dropped. Updates 0-9 take 100, 10-19 take 200, then
    # 500: epoch 1 is ten of 100 and two of 200; epoch 2 seven of 200; epoch 3 one of 200
    # (update 19) and two of 500.
    assert epochs == [[100] * 10 + [200] * 2, [200] * 7, [200, 500, 500]]
    assert loader.updates == 22


def test_training_follows_the_plan_and_records_the_batch() -> None:
    plan = {"format": "lrlab.schedule/2", "base_lr": 0.05, "total_steps": 60,
            "main": {"kind": "piecewise", "boundaries": [30], "values": [1.0, 0.5],
                     "interpolation": "constant"},
            "batch": {"kind": "steps", "milestones": [30], "factors": [4.0]}}
    reporter = MemoryReporter()
    train({"model": "small_cnn", "width": 4, "dataset": "digits", "batch_size": 32,
           "epochs": 2, "device": "cpu", "schedule": plan, "schedule_fit": "keep"}, reporter)
    # Epoch 1: 30 updates of 32 (960 examples), then 3 of 128; epoch 2: 11 of 128.
    assert reporter.series("batch") == [32.0] * 30 + [128.0] * 14
    assert reporter.series("lr") == pytest.approx([0.05] * 30 + [0.025] * 14)
