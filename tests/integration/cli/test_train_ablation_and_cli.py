"""Ablation rows (which tricks each row switches), the mean ± spread table, and `lrlab train`
run as a user runs it."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lrlab.core.errors import LrlabError
from lrlab.training.ablation import AblationRow, ablation_configs, ablation_table, run_ablation

BASE = {"model": "small_cnn", "width": 8, "dataset": "synthetic", "limit": 240,
        "batch_size": 32, "epochs": 1, "device": "cpu",
        "tricks": {"label_smoothing": 0.0, "mixup": 0.3, "cosine": True}}


def _tricks_of(cfg: dict) -> tuple:
    t = cfg["tricks"]
    return (t["cosine"], t["label_smoothing"], t["mixup"], t["warmup_epochs"])


def test_cumulative_rows_add_one_trick_at_a_time_from_an_all_off_baseline() -> None:
    rows = ablation_configs(BASE, ["cosine", "label_smoothing", "mixup", "warmup"])
    assert [name for name, _, _ in rows] == ["baseline", "+ cosine", "+ label_smoothing",
                                             "+ mixup", "+ warmup"]
    assert [_tricks_of(cfg) for _, _, cfg in rows] == [
        (False, 0.0, 0.0, 0.0),
        (True, 0.0, 0.0, 0.0),
        (True, 0.1, 0.0, 0.0),  # off in the base config: the paper's ε = 0.1
        (True, 0.1, 0.3, 0.0),  # on in the base config: its own α
        (True, 0.1, 0.3, 1.0),
    ]
    # tricks not listed keep the base config's setting in every row
    assert all(cfg["tricks"]["zero_gamma"] for _, _, cfg in rows)


def test_single_rows_add_each_trick_alone() -> None:
    rows = ablation_configs(BASE, ["cosine", "mixup"], mode="single")
    assert [(name, on) for name, on, _ in rows] == [
        ("baseline", []), ("baseline + cosine", ["cosine"]), ("baseline + mixup", ["mixup"])]
    assert [_tricks_of(cfg)[:3] for _, _, cfg in rows] == [
        (False, 0.0, 0.0), (True, 0.0, 0.0), (False, 0.0, 0.3)]


@pytest.mark.parametrize(
    ("tricks", "mode", "message"),
    [
        (["cosine", "dropout"], "cumulative", "expected distinct tricks out of"),
        (["cosine", "cosine"], "cumulative", "expected distinct tricks"),
        ([], "cumulative", "name at least one trick"),
        (["cosine"], "random", "ablation mode: expected one of cumulative, single"),
        (["resnet_d"], "cumulative", "'resnet_d' needs a ResNet model"),
        (["distillation"], "cumulative", "needs tricks.distillation.teacher"),
    ],
)
def test_bad_ablations_are_refused(tricks: list, mode: str, message: str) -> None:
    with pytest.raises(LrlabError, match=message):
        ablation_configs(BASE, tricks, mode)


def test_table_reports_mean_spread_and_deltas_by_hand() -> None:
    rows = [AblationRow("baseline", [], [0.90, 0.92, 0.94], [0.91, 0.93, 0.95]),
            AblationRow("+ cosine", ["cosine"], [0.95, 0.95, 0.98], [0.96, 0.96, 0.98])]
    table = ablation_table(rows).splitlines()
    std = 100 * statistics.stdev([0.95, 0.95, 0.98])  # 1.73
    assert table[2] == "| baseline | 92.00 ± 2.00 |  | 93.00 | 3 |"
    assert table[3] == f"| + cosine | 96.00 ± {std:.2f} | +4.00 | 96.67 | 3 |"


def test_run_ablation_trains_every_row_and_seed(tmp_path: Path) -> None:
    rows = run_ablation(BASE, ["cosine"], [0, 1], out_dir=tmp_path)
    assert [len(r.final_top1) for r in rows] == [2, 2]
    saved = json.loads((tmp_path / "ablation.json").read_text())
    assert saved["format"] == "lrlab.ablation/1" and saved["seeds"] == [0, 1]
    assert [r["final_top1"] for r in saved["rows"]] == [r.final_top1 for r in rows]
    assert (tmp_path / "01-cosine" / "seed-1" / "checkpoint.pt").exists()
    assert (tmp_path / "ablation.md").read_text().startswith("| row |")


def _lrlab(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lrlab.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_cli_trains_from_yaml_with_flag_overrides(tmp_path: Path) -> None:
    config = {**BASE, "optimizer": {"name": "sgd", "lr": 1e-1}}
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(config).replace("0.1", "1e-1"))
    done = _lrlab("train", "--config", "train.yaml", "--epochs", "2", "--lr", "2e-1",
                  "--off", "cosine", "--out", "run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "completed: 2 epochs" in done.stdout and "wrote run" in done.stderr
    assert "epoch 2:" in done.stderr  # not a terminal: epoch lines, no bar
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["epochs"] == 2 and saved["optimizer"]["lr"] == 0.2
    assert saved["tricks"]["cosine"] is False and saved["tricks"]["mixup"] == 0.3


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("batch_size: lots\n")
    done = _lrlab("train", "--config", "bad.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == ("lrlab: error: batch_size: expected an integer >= 1, "
                                   "got 'lots'")
    done = _lrlab("train", "--config", "missing.yaml", cwd=tmp_path)
    assert done.returncode == 2 and "--config: cannot read missing.yaml" in done.stderr


def test_cli_ablation_prints_and_saves_the_table(tmp_path: Path) -> None:
    (tmp_path / "base.json").write_text(json.dumps(BASE))
    done = _lrlab("train", "--config", "base.json", "--ablation", "cosine", "--seeds", "2",
                  "--out", "abl", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "| + cosine |" in done.stdout
    assert (tmp_path / "abl" / "ablation.md").read_text().strip() in done.stdout


def test_cli_refuses_a_schedule_of_another_length_unless_told(tmp_path: Path) -> None:
    (tmp_path / "run.yaml").write_text(yaml.safe_dump({
        "model": "small_cnn", "width": 4, "dataset": "digits", "batch_size": 128, "epochs": 1,
        "device": "cpu", "schedule": {"format": "lrlab.schedule/1", "base_lr": 0.1,
                                      "total_steps": 1000, "main": {"kind": "cosine"}}}))
    refused = _lrlab("train", "--config", "run.yaml", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.strip().startswith(
        "lrlab: error: schedule: its total_steps is 1000 but this run makes 11 updates")
    assert "--schedule-fit stretch" in refused.stderr and "Traceback" not in refused.stderr
    done = _lrlab("train", "--config", "run.yaml", "--schedule-fit", "stretch", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
