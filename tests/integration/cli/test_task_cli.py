"""Both examples through find -> check -> train on the command line, in the caller's own
process, the way the docs show; and each kind of bad task input a one-line exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lrlab.cli import main

pytestmark = pytest.mark.timeout(600)

EXAMPLES = {
    "tabular": (["--task", "examples.tabular:build", "--optimizer", "adam",
                 "--weight-decay", "0", "--epochs", "6"], "val_accuracy", "max"),
    "char_lm": (["--task", "examples.char_lm:build", "--task-arg", "chars=30000",
                 "--task-arg", "hidden=64", "--optimizer", "adam", "--weight-decay", "0",
                 "--epochs", "1"], "val_loss", "min"),
}


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_an_example_goes_find_check_train(name: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    setup, objective, mode = EXAMPLES[name]
    find = tmp_path / "find.json"
    code, out, err = _run(["find", *setup, "--num-points", "60", "--out", str(find)], capsys)
    assert code == 0, err
    result = json.loads(find.read_text())
    spec = setup[1]
    assert result["config"]["setup"]["task"]["spec"] == spec  # the task travels in the result
    assert result["planned_run"]["batches_per_epoch"] > 0
    advice = result["advice"]["onecycle"]
    assert advice["total_steps"] == result["planned_run"]["updates"]

    check = tmp_path / "check.json"
    code, out, err = _run(["check", "--from", str(find), "--points", "3", "--out", str(check)],
                          capsys)
    assert code == 0, err
    ladder = json.loads(check.read_text())
    assert ladder["objective"] == objective and ladder["mode"] == mode
    assert [p["lr"] for p in ladder["points"]] == pytest.approx(
        [advice["base_lr"] / 10, advice["base_lr"], advice["base_lr"] * 10])
    finals = {p["lr"]: p["final_objective"] for p in ladder["points"]
              if p["final_objective"] is not None}
    best = (max if mode == "max" else min)(finals, key=finals.get)
    assert ladder["best"]["lr"] == pytest.approx(best)  # ranked by the task's own objective
    assert objective in ladder["verdict"] or "% top-1" not in ladder["verdict"]

    run = tmp_path / "run"
    code, out, err = _run(["train", *setup, "--lr", f"{ladder['best']['lr']:.6g}", "--out",
                           str(run)], capsys)
    assert code == 0, err
    summary = json.loads((run / "summary.json").read_text())["summary"]
    assert summary["objective"] == objective and summary["steps"] > 0
    assert f"{objective} ({mode})" in out
    assert json.loads((run / "config.json").read_text())["task"]["spec"] == spec
    assert torch.load(run / "weights.pt", weights_only=True)  # weights only, no code


@pytest.mark.parametrize(("argv", "words"), [
    (["--task", "no_such_module_anywhere:build"], "no module named 'no_such_module_anywhere'"),
    (["--task", "examples.tabular:missing"], "examples.tabular has no 'missing'"),
    (["--task", "examples.tabular:build", "--task-arg", "depth=3"],
     "its arguments do not fit the factory"),
    (["--task", "examples.tabular:build", "--model", "resnet18"],
     "--model: not used with a task"),
    (["--task", "examples.tabular:build", "--off", "cosine"], "--off: the Bag of Tricks"),
    (["--task-arg", "hidden=3"], "--task-arg: needs a task"),
    (["--model", "small_cnn", "--max-steps", "5"], "--max-steps: only for a task"),
])
def test_bad_task_input_is_one_line_exit_2(argv: list[str], words: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["train", *argv, "--epochs", "1", "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert words in err
