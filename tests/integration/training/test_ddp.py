"""One run over two processes (torch.distributed, gloo on CPU): the same updates as one process
on the same global batch, one cancel for all ranks, and a dying rank stops the run."""

from __future__ import annotations

import multiprocessing
import os
import signal

import pytest

from lrlab.core.errors import LrlabError
from lrlab.core.reporting import MemoryReporter
from lrlab.training.job import train

# No BatchNorm (Fixup) and no augmentation: then the two ranks' halves of each batch give
# exactly the full batch's mean gradient, and the runs can be compared step by step.
RUN = {"model": "resnet18", "norm": "none", "variant": "A", "width": 8, "dataset": "digits",
       "batch_size": 64, "epochs": 1, "device": "cpu", "augment": "none",
       "tricks": {"label_smoothing": 0.0}}


def test_two_ranks_make_the_single_process_updates(tmp_path) -> None:
    one, two = MemoryReporter(), MemoryReporter()
    single = train(RUN, one)
    double = train({**RUN, "nproc": 2}, two, tmp_path / "run")
    assert len(two.series("loss")) == len(one.series("loss")) == 22
    assert two.series("loss") == pytest.approx(one.series("loss"), abs=1e-5)
    assert two.series("batch") == [32.0] * 22  # each rank's half of the global batch of 64
    assert double["summary"]["final_val_top1"] == pytest.approx(
        single["summary"]["final_val_top1"], abs=1e-9)  # validation reduced over the ranks
    assert (tmp_path / "run" / "checkpoint.pt").exists()  # rank 0 wrote the run folder


def test_one_cancel_stops_every_rank() -> None:
    reporter = MemoryReporter(stop_after_steps=3)
    result = train({**RUN, "epochs": 3, "nproc": 2}, reporter)  # 66 steps if never stopped
    assert result["summary"]["stop_reason"].startswith("cancelled")
    # The ranks may take a step or two more before the relay has read the third report.
    assert 3 <= len(reporter.steps) < 66
    assert not multiprocessing.active_children()


class _KillsARank(MemoryReporter):
    def step(self, step, metrics) -> None:
        super().step(step, metrics)
        if step == 2:
            os.kill(max(p.pid for p in multiprocessing.active_children()), signal.SIGKILL)


def test_a_dying_rank_stops_the_run_with_its_exit_code() -> None:
    reporter = _KillsARank()
    with pytest.raises(LrlabError, match=r"rank \d of 2 died \(exit code -9\); the run was "
                                         r"stopped"):
        train({**RUN, "epochs": 3, "nproc": 2}, reporter)
    assert len(reporter.steps) >= 3  # what was reported before stays reported
    assert not multiprocessing.active_children()


def test_sync_bn_on_cpu_is_refused_with_the_reason() -> None:
    with pytest.raises(LrlabError, match=r"rank \d: sync_bn: PyTorch.s SyncBatchNorm runs on GPUs"):
        train({**RUN, "model": "small_cnn", "norm": "batch", "nproc": 2, "sync_bn": True})


def test_a_batch_that_does_not_split_is_refused() -> None:
    with pytest.raises(LrlabError, match="batch_size: 63 does not split into 2 equal parts"):
        train({**RUN, "batch_size": 63, "nproc": 2})


def test_torchrun_starts_the_ranks_for_several_hosts_too(tmp_path) -> None:
    """torchrun owns multi-host rendezvous (--nnodes, --rdzv-endpoint); `lrlab train` under it
    is one rank. Here two on one host (--standalone): rank 0 writes the single-process losses."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    (tmp_path / "run.yaml").write_text(yaml.safe_dump(RUN))
    torchrun = Path(sys.executable).with_name("torchrun")
    done = subprocess.run([str(torchrun), "--standalone", "--nproc-per-node", "2", "-m",
                           "lrlab.cli", "train", "--config", "run.yaml", "--out", "run"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-6000:]  # the ranks' words, then the launcher's
    assert done.stdout.count("completed: 1 epochs, 22 steps") == 1  # rank 0 alone speaks
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    losses = [r["loss"] for r in lines if r["scope"] == "step"]
    single = MemoryReporter()
    train(RUN, single)
    assert losses == pytest.approx(single.series("loss"), abs=1e-5)
