"""`lrlab find` / `lrlab analyze` end to end, run_from_config, and parity with torch-lr-finder."""

from __future__ import annotations

import contextlib
import io
import json
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lrlab.cli import main
from lrlab.core.reporting import MemoryReporter
from lrlab.finder.range_test import range_test
from lrlab.finder.smoothing import torch_lr_finder_smooth


def _loader() -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 8, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    return DataLoader(TensorDataset(x, y), batch_size=16, shuffle=False)


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))


def test_curve_matches_torch_lr_finder_history() -> None:
    lr_finder = pytest.importorskip("torch_lr_finder")
    start, end, n = 1e-4, 10.0, 40
    theirs = _mlp()
    finder = lr_finder.LRFinder(theirs, torch.optim.SGD(theirs.parameters(), lr=start,
                                                        momentum=0.9),
                                nn.CrossEntropyLoss(), device="cpu")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        finder.range_test(_loader(), start_lr=start, end_lr=end, num_iter=n, smooth_f=0.05,
                          diverge_th=1e9)
    ours = _mlp()
    before = {k: v.clone() for k, v in ours.state_dict().items()}
    curve = range_test(ours, torch.optim.SGD(ours.parameters(), lr=start, momentum=0.9),
                       _loader(), criterion=nn.CrossEntropyLoss(), start_lr=start, end_lr=end,
                       num_points=n, diverge_threshold=1e9)
    m = len(finder.history["lr"])
    assert m == n and len(curve.lrs) == n
    np.testing.assert_allclose(curve.lrs, finder.history["lr"], rtol=1e-12)
    np.testing.assert_allclose(torch_lr_finder_smooth(curve.losses), finder.history["loss"],
                               rtol=1e-6, atol=1e-7)
    assert all(torch.equal(v, ours.state_dict()[k]) for k, v in before.items())  # no reset()
    assert not all(torch.equal(v, theirs.state_dict()[k]) for k, v in before.items())


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_analyze_cli_end_to_end(tmp_path, capsys) -> None:
    lrs = np.logspace(-6, 1, 60)
    losses = 2.0 - 1.5 / (1 + np.exp(-2.5 * (np.log10(lrs) + 2.5))) + 3 * (lrs > 1) * lrs
    path = tmp_path / "curve.csv"
    path.write_text("lr,loss\n" + "\n".join(f"{a},{b}" for a, b in zip(lrs, losses,
                                                                          strict=True)))
    out_path = tmp_path / "analysis.json"
    code, out, err = _run(["analyze", str(path), "--batch-size", "64", "--out", str(out_path)],
                          capsys)
    assert code == 0, err
    assert "consensus:" in out and "suggested LRs" in out
    result = json.loads(out_path.read_text())
    assert result["format"] == "lrlab.range_test/2"
    consensus = result["suggestions"]["consensus"]
    assert 1e-4 < consensus < 1e-1  # the descent of this curve is centred at 10^-2.5
    assert set(result["advice"]) >= {"onecycle"}


def test_analyze_sizes_its_advice_as_the_page_does(tmp_path, capsys) -> None:
    """Both read one declaration (imported.total_steps, imported.batch_size): unset, the CLI
    advises over the page's 10 000 steps; --total-steps sizes every advised schedule."""
    lrs = np.logspace(-6, 1, 60)
    losses = 2.0 - 1.5 / (1 + np.exp(-2.5 * (np.log10(lrs) + 2.5))) + 3 * (lrs > 1) * lrs
    path = tmp_path / "curve.csv"
    path.write_text("lr,loss\n" + "\n".join(f"{a},{b}" for a, b in zip(lrs, losses, strict=True)))
    for argv, steps in (([], 10_000), (["--total-steps", "777"], 777)):
        out_path = tmp_path / f"a{steps}.json"
        code, _, err = _run(["analyze", str(path), *argv, "--out", str(out_path)], capsys)
        assert code == 0, err
        advice = json.loads(out_path.read_text())["advice"]
        assert advice and {a["total_steps"] for a in advice.values()} == {steps}
    code, _, err = _run(["analyze", str(path), "--total-steps", "3"], capsys)
    assert code == 2 and "--total-steps" in err and err.count("\n") == 1


def test_analyze_keep_lists_the_curve_in_the_store_as_a_range_test(tmp_path, capsys) -> None:
    from lrlab.store import Store

    lrs = np.logspace(-6, 1, 60)
    losses = 2.0 - 1.5 / (1 + np.exp(-2.5 * (np.log10(lrs) + 2.5))) + 3 * (lrs > 1) * lrs
    path = tmp_path / "theirs.csv"
    path.write_text("lr,loss\n" + "\n".join(f"{a},{b}" for a, b in zip(lrs, losses, strict=True)))
    db = f"sqlite:///{tmp_path / 'jobs.db'}"
    code, _, err = _run(["analyze", str(path), "--batch-size", "64", "--keep", "--db", db],
                        capsys)
    assert code == 0, err
    with Store(db) as store:
        (job,) = store.list_jobs(None)
    assert f"kept as range test #{job.id}" in err
    assert (job.kind, job.status) == ("find", "succeeded")
    assert job.config["imported"] == {"file": "theirs.csv", "source": "raw", "optimizer": "sgd",
                                      "batch_size": 64, "total_steps": 10_000}
    assert job.result["advice"]["onecycle"]["total_steps"] == 10_000


@pytest.mark.parametrize(("argv", "field"), [
    (["--start-lr", "1", "--end-lr", "0.5"], "end_lr"),
    (["--num-points", "4"], "num_points"),
    (["--batch-size", "0"], "batch_size"),
])
def test_find_bad_sweep_input_is_one_line_exit_2(argv, field, tmp_path, capsys) -> None:
    code, _, err = _run(["find", "--model", "small_cnn", "--dataset", "digits", *argv,
                         "--out", str(tmp_path / "r.json")], capsys)
    assert code == 2
    assert err.count("\n") == 1 and field in err


def test_analyze_missing_file_is_one_line_exit_2(tmp_path, capsys) -> None:
    code, _, err = _run(["analyze", str(tmp_path / "nope.csv")], capsys)
    assert code == 2 and err.count("\n") == 1


# --- with the model zoo and datasets (lrlab.tasks.image.models, lrlab.tasks.image.data) ----------


def test_find_unknown_model_is_one_line_exit_2(tmp_path, capsys) -> None:
    code, _, err = _run(["find", "--model", "no_such_net", "--dataset", "digits",
                         "--out", str(tmp_path / "r.json")], capsys)
    assert code == 2 and err.count("\n") == 1 and "model" in err


def test_run_from_config_with_seeds_and_validation() -> None:
    from lrlab.finder.job import run_from_config
    from lrlab.web.plots import range_test_result_figure

    reporter = MemoryReporter()
    result = run_from_config({"model": "small_cnn", "dataset": "digits", "batch_size": 32,
                              "start_lr": 1e-4, "end_lr": 10.0, "num_points": 12, "seeds": 2,
                              "val_every": 4, "val_batches": 1, "device": "cpu"}, reporter)
    assert result["format"] == "lrlab.range_test/2"
    assert result["stop_reason"] in ("completed", "diverged", "nan")
    assert len(result["seeds"]["curves"]) == 2
    assert len(result["seeds"]["band_low"]) == len(result["lr"])
    assert result["validation"]["lr"][0] == pytest.approx(1e-4)
    figure = range_test_result_figure(result)  # the page's chart draws the validation curve
    validation = [t for t in figure.data if t.name == "validation loss"]
    assert len(validation) == 1
    assert list(validation[0].y) == pytest.approx(result["validation"]["loss"], nan_ok=True)
    assert result["environment"]["torch"] == torch.__version__
    assert reporter.last_progress[0] == pytest.approx(1.0) or result["stop_reason"] != "completed"
    assert all(math.isfinite(v) for v in reporter.series("lr"))
    json.dumps(result, allow_nan=False)


def test_find_cli_end_to_end(tmp_path, capsys) -> None:
    out_path = tmp_path / "r.json"
    code, out, err = _run(["find", "--model", "small_cnn", "--dataset", "digits",
                           "--batch-size", "32", "--start-lr", "1e-4", "--end-lr", "10",
                           "--num-points", "10", "--device", "cpu", "--out", str(out_path)],
                          capsys)
    assert code == 0, err
    assert "consensus:" in out
    result = json.loads(out_path.read_text())
    assert result["lr"][0] == pytest.approx(1e-4)
    assert result["config"]["setup"]["model"] == "small_cnn"
