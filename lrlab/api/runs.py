"""`lrlab.find`, `lrlab.check` and `lrlab.train`: the command line's three steps as Python calls,
run in your own process (a notebook, a script) on your own task, returning the same results.

Each call is kept in the job store while it runs (see lrlab.api.recording), so the app shows its
curve, advice and verdict live; `record=False` keeps it to this process.

A task is named by its spec (``"package.module:function"``) or given as the factory itself: a
function defined in a notebook is ``__main__:build``, which this process can build again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lrlab.api.recording import recorded
from lrlab.core.errors import LrlabError
from lrlab.core.reporting import Reporter
from lrlab.trackers import tracking

TaskLike = str | Callable[..., Any]


def task_spec(task: TaskLike) -> str:
    """The spec of a task given by spec or by its factory."""
    if isinstance(task, str):
        return task
    name = getattr(task, "__qualname__", "")
    if callable(task) and getattr(task, "__module__", None) and name and "<" not in name:
        return f"{task.__module__}:{name}"
    raise LrlabError(f"task: expected a spec 'package.module:function' or the factory itself "
                     f"(a module-level function returning an lrlab.Task), got {task!r}")


def task_setup(task: TaskLike, args: Mapping[str, Any] | None = None,
               optimizer: str | Mapping[str, Any] | None = None,
               **settings: Any) -> dict[str, Any]:
    """A task's training config (lrlab.train/4) from keyword arguments; None leaves a field at
    its default. `optimizer` is a name ("adamw") or its section; `lr` and `weight_decay` go
    into that section."""
    section = {"name": optimizer} if isinstance(optimizer, str) else dict(optimizer or {})
    for key in ("lr", "weight_decay", "momentum"):
        value = settings.pop(key, None)
        if value is not None:
            section[key] = value
    config = {"task": {"spec": task_spec(task), "args": dict(args or {})},
              **{k: v for k, v in settings.items() if v is not None}}
    if section:
        config["optimizer"] = section
    return config


def find(task: TaskLike, *, args: Mapping[str, Any] | None = None,
         optimizer: str | Mapping[str, Any] | None = None, weight_decay: float | None = None,
         momentum: float | None = None, epochs: int | None = None,
         max_steps: int | None = None, accumulation_steps: int | None = None,
         precision: str | None = None, device: str | None = None, seed: int | None = None,
         num_points: int | None = None, start_lr: float | None = None,
         end_lr: float | None = None, seeds: int | None = None,
         log_to: str | list[str] | None = None, record: bool = True, db: str | None = None,
         reporter: Reporter | None = None) -> dict[str, Any]:
    """The range test of your task, with every rule's suggestion, trust and advice sized to
    the run (`epochs` or `max_steps`): the `lrlab.range_test/2` result `lrlab find` writes.
    `log_to` names trackers to follow it (``"tensorboard[:DIR]"``, ``"mlflow[:URI]"``)."""
    from lrlab.finder.job import run_from_config, validate_config

    setup = task_setup(task, args, optimizer, weight_decay=weight_decay, momentum=momentum,
                       epochs=epochs, max_steps=max_steps,
                       accumulation_steps=accumulation_steps, precision=precision,
                       device=device, seed=seed, log_to=log_to)
    sweep = {"num_points": num_points, "start_lr": start_lr, "end_lr": end_lr, "seeds": seeds}
    config = validate_config({"setup": setup, **{k: v for k, v in sweep.items()
                                                 if v is not None}})
    with recorded("find", config, record=record, db=db, reporter=reporter) as run, \
            tracking("find", config, run.reporter, run.job_id) as tracked:
        result = run_from_config(config, tracked.reporter)
        cancelled = result.get("stop_reason") == "cancelled"
        tracked.ended(result, "cancelled" if cancelled else "succeeded")
        run.finish(result, cancelled=cancelled)
    return {**result, "job": run.job_id}


def check(found: Mapping[str, Any], *, advice: str = "onecycle", points: int | None = None,
          span: float | None = None, epochs: int | None = None, fraction: float | None = None,
          seeds: int | None = None, baselines: str | list[str] | None = None,
          log_to: str | list[str] | None = None, record: bool = True, db: str | None = None,
          reporter: Reporter | None = None) -> dict[str, Any]:
    """Short runs at a ladder of LRs around a range test's advice (the result `find` gave),
    ranked by the task's objective, with the LR-free `baselines` ("prodigy", ...) trained
    beside it: the `lrlab.check/4` result `lrlab check` writes. Its trackers are the range
    test's unless `log_to` names others."""
    from lrlab import lr_check

    if not isinstance(found, Mapping) or "advice" not in found:
        raise LrlabError("found: expected the result of lrlab.find (a range test with advice)")
    ladder = lr_check.from_range_test(found, advice=advice, job=found.get("job"))
    if log_to is not None:
        ladder["setup"] = {**ladder["setup"], "log_to": log_to}
    chosen = {"points": points, "span": span, "epochs": epochs, "fraction": fraction,
              "seeds": seeds, "baselines": baselines}
    config = lr_check.validate_config(lr_check.with_budget(ladder, chosen))
    with recorded("check", config, record=record, db=db, reporter=reporter) as run, \
            tracking("check", config, run.reporter, run.job_id) as tracked:
        result = lr_check.run_locally(config, tracked.reporter, train_point=tracked.point)
        tracked.ended(result)
        run.finish(result)
    return {**result, "job": run.job_id}


def train(task: TaskLike, *, args: Mapping[str, Any] | None = None,
          lr: float | None = None, schedule: Mapping[str, Any] | None = None,
          optimizer: str | Mapping[str, Any] | None = None, weight_decay: float | None = None,
          momentum: float | None = None, epochs: int | None = None,
          max_steps: int | None = None, accumulation_steps: int | None = None,
          grad_clip: float | None = None, eval_every: int | None = None,
          precision: str | None = None, device: str | None = None, seed: int | None = None,
          schedule_fit: str | None = None, out: str | Path | None = None,
          log_to: str | list[str] | None = None, record: bool = True, db: str | None = None,
          reporter: Reporter | None = None) -> dict[str, Any]:
    """Train your task at `lr` or on `schedule` (an advised one: `found["advice"]["onecycle"]`,
    stretched to the run unless `schedule_fit` says otherwise): the result `lrlab train` gives,
    with a run folder when `out` is given."""
    from lrlab.tasks.task_config import validate_config
    from lrlab.training.job import train as train_config

    if schedule is not None and schedule_fit is None:
        schedule_fit = "stretch"
    config = validate_config(task_setup(
        task, args, optimizer, lr=lr, weight_decay=weight_decay, momentum=momentum,
        schedule=dict(schedule) if schedule is not None else None, epochs=epochs,
        max_steps=max_steps, accumulation_steps=accumulation_steps, grad_clip=grad_clip,
        eval_every=eval_every, precision=precision, device=device, seed=seed,
        schedule_fit=schedule_fit, log_to=log_to))
    with recorded("train", config, record=record, db=db, reporter=reporter) as run, \
            tracking("train", config, run.reporter, run.job_id) as tracked:
        result = train_config(config, tracked.reporter, Path(out) if out is not None else None)
        cancelled = result["summary"]["stop_reason"].startswith("cancelled")
        tracked.ended(result, "cancelled" if cancelled else "succeeded")
        run.finish(result, cancelled=cancelled)
    return {**result, "job": run.job_id}
