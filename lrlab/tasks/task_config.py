"""The task form of the training config (``lrlab.train/4`` with ``task``): your own model, data,
loss and metric, trained with lrlab's optimizer, schedule, precision and accumulation.

```yaml
format: lrlab.train/4
task: {spec: examples.char_lm:build, args: {hidden: 128}}
optimizer: {name: adamw, lr: 0.003, weight_decay: 0.01}
epochs: 3                  # passes over task.train, or
max_steps: null            # exactly this many updates (the loader cycled as needed)
batches_per_epoch: null    # unset: the loader's length
schedule: null             # an lrlab.schedule/1; unset: the LR stays at optimizer.lr
schedule_fit: refuse       # refuse | stretch | keep, when the schedule's length is not the run's
accumulation_steps: 1
grad_clip: null
eval_every: null           # updates between evaluations; unset: after each epoch
precision: auto            # fp16 + GradScaler on CUDA, fp32 on CPU; bf16 on request
seed: 0
device: auto
nproc: 1                   # data-parallel processes (the task's loader split between them)
log_to: null               # [tensorboard[:DIR], mlflow[:URI]]; unset: LRLAB_LOG_TO
```

Checked without importing the task: a spec is code, and whoever only validates (a page, the
queue) must not run it. The task is built where the run happens (lrlab.tasks.loading).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrlab.core import options
from lrlab.core.errors import LrlabError
from lrlab.core.validation import refuse_unknown, require_mapping
from lrlab.tasks.loading import check_spec
from lrlab.tasks.optimizer_config import validate_optimizer
from lrlab.tasks.train_format import FORMAT, TASK_READS, validate_origin

CHECKED = ("epochs", "max_steps", "batches_per_epoch", "schedule_fit", "accumulation_steps",
           "grad_clip", "eval_every", "precision", "seed", "nproc", "log_to")
DEFAULTS: dict[str, Any] = {
    "format": FORMAT, "task": None, "optimizer": None,
    **options.defaults("", CHECKED), "schedule": None, "device": "auto", "origin": None,
}


def is_task(config: Any) -> bool:
    """Whether a training config is the task form (it names a task)."""
    return isinstance(config, Mapping) and config.get("task") is not None


def validate_task(value: Any) -> dict[str, Any]:
    """``{"spec": "package.module:function", "args": {...}}``, checked, never imported."""
    task = require_mapping(value, "task")
    refuse_unknown(task, ("spec", "args"), "task")
    args = task.get("args") or {}
    if not isinstance(args, Mapping) or not all(isinstance(k, str) and k.isidentifier()
                                                 for k in args):
        raise LrlabError(f"task.args: expected a mapping of argument names to values, got "
                         f"{args!r}")
    return {"spec": check_spec(task.get("spec")), "args": dict(args)}


def validate_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The task config with defaults filled in; every mistake raises LrlabError naming it."""
    cfg = {**DEFAULTS, **require_mapping(config, "train config")}
    refuse_unknown(cfg, DEFAULTS, "train config (with a task: model, dataset and tricks belong "
                                  "to the built-in image classification)")
    if cfg["format"] not in TASK_READS:
        raise LrlabError(f"format: a task needs {' or '.join(map(repr, TASK_READS))}, got "
                         f"{cfg['format']!r}")
    cfg["format"] = FORMAT
    cfg["task"] = validate_task(cfg["task"])
    cfg["optimizer"] = validate_optimizer(cfg["optimizer"])
    cfg.update(options.check(cfg, CHECKED))
    cfg["origin"] = validate_origin(cfg["origin"])
    if not isinstance(cfg["device"], str):
        raise LrlabError(f"device: expected auto, cpu, cuda[:N] or mps, got {cfg['device']!r}")
    if cfg["schedule"] is not None:
        from lrlab.schedules import Schedule

        cfg["schedule"] = Schedule.from_dict(require_mapping(cfg["schedule"],
                                                             "schedule")).to_dict()
    return cfg


def updates_per_epoch(cfg: Mapping[str, Any], batches: int | None) -> int | None:
    """Optimizer updates in one epoch: its batches (`batches_per_epoch`, else the loader's
    `batches`) over the accumulation steps; None when neither is known."""
    batches = cfg["batches_per_epoch"] or batches
    return None if batches is None else max(1, batches // cfg["accumulation_steps"])


def planned_updates(cfg: Mapping[str, Any], batches: int | None = None) -> int:
    """The updates a run of this task config makes: `max_steps`, else its epochs' updates."""
    if cfg["max_steps"] is not None:
        return cfg["max_steps"]
    per_epoch = updates_per_epoch(cfg, batches)
    if per_epoch is None:
        raise LrlabError(f"batches_per_epoch: how many batches an epoch of task "
                         f"{cfg['task']['spec']!r} holds is not known (its loader has no "
                         "length, or the task is not built here); give batches_per_epoch or "
                         "max_steps")
    return cfg["epochs"] * per_epoch


def planned_schedule(cfg: Mapping[str, Any], total: int) -> tuple[Any, dict[str, Any]]:
    """The config's schedule fitted to the run's `total` updates (lrlab.schedules.fit), or a
    constant LR at optimizer.lr when it names none: exactly what the run steps through."""
    from lrlab.schedules import Schedule
    from lrlab.schedules.fit import fit_to_run

    schedule = Schedule.from_dict(cfg["schedule"] or {
        "format": "lrlab.schedule/1", "total_steps": total, "base_lr": cfg["optimizer"]["lr"],
        "main": {"kind": "constant"}})
    return fit_to_run(schedule, total, cfg["schedule_fit"])


def known_plan(cfg: Mapping[str, Any]) -> tuple[Any, dict[str, Any]] | None:
    """What `planned_schedule` gives, where the run's updates are known without building the
    task (`max_steps`, or `batches_per_epoch`); None where only the worker can count them."""
    if cfg["max_steps"] is None and cfg["batches_per_epoch"] is None:
        return None
    return planned_schedule(cfg, planned_updates(cfg))
