"""`lrlab find` (run a range test) and `lrlab analyze` (analyse any curve file).

Both print the same short summary: each method's LR, the consensus, the verdict and warnings.
torch and the finder modules are imported inside the commands so `lrlab --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from lrlab.core import options
from lrlab.core.console import note
from lrlab.core.reporting import NullReporter

# The sweep's flags, each declared once in lrlab.core.options; the setup's are training's own.
SWEEP_FLAGS = ("start_lr", "end_lr", "num_points", "mode", "seeds", "val_every", "advice_steps")
# The ladder's flags; --epochs there is each point's budget (the setup's epochs come from its
# config: the planned run the advice is sized for).
LADDER_FLAGS = ("check.lr", "check.points", "check.span", "check.epochs", "check.fraction",
                "check.seeds")


IMPORT_FLAGS = ("source", "smoothing_factor")  # how `lrlab analyze` reads another tool's curve


def register(subparsers: argparse._SubParsersAction) -> None:
    from lrlab.cli.train import add_setup_arguments

    find = subparsers.add_parser(
        "find", help="run an LR range test and suggest an LR",
        description="Sweep the LR over a short run of the setup you will train (a training "
                    "config and/or the training flags: model, data, loss, optimizer groups), "
                    "and suggest an LR with schedule advice sized to that run.")
    add_setup_arguments(find)
    options.add_flags(find, SWEEP_FLAGS)
    find.add_argument("--out", required=True, help="where to write the lrlab.range_test/2 JSON")
    find.set_defaults(func=_find)

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

    analyze = subparsers.add_parser("analyze", help="analyse a range-test curve (CSV or JSON)")
    analyze.add_argument("curve", help="CSV or JSON with lr and loss columns, or another tool's "
                                       "history/recorder export")
    analyze.add_argument("--optimizer", default="sgd", choices=options.OPTIMIZERS,
                         help="the optimizer the curve was measured with (for the scaling rule)")
    analyze.add_argument("--batch-size", type=int, default=None,
                         help="batch the curve was measured with (for schedule advice)")
    options.add_flags(analyze, IMPORT_FLAGS)
    analyze.add_argument("--out", default=None, help="write the analysis as JSON")
    analyze.set_defaults(func=_analyze)


def _write(path: str, result: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")


def _find(args: argparse.Namespace) -> int:
    from lrlab.cli.train import config_from_args
    from lrlab.finder.job import run_from_config

    config = options.apply_flags({"setup": config_from_args(args)}, args, SWEEP_FLAGS)
    result = run_from_config(config, NullReporter())
    _write(args.out, result)
    print(f"range test: {len(result['lr'])} points, stopped: {result['stop_reason']}, "
          f"{result['environment']['seconds']:.1f} s on {result['environment']['device']}")
    print(_summary(result))
    note(f"wrote {args.out}")
    return 0


def check_config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The ladder's config: a range test's setup, advice and suggestions (--from), the setup's
    file and flags on top, and the ladder's own flags."""
    from lrlab import lr_check
    from lrlab.cli.train import config_from_args
    from lrlab.core.config_files import read_config_file

    config: dict[str, Any] = {}
    if args.from_result is not None:
        config = lr_check.from_range_test(read_config_file(args.from_result, "--from"),
                                        advice=args.advice)
    schedule = config.get("setup", {}).get("schedule")
    config["setup"] = config_from_args(args, config.get("setup"))
    if args.from_result is not None and args.schedule is None:
        config["setup"].update(schedule=schedule, schedule_fit="stretch")
    for name in LADDER_FLAGS:
        value = getattr(args, options.FIELDS[name].dest)
        if value is not None:
            config[options.FIELDS[name].key] = value
    return config


def _check(args: argparse.Namespace) -> int:
    from lrlab import lr_check
    from lrlab.core.reporting import TerminalReporter

    cfg = lr_check.validate_config(check_config_from_args(args))
    if args.from_result is None and cfg["lr"] is None and cfg["setup"]["schedule"] is None:
        note(f"note: centred on the setup's own peak LR {lr_check.peak_lr(cfg['setup']):.3g}")
    result = lr_check.run_locally(cfg, TerminalReporter())
    print(lr_check.table(result))
    print(result["verdict"])
    if args.out:
        _write(args.out, result)
        note(f"wrote {args.out}")
    return 0


def _analyze(args: argparse.Namespace) -> int:
    from lrlab.finder.curves import load_curve
    from lrlab.finder.importers import analyze_imported

    reading = options.flag_values(args, IMPORT_FLAGS)
    result = analyze_imported(load_curve(args.curve), optimizer=args.optimizer,
                              batch_size=args.batch_size, source=reading["source"],
                              factor=reading["smoothing_factor"])
    note(result["import"]["note"])
    print(_summary(result))
    if args.out:
        _write(args.out, result)
        note(f"wrote {args.out}")
    return 0


def _summary(result: dict[str, Any]) -> str:
    """The Analysis.summary() text, rebuilt from the JSON the run returned."""
    suggestions = {k: v for k, v in result["suggestions"].items() if k != "consensus"}
    width = max(len(k) for k in suggestions)
    lines = [f"  {k:<{width}}  {'-' if v is None else format(v, '.3g')}"
             for k, v in suggestions.items()]
    consensus = result["suggestions"]["consensus"]
    trust = result["trust"]
    lines.append(f"consensus: {'none' if consensus is None else format(consensus, '.3g')}  "
                 f"(trust: {trust['level']})")
    lines.append(trust["verdict"])
    lines += [f"warning: {w}" for w in trust["warnings"]]
    return "suggested LRs:\n" + "\n".join(lines)
