"""`lrlab schedule values|export|import`: a schedule's per-step values, the schedule in another
framework's form, or another framework's schedule read back."""

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
    _register_exchange(sub)
    _register_batch_tools(sub)


def _register_exchange(sub: argparse._SubParsersAction) -> None:
    """Export to a framework, the exactness tables, and import back."""
    from lrlab.core.options import OPTIMIZERS
    from lrlab.schedules.importers import SOURCES
    from lrlab.schedules.targets import FILE_FORMATS, FORMS, TARGETS

    export = sub.add_parser("export", help="write the schedule in a framework's own form, "
                                           "with how exact it is")
    export.add_argument("config", type=Path, help="lrlab.schedule/1 file (JSON or YAML)")
    export.add_argument("--to", choices=tuple(TARGETS), required=True,
                        help="; ".join(f"{t.name}: {t.title}" for t in TARGETS.values()))
    export.add_argument("--form", choices=FORMS, default="auto",
                        help="auto: the framework's own schedule when exact, else its table "
                             "form; native or table to insist on one")
    export.add_argument("--format", dest="file_format", choices=FILE_FORMATS, default="code",
                        help="code: the framework's own code; json or yaml: the file its own "
                             "tools read (hf: TrainingArguments fields for HfArgumentParser), "
                             "only where it trains exactly this schedule")
    export.add_argument("--optimizer", choices=OPTIMIZERS, default=None,
                        help="the optimizer the schedule drives: the note says when it carries "
                             "its own step size (Prodigy, D-Adaptation, DoG, Schedule-Free)")
    export.add_argument("--out", type=Path, default=None, help="file to write (default: stdout)")
    export.set_defaults(func=_export)

    table = sub.add_parser("targets", help="print which kinds each framework takes exactly")
    table.add_argument("--warmup", action="store_true",
                       help="with a linear warmup from 0.1 x the peak (100 of 1000 steps)")
    table.set_defaults(func=_targets)

    read = sub.add_parser("import", help="read a Hugging Face, timm or Keras schedule back as "
                                         "lrlab.schedule/1")
    read.add_argument("file", type=Path, help="JSON, YAML, or the Python lrlab's exports write")
    read.add_argument("--from", dest="source", choices=SOURCES, default=None,
                      help="the framework (default: detected from the keys)")
    read.add_argument("--steps", type=int, default=None,
                      help="the run's length, for schedules that have none of their own")
    read.add_argument("--format", choices=("json", "yaml"), default="yaml")
    read.add_argument("--out", type=Path, default=None, help="file to write (default: stdout)")
    read.set_defaults(func=_import)


def _register_batch_tools(sub: argparse._SubParsersAction) -> None:
    """The noise scale per step, and the batch plan equivalent to an LR decay."""
    noise = sub.add_parser("noise", help="print step,lr,batch,momentum,noise_scale (Smith & Le's "
                                         "g = lr/(1-m)·(N/B-1)) for every step")
    noise.add_argument("config", type=Path, help="lrlab.schedule/1 or /2 file")
    _run_shape(noise)
    noise.add_argument("--momentum", type=float, default=0.9,
                       help="where the schedule sets none (default 0.9)")
    noise.set_defaults(func=_noise)

    plan = sub.add_parser("batch-plan", help="turn a step/multistep LR decay into batch increases "
                                             "with the same noise scale (Smith et al. 2018)")
    plan.add_argument("config", type=Path, help="lrlab.schedule/1 file with a step or multistep "
                                                "main phase")
    _run_shape(plan)
    plan.add_argument("--max-batch", type=int, default=None,
                      help="the largest batch (default: half the dataset)")
    plan.add_argument("--format", choices=("json", "yaml"), default="yaml")
    plan.add_argument("--out", type=Path, default=None, help="file to write (default: stdout)")
    plan.set_defaults(func=_batch_plan)


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


def _write(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")


def _export(args: argparse.Namespace) -> int:
    from lrlab.core.console import note
    from lrlab.schedules import load_schedule
    from lrlab.schedules.targets import export

    result = export(load_schedule(args.config), args.to, args.form, args.file_format,
                    args.optimizer)
    _write(result.text, args.out)
    note(f"{args.to}: {result.exactness.sentence()}")
    if result.momentum:
        note(f"momentum: {result.momentum}")
    return 0


def _run_shape(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset-size", type=int, required=True,
                        help="N, the training examples")
    parser.add_argument("--batch", type=int, required=True, help="B, the run's batch")


def _check_shape(args: argparse.Namespace) -> None:
    from lrlab.schedules import ScheduleError

    if args.dataset_size < 2:
        raise ScheduleError(f"--dataset-size: expected >= 2, got {args.dataset_size}")
    if not 1 <= args.batch < args.dataset_size:
        raise ScheduleError(f"--batch: expected 1 <= batch < --dataset-size, got {args.batch}")


def _noise(args: argparse.Namespace) -> int:
    import numpy as np

    from lrlab.schedules import ScheduleError, load_schedule
    from lrlab.schedules.noise_scale import noise_scale

    _check_shape(args)
    if not 0 <= args.momentum < 1:
        raise ScheduleError(f"--momentum: expected a number in [0, 1), got {args.momentum}")
    schedule = load_schedule(args.config)
    steps = np.arange(schedule.total_steps)
    lr = schedule.lr(steps)
    momentum = schedule.momentum(steps)
    momentum = np.full(lr.shape, args.momentum) if momentum is None else momentum
    batch = np.maximum(1, np.round(args.batch * schedule.batch_factor(steps))).astype(int)
    g = noise_scale(lr, args.dataset_size, batch, momentum)
    sys.stdout.write("step,lr,batch,momentum,noise_scale\n")
    sys.stdout.writelines(f"{t},{v!r},{b},{m!r},{n!r}\n" for t, v, b, m, n in
                          zip(steps.tolist(), lr.tolist(), batch.tolist(), momentum.tolist(),
                              g.tolist(), strict=True))
    return 0


def _batch_plan(args: argparse.Namespace) -> int:
    from lrlab.core.console import note
    from lrlab.schedules import dump_schedule, load_schedule
    from lrlab.schedules.batch_plan import equivalent_batch_plan, plan_summary

    _check_shape(args)
    schedule = load_schedule(args.config)
    plan = equivalent_batch_plan(schedule, args.dataset_size, args.batch, args.max_batch)
    _write(dump_schedule(plan, args.format), args.out)
    note(plan_summary(schedule, plan, args.batch))
    return 0


def _targets(args: argparse.Namespace) -> int:
    from lrlab.schedules.targets import support_table

    sys.stdout.write(support_table(warmup=args.warmup))
    return 0


def _import(args: argparse.Namespace) -> int:
    from lrlab.schedules import Schedule, ScheduleError, dump_schedule
    from lrlab.schedules.importers import parse_foreign

    try:
        text = args.file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScheduleError(f"{args.file}: cannot read ({exc.strerror or exc})") from None
    if args.steps is not None and args.steps < 1:
        raise ScheduleError(f"--steps: expected >= 1, got {args.steps}")
    config = parse_foreign(text, args.source, args.steps, name=str(args.file))
    try:
        schedule = Schedule.from_dict(config)
    except ScheduleError as exc:
        raise ScheduleError(f"{args.file}: read as {config['main']['kind']}, but {exc}") from None
    _write(dump_schedule(schedule, args.format), args.out)
    return 0
