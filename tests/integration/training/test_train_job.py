"""Whole training runs on tiny real data: the run folder, the checkpoint, seeds, per-step LR and
momentum against the schedule, bf16, cancel, a NaN stop, distillation and the job runner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lrlab.core.errors import LrlabError
from lrlab.core.reporting import MemoryReporter
from lrlab.jobs import kinds
from lrlab.schedules import Schedule
from lrlab.tasks.image.checkpoint import load_checkpoint, model_from_checkpoint
from lrlab.tasks.image.data import load_dataset, make_loader
from lrlab.training.job import train
from lrlab.training.loop import evaluate
from lrlab.training.run_folder import read_metrics

TINY = {"model": "small_cnn", "width": 8, "dataset": "synthetic", "limit": 240,
        "batch_size": 32, "epochs": 2, "device": "cpu", "optimizer": {"lr": 0.4}}


def _config(**changes) -> dict:
    return {**TINY, **changes}


def test_run_folder_holds_config_metrics_summary_and_a_safe_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "run"
    rep = MemoryReporter()
    result = train(_config(), rep, out)
    summary = result["summary"]
    assert summary["stop_reason"] == "completed" and summary["epochs_done"] == 2
    steps_per_epoch = 192 // 32
    assert summary["steps"] == 2 * steps_per_epoch == len(rep.steps)

    assert json.loads((out / "config.json").read_text()) == result["config"]
    records = read_metrics(out / "metrics.jsonl")
    assert [r["index"] for r in records if r["scope"] == "step"] == list(range(12))
    epochs = [r for r in records if r["scope"] == "epoch"]
    assert [e["val_top1"] for e in epochs] == [e["val_top1"] for e in result["epochs"]]
    assert {"train_loss", "train_acc", "val_loss", "val_top1", "val_top5", "epoch_time"} <= set(
        epochs[0])
    saved = json.loads((out / "summary.json").read_text())
    assert saved["summary"]["final_val_top1"] == summary["final_val_top1"]
    assert summary["best_val_top1"] == max(e["val_top1"] for e in result["epochs"])

    payload = load_checkpoint(out / "checkpoint.pt")  # weights_only=True inside
    model = model_from_checkpoint(payload)
    torch.load(out / "checkpoint.pt", weights_only=True)
    data = load_dataset("synthetic", limit=240)
    metrics = evaluate(model, make_loader(data, "val", 64))
    assert metrics["val_top1"] == pytest.approx(summary["final_val_top1"])


def test_reported_lr_and_momentum_follow_the_schedule_step_by_step() -> None:
    schedule = {"format": "lrlab.schedule/1", "base_lr": 0.2, "total_steps": 12,
                "main": {"kind": "onecycle", "pct_start": 0.3}}
    rep = MemoryReporter()
    train(_config(schedule=schedule), rep)
    expected = Schedule.from_dict(schedule)  # the given schedule, used as is
    t = np.arange(12)
    np.testing.assert_allclose(rep.series("lr"), expected.lr(t), rtol=1e-12)
    np.testing.assert_allclose(rep.series("momentum"), expected.momentum(t), rtol=1e-12)


def test_the_same_seed_reproduces_a_run_and_another_seed_does_not() -> None:
    losses = []
    for seed in (5, 5, 6):
        rep = MemoryReporter()
        train(_config(seed=seed, tricks={"mixup": 0.2}), rep)
        losses.append(rep.series("loss"))
    assert losses[0] == losses[1]
    assert losses[0] != losses[2]


def test_bf16_on_cpu_trains() -> None:
    result = train(_config(precision="bf16", epochs=1))
    assert result["environment"]["precision"] == "bf16"
    assert np.isfinite(result["summary"]["final_train_loss"])


def test_cancel_stops_between_steps_and_keeps_the_metrics(tmp_path: Path) -> None:
    rep = MemoryReporter(stop_after_steps=3)
    result = train(_config(), rep, tmp_path / "run")
    assert result["summary"]["stop_reason"] == "cancelled before step 3"
    assert len(read_metrics(tmp_path / "run" / "metrics.jsonl")) == 3


def test_a_non_finite_loss_stops_with_the_step_and_keeps_what_was_measured(
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    with pytest.raises(LrlabError, match=r"non-finite loss .* at step \d+ \(epoch 1") as info:
        train(_config(schedule={"format": "lrlab.schedule/1", "base_lr": 1e9,
                                "total_steps": 12, "main": {"kind": "constant"}}), None, out)
    assert str(out) in str(info.value)
    summary = json.loads((out / "summary.json").read_text())["summary"]
    assert summary["stop_reason"].startswith("non-finite loss")
    assert (out / "metrics.jsonl").exists() and not (out / "checkpoint.pt").exists()


def test_an_existing_run_is_never_overwritten(tmp_path: Path) -> None:
    train(_config(epochs=1), None, tmp_path / "run")
    before = (tmp_path / "run" / "summary.json").read_text()
    with pytest.raises(LrlabError, match="already holds a finished run"):
        train(_config(epochs=1), None, tmp_path / "run")
    assert (tmp_path / "run" / "summary.json").read_text() == before


def test_distillation_from_a_finished_run_by_folder_and_by_job_id(
    tmp_path: Path, lrlab_home: Path
) -> None:
    teacher_dir = lrlab_home / "runs" / "41"
    train(_config(epochs=1), None, teacher_dir)
    for reference in (str(teacher_dir), "#41", "41"):
        result = train(_config(epochs=1, tricks={"distillation": {"teacher": reference,
                                                                  "temperature": 2.0}}))
        assert result["summary"]["stop_reason"] == "completed"
    with pytest.raises(LrlabError, match="was trained on 4 classes of 1-channel images, but "
                                         "this run has 10 classes"):
        train({**_config(epochs=1), "dataset": "digits",
               "tricks": {"distillation": {"teacher": str(teacher_dir)}}})
    with pytest.raises(LrlabError, match=r"tricks\.distillation\.teacher: no checkpoint"):
        train(_config(tricks={"distillation": {"teacher": str(tmp_path / "none")}}))


def test_the_job_runner_validates_and_runs_a_training_job(tmp_path: Path) -> None:
    with pytest.raises(LrlabError, match="epochs: expected an integer"):
        kinds.validate("train", _config(epochs="many"))
    config = kinds.validate("train", _config(epochs=1))
    result = kinds.run("train", config, MemoryReporter(), tmp_path / "job")
    assert result["summary"]["epochs_done"] == 1 and (tmp_path / "job" / "checkpoint.pt").exists()
    json.dumps(result, allow_nan=False)  # what the store keeps must be plain JSON
