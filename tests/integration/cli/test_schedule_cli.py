"""`lrlab schedule values|export` as a user runs them: a real process, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lrlab.schedules import Schedule

CONFIG = {"format": "lrlab.schedule/1", "base_lr": 0.8, "total_steps": 400,
          "main": {"kind": "onecycle", "pct_start": 0.25}}


def lrlab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lrlab.cli", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "onecycle.json"
    path.write_text(json.dumps(CONFIG))
    return path


def test_values_csv_has_every_step_with_momentum(config_file: Path) -> None:
    result = lrlab("schedule", "values", str(config_file))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "step,lr,momentum" and len(lines) == 401
    rows = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    schedule = Schedule.from_dict(CONFIG)
    np.testing.assert_array_equal(rows[:, 1], schedule.lr(np.arange(400)))
    np.testing.assert_array_equal(rows[:, 2], schedule.momentum(np.arange(400)))


def test_values_json_with_steps(config_file: Path) -> None:
    result = lrlab("schedule", "values", str(config_file), "--steps", "7", "--format", "json")
    data = json.loads(result.stdout)
    assert data["step"] == list(range(7)) and len(data["lr"]) == 7 and "momentum" in data


def test_plateau_values_read_the_metric_file(tmp_path: Path) -> None:
    config = tmp_path / "plateau.yaml"
    config.write_text("format: lrlab.schedule/1\nbase_lr: 0.1\ntotal_steps: 30\n"
                      "main: {kind: plateau, patience: 2}\n")
    metrics = tmp_path / "loss.csv"
    metrics.write_text("loss\n" + "\n".join(["1.0"] * 30))
    result = lrlab("schedule", "values", str(config), "--metrics", str(metrics))
    lrs = [float(line.split(",")[1]) for line in result.stdout.splitlines()[1:]]
    assert lrs[0] == 0.1 and lrs[-1] < 0.1


@pytest.mark.parametrize("to", ["json", "yaml", "pytorch"])
def test_export_writes_each_form(config_file: Path, tmp_path: Path, to: str) -> None:
    out = tmp_path / f"out.{to}"
    result = lrlab("schedule", "export", str(config_file), "--to", to, "--out", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    if to == "pytorch":
        assert "def build_scheduler(optimizer)" in text and "OneCycleLR" in text
    else:
        from lrlab.schedules import parse_schedule
        assert parse_schedule(text).to_dict() == Schedule.from_dict(CONFIG).to_dict()


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such file"),
    ("{ broken", "not valid JSON or YAML"),
    (json.dumps({**CONFIG, "base_lr": -1}), "base_lr: expected a number > 0, got -1"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, content, message: str) -> None:
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    result = lrlab("schedule", "values", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith("lrlab: error:") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_export_to_a_framework_says_how_exact_and_import_reads_it_back(tmp_path: Path) -> None:
    config = tmp_path / "cosine.yaml"
    config.write_text("format: lrlab.schedule/1\nbase_lr: 0.3\ntotal_steps: 500\n"
                      "warmup: {steps: 50}\nmain: {kind: cosine, min_lr: 0.003}\n")
    out = tmp_path / "args.py"
    result = lrlab("schedule", "export", str(config), "--to", "hf", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("lrlab: hf: exact: equal to lrlab at every step")
    assert "lr_scheduler_type='cosine_with_min_lr'" in out.read_text()
    back = lrlab("schedule", "import", str(out), "--format", "json")
    assert back.returncode == 0, back.stderr
    steps = np.arange(500)
    np.testing.assert_allclose(Schedule.from_dict(json.loads(back.stdout)).lr(steps),
                               Schedule.from_dict({"format": "lrlab.schedule/1",
                                                   "base_lr": 0.3, "total_steps": 500,
                                                   "warmup": {"steps": 50},
                                                   "main": {"kind": "cosine",
                                                            "min_lr": 0.003}}).lr(steps),
                               rtol=1e-12)


def test_export_form_native_refuses_or_labels_the_deviation(config_file: Path) -> None:
    native = lrlab("schedule", "export", str(config_file), "--to", "optax", "--form", "native")
    assert native.returncode == 0 and "optax: approximate: up to" in native.stderr
    refused = lrlab("schedule", "export", str(config_file), "--to", "hf", "--form", "native")
    assert refused.returncode == 2
    assert "has no built-in schedule equal to lrlab's onecycle" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_import_of_a_keras_schedule_without_a_length_asks_for_steps(tmp_path: Path) -> None:
    path = tmp_path / "keras.json"
    path.write_text(json.dumps({"class_name": "ExponentialDecay", "config": {
        "initial_learning_rate": 0.1, "decay_steps": 100, "decay_rate": 0.5,
        "staircase": True}}))
    missing = lrlab("schedule", "import", str(path))
    assert missing.returncode == 2 and "give the run's length (--steps)" in missing.stderr
    done = lrlab("schedule", "import", str(path), "--steps", "300", "--format", "json")
    config = json.loads(done.stdout)
    assert config["main"] == {"kind": "step", "step_size": 100, "gamma": 0.5}
    assert config["total_steps"] == 300
