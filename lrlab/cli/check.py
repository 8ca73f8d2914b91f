"""`lrlab check`: train short runs at a ladder of LRs around a suggestion, one after another
(`lrlab submit check` queues the same ladder for workers to run in parallel)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lrlab.cli.find import write_result
from lrlab.cli.train import add_setup_arguments, config_from_args
from lrlab.core import options
from lrlab.core.console import note
from lrlab.core.errors import LrlabError

# The ladder's flags; --epochs there is each point's budget (the setup's epochs come from its
# config: the planned run the advice is sized for).
LADDER_FLAGS = ("check.lr", "check.points", "check.span", "check.epochs", "check.fraction",
                "check.seeds", "check.baselines")


def register(subparsers: argparse._SubParsersAction) -> None:
    check = subparsers.add_parser(
        "check", help="train short runs at LRs around a suggestion (LR check ladder)",
        description="Train the setup at a ladder of peak LRs around the advice (--from a range "
                    "test's result) or around --around LR, each for a short budget, one after "
                    "another; `lrlab submit check` queues the same ladder for workers to run "
                    "in parallel.")
    add_setup_arguments(check, skip=("epochs",))
    check.add_argument("--from", dest="from_result", type=Path,
                       help="an lrlab.range_test result: its setup, advice and suggestions")
    check.add_argument("--advice", default="onecycle",
                       choices=("onecycle", "warmup_cosine", "cyclic"),
                       help="which of the range test's advised schedules to check")
    options.add_flags(check, LADDER_FLAGS)
    check.add_argument("--out", default=None, help="write the lrlab.check/1 JSON")
    check.set_defaults(func=_check)


def check_config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The ladder's config: a range test's setup, advice and suggestions (--from), the setup's
    file and flags on top, and the ladder's own flags."""
    from lrlab import lr_check
    from lrlab.core.config_files import read_config_file

    config: dict[str, Any] = {}
    if args.from_result is not None:
        found = read_config_file(args.from_result, "--from")
        # an imported curve (lrlab analyze) has no setup of its own: the one given is checked
        setup = None if found.get("config") else config_from_args(args)
        config = lr_check.from_range_test(found, setup=setup, advice=args.advice)
    schedule = config.get("setup", {}).get("schedule")
    config["setup"] = config_from_args(args, config.get("setup"))
    if args.from_result is not None and args.schedule is None:
        config["setup"].update(schedule=schedule, schedule_fit="stretch")
    return lr_check.with_budget(config, {options.FIELDS[name].key: getattr(
        args, options.FIELDS[name].dest) for name in LADDER_FLAGS})


def _counted(config: dict[str, Any]) -> dict[str, Any]:
    """A task's ladder with the batches in one epoch of its loader (counted here, where your
    own code may run, unless the range test or the config says): the budget is sized by it."""
    from lrlab.tasks.setups import is_task

    setup = config.get("setup") or {}
    if not is_task(setup) or setup.get("batches_per_epoch") or setup.get("max_steps"):
        return config
    from lrlab.tasks.loading import build_task
    from lrlab.tasks.protocol import batches_in

    task = setup["task"]
    batches = batches_in(build_task(task["spec"], task.get("args"),
                                    setup.get("seed") or 0).train)
    if batches is None:
        raise LrlabError(f"batches_per_epoch: the training loader of task {task['spec']!r} has "
                         "no length; give --batches-per-epoch or --max-steps")
    return {**config, "setup": {**setup, "batches_per_epoch": batches}}


def _check(args: argparse.Namespace) -> int:
    from lrlab import lr_check
    from lrlab.core.config_files import read_config_file
    from lrlab.core.reporting import TerminalReporter

    cfg = lr_check.validate_config(_counted(check_config_from_args(args)))
    if args.from_result is None and cfg["lr"] is None and cfg["setup"]["schedule"] is None:
        note(f"note: centred on the setup's own peak LR {lr_check.peak_lr(cfg['setup']):.3g}")
    pace = lr_check.pace_of(read_config_file(args.from_result, "--from")) if (
        args.from_result is not None) else None
    note(f"budget: {lr_check.describe_budget(cfg, pace)}")
    from lrlab.trackers import tracking

    with tracking("check", cfg, TerminalReporter()) as run:
        result = lr_check.run_locally(cfg, run.reporter, train_point=run.point)
        run.ended(result)
    print(lr_check.table(result))
    print(result["verdict"])
    if args.out:
        write_result(args.out, result)
        note(f"wrote {args.out}")
    return 0
