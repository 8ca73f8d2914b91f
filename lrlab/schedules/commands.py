"""`lrlab schedule values|export`: a schedule's per-step values, or the schedule in another form."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    schedule = subparsers.add_parser("schedule", help="evaluate or export a schedule config")
    sub = schedule.add_subparsers(dest="schedule_command", required=True, metavar="ACTION")

    values = sub.add_parser("values", help="print step,lr[,momentum] for every step")
    values.add_argument("config", type=Path, help="lrlab.schedule/1 file (JSON or YAML)")
    values.add_argument("--steps", type=int, default=None,
                        help="how many steps to print (default: total_steps)")
    values.add_argument("--format", choices=("csv", "json"), default="csv")
    values.add_argument("--metrics", type=Path, default=None,
                        help="plateau only: the metric series, one number per line")
    values.set_defaults(func=_values)

    export = sub.add_parser("export", help="write the schedule as JSON, YAML or PyTorch code")
    export.add_argument("config", type=Path, help="lrlab.schedule/1 file (JSON or YAML)")
    export.add_argument("--to", choices=("json", "yaml", "pytorch"), required=True)
    export.add_argument("--out", type=Path, default=None, help="file to write (default: stdout)")
    export.set_defaults(func=_export)


def _values(args: argparse.Namespace) -> int:
    import numpy as np

    from lrlab.schedules import ScheduleError, load_schedule
    from lrlab.schedules.io import parse_metric_series

    schedule = load_schedule(args.config)
    n = schedule.total_steps if args.steps is None else args.steps
    if n < 1:
        raise ScheduleError(f"--steps: expected >= 1, got {n}")
    metrics = None
    if args.metrics is not None:
        try:
            text = args.metrics.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScheduleError(f"{args.metrics}: cannot read ({exc.strerror})") from None
        metrics = parse_metric_series(text, str(args.metrics))
    if schedule.kind == "plateau" and metrics is None:
        raise ScheduleError(f"{args.config}: a plateau schedule needs its metric series: "
                            "--metrics FILE (one number per line)")
    steps = np.arange(n)
    lr = schedule.lr(steps, metrics=metrics)
    momentum = schedule.momentum(steps)
    out = sys.stdout
    if args.format == "json":
        rows = {"step": steps.tolist(), "lr": lr.tolist()}
        if momentum is not None:
            rows["momentum"] = momentum.tolist()
        json.dump(rows, out)
        out.write("\n")
        return 0
    out.write("step,lr,momentum\n" if momentum is not None else "step,lr\n")
    if momentum is None:
        out.writelines(f"{t},{v!r}\n" for t, v in zip(steps.tolist(), lr.tolist(), strict=True))
    else:
        out.writelines(f"{t},{v!r},{m!r}\n" for t, v, m in
                       zip(steps.tolist(), lr.tolist(), momentum.tolist(), strict=True))
    return 0


def _export(args: argparse.Namespace) -> int:
    from lrlab.schedules import dump_schedule, load_schedule, to_pytorch

    schedule = load_schedule(args.config)
    text = to_pytorch(schedule) if args.to == "pytorch" else dump_schedule(schedule, args.to)
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
    return 0
