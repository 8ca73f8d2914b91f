"""`lrlab train`: one run, or an ablation of tricks over seeds, from a config file and/or flags.

Flags override the file, so `lrlab train --config base.yaml --lr 0.2` is the usual way to try a
variation. torch is imported inside the command so `lrlab --help` stays fast.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from lrlab.core import options
from lrlab.core.console import note
from lrlab.core.errors import LrlabError

# The training flags, each declared once in lrlab.core.options; the tricks on by default are
# switched off with --off.
TRAIN_FLAGS = ("model", "variant", "norm", "width", "dataset", "data_root", "augment",
               "download", "limit", "batch_size", "epochs", "seed", "precision", "device",
               "grad_clip", "compile", "optimizer.name", "optimizer.lr", "optimizer.momentum",
               "optimizer.weight_decay", "optimizer.nesterov", "tricks.warmup_epochs",
               "tricks.label_smoothing", "tricks.mixup", "schedule_fit", "nproc", "sync_bn",
               "log_to")
SWITCHABLE_TRICKS = ("linear_scaling", "zero_gamma", "no_bias_decay", "cosine")
# What a task's run takes from the flags (the task builds its own model, data and loss).
TASK_FLAGS = ("max_steps", "batches_per_epoch", "eval_every", "accumulation_steps")
FOR_TASKS = ("epochs", "seed", "precision", "device", "grad_clip", "optimizer.name",
             "optimizer.lr", "optimizer.momentum", "optimizer.weight_decay", "optimizer.nesterov",
             "schedule_fit", "nproc", "log_to", *TASK_FLAGS)


def add_setup_arguments(parser: argparse.ArgumentParser, *, skip: tuple[str, ...] = ()) -> None:
    """The setup's flags (a config file, every training option, --schedule, --teacher, --off),
    shared by train, find and check so each tests or trains the same setup."""
    names = tuple(n for n in (*TRAIN_FLAGS, *TASK_FLAGS) if n not in skip)
    parser.add_argument("--config", type=Path, help="lrlab.train/4 config (JSON or YAML)")
    add_task_arguments(parser)
    options.add_flags(parser, names)
    parser.add_argument("--schedule", type=Path, help="an lrlab.schedule/1 file (replaces the "
                                                       "tricks' warmup + cosine)")
    options.add_flags(parser, ("tricks.distillation.teacher",))
    parser.add_argument("--off", nargs="+", default=[], metavar="TRICK",
                        choices=SWITCHABLE_TRICKS, help="switch tricks off")
    parser.set_defaults(setup_flags=names)


def add_task_arguments(parser: argparse.ArgumentParser) -> None:
    """--task SPEC and --task-arg KEY=VALUE: your own model, data, loss and metric."""
    options.add_flags(parser, ("task.spec",))
    parser.add_argument("--task-arg", dest="task_args", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="an argument of the task's factory (VALUE read as YAML); "
                             "repeatable")


def with_task(config: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The config with --task and --task-arg applied: a task form whose args the flags add to
    (or replace, with another spec)."""
    from lrlab.tasks.loading import parse_task_args
    from lrlab.tasks.train_format import FORMAT

    given = parse_task_args(args.task_args)
    if args.task is None and not given:
        if config.get("task") is not None:
            on_search_path(Path.cwd())
        return config
    on_search_path(Path.cwd())
    task = dict(config.get("task") or {})
    if args.task is None and not task:
        raise LrlabError("--task-arg: needs a task (--task SPEC, or task: in the config)")
    if args.task is not None and args.task != task.get("spec"):
        task = {"spec": args.task, "args": {}}
    task["args"] = {**(task.get("args") or {}), **given}
    return {**config, "format": FORMAT, "task": task}


def on_search_path(folder: Path) -> None:
    """Your own command runs your own task: its module may sit in the folder you work in, as
    `python -m` would find it. Appended, so it never shadows an installed module."""
    import sys

    if str(folder) not in sys.path:
        sys.path.append(str(folder))


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train with the Bag of Tricks (or run an ablation of tricks)",
        description="Train a model from an lrlab.train/4 config, or your own task (--task "
                    "package.module:function); flags override the file.")
    add_setup_arguments(p)
    p.add_argument("--out", type=Path, default=None,
                   help="run folder (default: runs/train-<time>)")
    p.add_argument("--ablation", nargs="+", metavar="TRICK",
                   help="train the baseline, then add these tricks one at a time")
    p.add_argument("--ablation-mode", choices=("cumulative", "single"), default="cumulative")
    p.add_argument("--seeds", type=int, default=1, help="seeds per ablation row")
    p.set_defaults(func=_train)


def config_from_args(args: argparse.Namespace,
                     base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The config file's mapping (else `base`) with every given setup flag applied on top."""
    from lrlab.core.config_files import read_config_file

    config = with_task(read_config_file(args.config) if args.config else dict(base or {}),
                       args)
    if config.get("task") is not None:
        return _task_config(config, args)
    for name in TASK_FLAGS:
        if getattr(args, options.FIELDS[name].dest, None) is not None:
            raise LrlabError(f"{options.FIELDS[name].flag}: only for a task (--task SPEC)")
    config = options.apply_flags(config, args, args.setup_flags)
    if args.schedule is not None:
        config["schedule"] = read_config_file(args.schedule, "--schedule")
    tricks = dict(config.get("tricks") or {})
    for trick in args.off:
        tricks[trick] = False
    if args.teacher:
        tricks["distillation"] = {**(tricks.get("distillation") or {}), "teacher": args.teacher}
    if tricks:
        config["tricks"] = tricks
    return config


def _task_config(config: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """A task's config with the flags that apply to it; the image classification's flags are
    refused by name (the task builds its own model, data and loss)."""
    from lrlab.core.config_files import read_config_file

    for name in args.setup_flags:
        if name not in FOR_TASKS and getattr(args, options.FIELDS[name].dest, None) is not None:
            raise LrlabError(f"{options.FIELDS[name].flag}: not used with a task (the task "
                             f"{config['task']['spec']} builds its own model, data and loss)")
    if args.off or args.teacher:
        raise LrlabError(f"{'--off' if args.off else '--teacher'}: the Bag of Tricks is the "
                         "built-in image classification's; a task has its own loss")
    config = options.apply_flags(config, args, [n for n in args.setup_flags if n in FOR_TASKS])
    if args.schedule is not None:
        config["schedule"] = read_config_file(args.schedule, "--schedule")
    return config


def _train(args: argparse.Namespace) -> int:
    from lrlab.core.reporting import TerminalReporter
    from lrlab.tasks.setups import is_task, validate_setup

    config = validate_setup(config_from_args(args))
    out = args.out or Path("runs") / time.strftime("train-%Y%m%d-%H%M%S")
    if args.ablation:
        if is_task(config):
            raise LrlabError("--ablation: ablates the Bag of Tricks of the built-in image "
                             "classification; a task has none")
        return _ablation(args, config, out)
    if args.seeds != 1:
        raise LrlabError("--seeds: only used with --ablation (use --seed for one run)")
    from lrlab.trackers import tracking
    from lrlab.training.job import train

    with tracking("train", config, TerminalReporter()) as run:
        result = train(config, run.reporter, out)
        run.ended(result)
    if os.environ.get("RANK", "0") != "0":  # one of torchrun's ranks: rank 0 speaks for all
        return 0
    if is_task(config):
        _print_task_run(result)
        note(f"wrote {out}")
        return 0
    s = result["summary"]
    print(f"{s['stop_reason']}: {s['epochs_done']} epochs, {s['steps']} steps in "
          f"{s['wall_time_s']:.1f} s on {result['environment']['device']} "
          f"({s['images_per_s'] or 0:,.0f} images/s)")
    if s["best_val_top1"] is not None:
        print(f"val top-1: best {s['best_val_top1']:.2%} (epoch {s['best_epoch'] + 1}), "
              f"final {s['final_val_top1']:.2%}")
    note(f"wrote {out}")
    return 0


def _print_task_run(result: dict[str, Any]) -> None:
    """A task's run in two lines: how it ended, and its objective from start to end."""
    s = result["summary"]
    print(f"{s['stop_reason']}: {s['steps']} updates in {s['wall_time_s']:.1f} s on "
          f"{result['environment']['device']}")
    if s["final_objective"] is not None:
        print(f"{s['objective']} ({s['mode']}): {s['initial_objective']:.4g} at the start, best "
              f"{s['best_objective']:.4g}, final {s['final_objective']:.4g}")


def _ablation(args: argparse.Namespace, config: dict[str, Any], out: Path) -> int:
    from lrlab.core.reporting import TerminalReporter
    from lrlab.training.ablation import ablation_table, run_ablation

    if args.seeds < 1:
        raise LrlabError(f"--seeds: expected at least 1, got {args.seeds}")
    seeds = [config["seed"] + k for k in range(args.seeds)]
    rows = run_ablation(
        config, args.ablation, seeds, mode=args.ablation_mode, out_dir=out,
        reporter_for=lambda name, seed: TerminalReporter(prefix=f"[{name}, seed {seed}] "))
    print(ablation_table(rows, args.ablation_mode))
    note(f"wrote {out / 'ablation.md'} and {out / 'ablation.json'}")
    return 0

