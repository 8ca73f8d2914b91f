"""timm:NAME and torchvision:NAME through the range test and training on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lrlab.cli import main

pytest.importorskip("timm")
SETUP = ["--dataset", "digits", "--limit", "400", "--batch-size", "64", "--epochs", "2"]


@pytest.mark.parametrize("model", ["timm:resnet18", "torchvision:resnet18"])
def test_a_named_model_goes_through_find_and_train(model: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    find = tmp_path / "find.json"
    assert main(["find", "--model", model, *SETUP, "--num-points", "30", "--out", str(find)]) == 0
    result = json.loads(find.read_text())
    assert result["config"]["setup"]["model"] == model and result["advice"]["onecycle"]
    (tmp_path / "onecycle.json").write_text(json.dumps(result["advice"]["onecycle"]))
    assert main(["train", "--model", model, *SETUP, "--schedule", str(tmp_path / "onecycle.json"),
                 "--out", str(tmp_path / "run")]) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())["summary"]
    assert summary["steps"] == result["planned_run"]["updates"]
    assert summary["final_val_top1"] is not None
    capsys.readouterr()
