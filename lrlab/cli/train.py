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
               "tricks.label_smoothing", "tricks.mixup", "schedule_fit", "nproc", "sync_bn")
SWITCHABLE_TRICKS = ("linear_scaling", "zero_gamma", "no_bias_decay", "cosine")


def add_setup_arguments(parser: argparse.ArgumentParser, *, skip: tuple[str, ...] = ()) -> None:
    """The setup's flags (a config file, every training option, --schedule, --teacher, --off),
    shared by train, find and check so each tests or trains the same setup."""
    names = tuple(n for n in TRAIN_FLAGS if n not in skip)
    parser.add_argument("--config", type=Path, help="lrlab.train/2 config (JSON or YAML)")
    options.add_flags(parser, names)
    parser.add_argument("--schedule", type=Path, help="an lrlab.schedule/1 file (replaces the "
                                                       "tricks' warmup + cosine)")
    options.add_flags(parser, ("tricks.distillation.teacher",))
    parser.add_argument("--off", nargs="+", default=[], metavar="TRICK",
                        choices=SWITCHABLE_TRICKS, help="switch tricks off")
    parser.set_defaults(setup_flags=names)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train with the Bag of Tricks (or run an ablation of tricks)",
        description="Train a model from an lrlab.train/2 config; flags override the file.")
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

    config = options.apply_flags(read_config_file(args.config) if args.config else
                                 dict(base or {}), args, args.setup_flags)
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


def _train(args: argparse.Namespace) -> int:
    from lrlab.core.reporting import TerminalReporter
    from lrlab.tasks.image.config import validate_config

    config = validate_config(config_from_args(args))
    out = args.out or Path("runs") / time.strftime("train-%Y%m%d-%H%M%S")
    if args.ablation:
        return _ablation(args, config, out)
    if args.seeds != 1:
        raise LrlabError("--seeds: only used with --ablation (use --seed for one run)")
    from lrlab.training.job import train

    result = train(config, TerminalReporter(), out)
    if os.environ.get("RANK", "0") != "0":  # one of torchrun's ranks: rank 0 speaks for all
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

