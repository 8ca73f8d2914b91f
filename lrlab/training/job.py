"""Training from an `lrlab.train/4` config (the built-in image classification, or a task): the
job worker's entry (`run_from_config`) and what `lrlab train` calls, dispatching to one process,
several ranks, or one rank under torchrun.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lrlab.core.reporting import NullReporter, Reporter
from lrlab.tasks.setups import is_task, validate_setup
from lrlab.training.distributed import launch
from lrlab.training.ranks import end_process_group, torchrun_rank
from lrlab.training.run import run_one
from lrlab.training.task_run import run_task


def warm_up(device: str) -> None:
    """Start-up costs of every training run, paid before the job arrives (see jobs.worker)."""
    from lrlab.core.device import warm_up as warm_up_torch

    warm_up_torch(device)


def train(
    config: Mapping[str, Any], reporter: Reporter | None = None, out_dir: Path | None = None,
) -> dict[str, Any]:
    """Run the training a config describes; returns config, summary, per-epoch metrics and the
    schedule used. With `out_dir`, also writes the run folder. Three ways, one run: a process
    torchrun started is one rank of it; with `nproc` > 1 this process launches the ranks
    (lrlab.training.distributed); otherwise it is the whole run (lrlab.training.run).

    A non-finite loss ends the run with LrlabError naming the step; what was measured up to then
    is kept in the run folder.
    """
    cfg = validate_setup(config)
    run = run_task if is_task(cfg) else run_one
    reporter = reporter or NullReporter()
    if (torchrun := torchrun_rank(reporter)) is not None:
        me, rank_reporter, device_name = torchrun  # torchrun started this process as one rank
        try:
            result = run({**cfg, "device": device_name}, rank_reporter,
                         out_dir if me.rank == 0 else None, rank=me)
        except BaseException:
            end_process_group(together=False)  # the other ranks may never get here
            raise
        end_process_group(together=True)
        return result
    if cfg["nproc"] > 1:
        return launch(cfg, reporter, out_dir, run)
    return run(cfg, reporter, out_dir)


def run_from_config(
    config: dict[str, Any], reporter: Reporter, out_dir: Path | None = None
) -> dict[str, Any]:
    """The job runner's entry: `train` with the worker's reporter and run folder."""
    return train(config, reporter, out_dir)
