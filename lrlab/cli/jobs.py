"""`lrlab submit | jobs | show | cancel | delete | worker`: the job queue from the command line."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrlab.cli.train import add_task_arguments, with_task
from lrlab.core import options
from lrlab.core.console import note
from lrlab.core.errors import LrlabError
from lrlab.core.lifecycle import STATUSES
from lrlab.jobs.kinds import KINDS, NAMES

if TYPE_CHECKING:
    from lrlab.store import Job, Store

# The store (SQLAlchemy) and yaml are imported inside the commands so `lrlab --help` stays fast.

DB_HELP = "database URL (default: $LRLAB_DB, else sqlite under $LRLAB_HOME, default ~/.lrlab)"


# The worker's tuning flags, each declared once in lrlab.core.options.
WORKER_FLAGS = ("worker.poll", "worker.heartbeat_timeout", "worker.cancel_grace", "worker.nice",
                "worker.threads", "worker.executor", "worker.ray_address", "worker.gpus",
                "worker.artifacts")


def register(subparsers: argparse._SubParsersAction) -> None:
    submit = subparsers.add_parser(
        "submit",
        help="queue a job (range test, training run or worker self-test) for a worker",
        description="Validate a job's config and queue it; `lrlab worker` runs it.",
    )
    submit.add_argument(
        "kind", choices=NAMES, help="; ".join(f"{k.name}: {k.title}" for k in KINDS.values())
    )
    submit.add_argument("--config", type=Path, help="the job's config as a JSON or YAML file")
    submit.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set one config field (VALUE is read as YAML: 0.1, true, [1, 2], text); repeatable",
    )
    add_task_arguments(submit)
    options.add_flags(submit, ("log_to",))
    submit.add_argument("--json", action="store_true",
                        help='print {"id", "kind", "status"} as JSON instead of the bare id')
    submit.add_argument("--db", help=DB_HELP)
    submit.set_defaults(func=_cmd_submit)
    _register_following(subparsers)
    _register_worker(subparsers)


def _register_following(subparsers: argparse._SubParsersAction) -> None:
    """The commands that follow queued jobs: jobs, show, cancel, delete, export-run."""
    jobs = subparsers.add_parser("jobs", help="list jobs (newest first)")
    jobs.add_argument("--all", action="store_true", help="list every job, not only the last 20")
    jobs.add_argument("--status", choices=STATUSES, help="only jobs with this status")
    jobs.add_argument("--kind", choices=NAMES, help="only jobs of this kind")
    jobs.add_argument("--db", help=DB_HELP)
    jobs.set_defaults(func=_cmd_jobs)

    show = subparsers.add_parser("show", help="a job's status, progress, last metrics and result")
    show.add_argument("job_id", type=int, metavar="ID")
    show.add_argument("--json", action="store_true", help="print the job record as JSON")
    show.add_argument("--db", help=DB_HELP)
    show.set_defaults(func=_cmd_show)

    cancel = subparsers.add_parser("cancel", help="cancel a queued or running job")
    cancel.add_argument("job_id", type=int, metavar="ID")
    cancel.add_argument("--db", help=DB_HELP)
    cancel.set_defaults(func=_cmd_cancel)

    delete = subparsers.add_parser("delete", help="delete a finished job and its metrics")
    delete.add_argument("job_id", type=int, metavar="ID")
    delete.add_argument("--db", help=DB_HELP)
    delete.set_defaults(func=_cmd_delete)

    export = subparsers.add_parser(
        "export-run", help="write a finished job to TensorBoard or MLflow, as live logging would",
        description="Write a finished range test, LR check (with its points) or training run "
                    "from the store to a tracker exactly as --log-to would have logged it live.")
    export.add_argument("job_id", type=int, metavar="ID")
    export.add_argument("--to", required=True, action="append", metavar="TRACKER[:WHERE]",
                        help="tensorboard[:DIR] or mlflow[:URI] (default DIR: "
                             "$LRLAB_HOME/tensorboard; default URI: MLFLOW_TRACKING_URI, else "
                             "$LRLAB_HOME/mlflow.db); repeatable")
    export.add_argument("--db", help=DB_HELP)
    export.set_defaults(func=_cmd_export_run)


def _register_worker(subparsers: argparse._SubParsersAction) -> None:
    worker = subparsers.add_parser(
        "worker",
        help="run queued jobs, one at a time, each in a fresh child process",
        description="Claim jobs from the store and run them on this machine's best device. "
        "Start one worker per GPU (--device cuda:0, cuda:1, ...).",
    )
    worker.add_argument("--db", help=DB_HELP)
    worker.add_argument(
        "--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps"
    )
    worker.add_argument("--once", action="store_true", help="run at most one job, then exit")
    options.add_flags(worker, WORKER_FLAGS)
    worker.add_argument("--task", dest="tasks", action="append", default=[], metavar="SPEC",
                        help="trust this task spec (package.module:function) besides the "
                             "installed ones (entry point group lrlab.tasks) and $LRLAB_TASKS; "
                             "a job naming any other task is failed unread; repeatable")
    worker.add_argument(
        "--exit-with", type=int, metavar="PID", help="exit when process PID ends (used by the app)"
    )
    worker.add_argument(
        "--check",
        action="store_true",
        help="do not run jobs: queue a self-test and report whether a live worker runs it",
    )
    worker.set_defaults(func=_cmd_worker)


def apply_overrides(config: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `KEY=VALUE` settings; dotted keys (optimizer.lr) reach into nested mappings."""
    import yaml

    from lrlab.core.config_files import load_yaml

    result = dict(config)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise LrlabError(f"--set: expected KEY=VALUE, got {item!r}")
        try:
            value = load_yaml(raw) if raw else ""
        except yaml.YAMLError as exc:
            raise LrlabError(f"--set {key}: cannot read value {raw!r} ({exc})") from exc
        target = result
        *parents, leaf = key.split(".")
        for part in parents:
            child = target.get(part)
            child = dict(child) if isinstance(child, dict) else {}
            target[part] = child
            target = child
        target[leaf] = value
    return result


def _cmd_submit(args: argparse.Namespace) -> int:
    from lrlab.core.config_files import read_config_file
    from lrlab.jobs.kinds import submit
    from lrlab.store import Store

    config = apply_overrides(read_config_file(args.config) if args.config else {}, args.overrides)
    if args.task is not None or args.task_args:  # the setup of a find or check, a train's own
        if args.kind in ("find", "check"):
            config["setup"] = with_task(dict(config.get("setup") or {}), args)
        elif args.kind == "train":
            config = with_task(config, args)
        else:
            raise LrlabError(f"--task: a {args.kind} job takes no task")
    if args.log_to is not None:  # where the kind keeps it: a train's own, a setup's
        if args.kind in ("find", "check"):
            config["setup"] = {**(config.get("setup") or {}), "log_to": args.log_to}
        elif args.kind == "train":
            config["log_to"] = args.log_to
        else:
            raise LrlabError(f"--log-to: a {args.kind} job is not logged to trackers")
    with Store(args.db) as store:
        job_id = submit(store, args.kind, config)
        workers = store.live_workers()
    if args.json:
        print(json.dumps({"id": job_id, "kind": args.kind, "status": "queued"}))
    else:
        print(job_id)
    if not workers:
        note("note: no live worker; start one with `lrlab worker`")
    return 0


def _cmd_jobs(args: argparse.Namespace) -> int:
    from lrlab.jobs.kinds import reap
    from lrlab.store import Store, format_time

    with Store(args.db) as store:
        reap(store)
        jobs = store.list_jobs(None if args.all else 20, kind=args.kind, status=args.status)
    if not jobs:
        print("no jobs")
        return 0
    rows = [("ID", "KIND", "STATUS", "PROGRESS", "CREATED", "WORKER", "MESSAGE")]
    for job in jobs:
        note = job.error.splitlines()[0] if job.error else job.message
        rows.append(
            (
                str(job.id),
                job.kind,
                job.status,
                f"{job.progress:.0%}",
                format_time(job.created).removesuffix(" UTC"),
                job.worker or "-",
                note[:60],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())
    return 0


def describe_job(store: Store, job: Job) -> list[str]:
    """The lines of `lrlab show`: status, timing, config, last metrics, and result or error."""
    from lrlab.store import format_time

    lines = [
        f"job {job.id} ({job.kind}): {job.status}, {job.progress:.0%} - {job.message}",
        f"  created   {format_time(job.created)}",
        f"  started   {format_time(job.started)}",
        f"  finished  {format_time(job.finished)}",
    ]
    if job.worker:
        beat = f", last heartbeat {time.time() - job.heartbeat:.0f} s ago" if job.heartbeat else ""
        lines.append(f"  worker    {job.worker}{beat if job.status == 'running' else ''}")
    if job.cancel_requested and job.status == "running":
        lines.append("  cancel requested; waiting for the run to stop")
    lines.append(f"  config    {json.dumps(job.config, sort_keys=True)}")
    latest: dict[tuple[str, str], tuple[int, float]] = {}
    for metric in store.metrics_since(job.id, after_seq=max(0, job.last_seq - 200)):
        latest[(metric.scope, metric.key)] = (metric.step, metric.value)
    for scope in ("step", "epoch"):
        values = {key: v for (s, key), v in latest.items() if s == scope}
        if values:
            index = max(step for step, _ in values.values())
            shown = ", ".join(f"{key}={value:.4g}" for key, (_, value) in sorted(values.items()))
            lines.append(f"  last {scope} {index}: {shown}")
    lines.append(f"  metrics   {job.last_seq} values stored")
    if job.error:
        lines.append(f"  error     {job.error}")
    if job.result:
        lines.append(f"  result    {_summarise(job.result)}")
    return lines


def _summarise(result: dict[str, Any]) -> str:
    """Scalars in full, containers by size, so a result with a long curve stays on one screen."""
    parts = []
    for key, value in result.items():
        if isinstance(value, dict):
            parts.append(f"{key}={{{len(value)} fields}}")
        elif isinstance(value, list):
            parts.append(f"{key}=[{len(value)} values]")
        elif isinstance(value, float):
            parts.append(f"{key}={value:.4g}")
        else:
            parts.append(f"{key}={value}")
    return ", ".join(parts)


def _cmd_show(args: argparse.Namespace) -> int:
    from lrlab.jobs.kinds import reap
    from lrlab.store import Store

    with Store(args.db) as store:
        reap(store)
        job = store.get(args.job_id)
        if args.json:
            record = {name: getattr(job, name) for name in job.__dataclass_fields__}
            print(json.dumps(record, indent=2, sort_keys=True))
        else:
            print("\n".join(describe_job(store, job)))
    return 0


def _cmd_cancel(args: argparse.Namespace) -> int:
    from lrlab.store import Store

    with Store(args.db) as store:
        status = store.request_cancel(args.job_id)
    messages = {
        "cancelled": f"job {args.job_id} cancelled",
        "running": f"job {args.job_id}: cancel requested; its worker will stop it",
    }
    print(messages.get(status, f"job {args.job_id} already {status}; nothing to cancel"))
    return 0


def _cmd_delete(args: argparse.Namespace) -> int:
    from lrlab.store import Store

    with Store(args.db) as store:
        store.delete(args.job_id)
    print(f"job {args.job_id} deleted")
    return 0


def _cmd_export_run(args: argparse.Namespace) -> int:
    from lrlab.core.tracking_targets import parse_target
    from lrlab.store import Store
    from lrlab.trackers import export_run

    targets = [parse_target(text, "--to") for text in args.to]  # all checked before writing
    with Store(args.db) as store:
        for target in targets:
            written = export_run(store, args.job_id, str(target))
            jobs = ", ".join(f"#{i}" for i in written)
            print(f"job {jobs} written to {target} ({target.location()})")
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    from lrlab.store import Store

    if args.check:
        from lrlab.jobs.supervisor import check_workers

        with Store(args.db) as store:
            report = check_workers(store)
        print(report)
        return 0
    import os

    from lrlab.jobs.worker import Worker, WorkerOptions
    from lrlab.tasks.loading import check_spec

    if args.executor is None:  # the flag wins over the environment, which wins over local
        args.executor = os.environ.get("LRLAB_EXECUTOR") or None
    settings = options.flag_values(args, WORKER_FLAGS)
    if settings["worker.nice"]:
        os.nice(settings["worker.nice"])  # inherited by every job process this worker spawns
    if settings["worker.threads"]:  # read by torch as each spawned job process imports it
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(
            settings["worker.threads"])
    Worker(WorkerOptions(
        db_url=args.db,
        device=args.device,
        once=args.once,
        poll_s=settings["worker.poll"],
        heartbeat_timeout_s=settings["worker.heartbeat_timeout"],
        cancel_grace_s=settings["worker.cancel_grace"],
        exit_with_pid=args.exit_with,
        executor=settings["worker.executor"],
        ray_address=settings["worker.ray_address"],
        gpus_per_job=settings["worker.gpus"],
        artifacts=settings["worker.artifacts"],
        tasks=tuple(check_spec(spec, "--task") for spec in args.tasks),
    )).run()
    return 0
