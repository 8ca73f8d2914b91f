"""`lrlab find` (run a range test) and `lrlab analyze` (analyse any curve file).

Both print the same short summary: each method's LR, the consensus, the verdict and warnings.
torch and the finder modules are imported inside the commands so `lrlab --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from lrlab.cli.jobs import DB_HELP
from lrlab.cli.train import add_setup_arguments, config_from_args
from lrlab.core import options
from lrlab.core.console import note
from lrlab.core.reporting import NullReporter

# The sweep's flags, each declared once in lrlab.core.options; the setup's are training's own.
SWEEP_FLAGS = ("start_lr", "end_lr", "num_points", "mode", "seeds", "val_every", "advice_steps")


# How `lrlab analyze` reads another tool's curve, and the run its advice is sized for.
IMPORT_FLAGS = ("source", "smoothing_factor", "imported.batch_size", "imported.total_steps")


def register(subparsers: argparse._SubParsersAction) -> None:
    find = subparsers.add_parser(
        "find", help="run an LR range test and suggest an LR",
        description="Sweep the LR over a short run of the setup you will train (a training "
                    "config and/or the training flags: model, data, loss, optimizer groups), "
                    "and suggest an LR with schedule advice sized to that run.")
    add_setup_arguments(find)
    options.add_flags(find, SWEEP_FLAGS)
    find.add_argument("--out", required=True, help="where to write the lrlab.range_test/2 JSON")
    find.set_defaults(func=_find)

    analyze = subparsers.add_parser("analyze", help="analyse a range-test curve (CSV or JSON)")
    analyze.add_argument("curve", help="CSV or JSON with lr and loss columns, or another tool's "
                                       "history/recorder export")
    analyze.add_argument("--optimizer", default="sgd", choices=options.OPTIMIZERS,
                         help="the optimizer the curve was measured with (for the scaling rule)")
    options.add_flags(analyze, IMPORT_FLAGS)
    analyze.add_argument("--out", default=None, help="write the analysis as JSON")
    analyze.add_argument("--keep", action="store_true",
                         help="keep the analysis in the job store as a range test: listed in "
                              "the app's Runs and checked from its LR Check page")
    analyze.add_argument("--db", help=DB_HELP)
    analyze.set_defaults(func=_analyze)


def write_result(path: str, result: dict[str, Any]) -> None:
    """A result as strict JSON (no NaN: a diverged loss is null)."""
    Path(path).write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")


def _find(args: argparse.Namespace) -> int:
    from lrlab.finder.job import run_from_config
    from lrlab.trackers import tracking

    config = options.apply_flags({"setup": config_from_args(args)}, args, SWEEP_FLAGS)
    with tracking("find", config, NullReporter()) as run:
        result = run_from_config(config, run.reporter)
        run.ended(result)
    write_result(args.out, result)
    print(f"range test: {len(result['lr'])} points, stopped: {result['stop_reason']}, "
          f"{result['environment']['seconds']:.1f} s on {result['environment']['device']}")
    print(_summary(result))
    note(f"wrote {args.out}")
    return 0


def _analyze(args: argparse.Namespace) -> int:
    from lrlab.finder.curves import load_curve
    from lrlab.finder.importers import analyze_imported

    reading = options.flag_values(args, IMPORT_FLAGS)
    result = analyze_imported(load_curve(args.curve), optimizer=args.optimizer,
                              batch_size=reading["imported.batch_size"],
                              total_steps=reading["imported.total_steps"],
                              source=reading["source"], factor=reading["smoothing_factor"])
    note(result["import"]["note"])
    print(_summary(result))
    if args.out:
        write_result(args.out, result)
        note(f"wrote {args.out}")
    if args.keep:
        from lrlab.finder.importers import imported_config
        from lrlab.store import Store

        config = imported_config(Path(args.curve).name, result, optimizer=args.optimizer,
                                 batch_size=reading["imported.batch_size"],
                                 total_steps=reading["imported.total_steps"])
        with Store(args.db) as store:
            note(f"kept as range test #{store.record('find', config, result)}")
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
