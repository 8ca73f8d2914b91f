"""The run a config plans: its length in updates and the schedule it trains, known before any
model is built, so the range test's advice, the LR check and the Training page size themselves
to the same run that training makes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrlab.schedules import Schedule
from lrlab.schedules.fit import fit_to_run

# The paper's baseline divides the LR by 10 at epochs 30, 60 and 90 of 120; a run without the
# cosine trick does the same at the same fractions of its own length.
STEP_DECAY_FRACTIONS = (0.25, 0.5, 0.75)


def build_schedule(cfg: Mapping[str, Any], steps_per_epoch: int) -> Schedule:
    """The config's own schedule, or the paper's: linear scaling, linear warmup from 0, then
    cosine (or step) decay over the remaining updates."""
    if cfg["schedule"] is not None:
        return Schedule.from_dict(cfg["schedule"])
    tricks = cfg["tricks"]
    total = cfg["epochs"] * steps_per_epoch
    config: dict[str, Any] = {"format": "lrlab.schedule/1", "base_lr": cfg["optimizer"]["lr"],
                              "total_steps": total}
    if tricks["linear_scaling"]:
        config["scaling"] = {"rule": "linear", "reference_batch": tricks["reference_batch"],
                             "batch": cfg["batch_size"]}
    warmup = min(round(tricks["warmup_epochs"] * steps_per_epoch), total - 1)
    if warmup > 0:
        config["warmup"] = {"steps": warmup, "start_factor": 0.0, "shape": "linear"}
    main_steps = total - max(warmup, 0)
    if tricks["cosine"]:
        config["main"] = {"kind": "cosine", "min_lr": 0.0}
    else:
        milestones = sorted({round(main_steps * f) for f in STEP_DECAY_FRACTIONS} - {0})
        milestones = [m for m in milestones if m < main_steps]
        config["main"] = ({"kind": "multistep", "milestones": milestones, "gamma": 0.1}
                          if milestones else {"kind": "constant"})
    return Schedule.from_dict(config)


def fit_schedule(schedule: Schedule, cfg: Mapping[str, Any],
                 updates: int) -> tuple[Schedule, dict[str, Any]]:
    """A given schedule fitted to the run (lrlab.schedules.fit.fit_to_run); the paper's own,
    built from the config, fits by construction."""
    if cfg["schedule"] is None:
        return schedule, {"mode": "fits", "schedule_steps": schedule.total_steps,
                          "run_updates": updates}
    return fit_to_run(schedule, updates, cfg["schedule_fit"],
                      f" ({cfg['epochs']} epochs of the {cfg['dataset']} training split at "
                      f"batch {cfg['batch_size']})")


def planned_updates(cfg: Mapping[str, Any], train_examples: int | None = None) -> int:
    """The optimizer updates a run of this (validated) config makes: its training loader's
    batches over its epochs, a batch plan followed. Counts the training split from its labels
    (train_examples) unless given: no image is decoded, so a page can ask before queueing."""
    from lrlab.tasks.image.data import EpochPlan  # torch: when a run is counted, not on import
    from lrlab.tasks.image.data import train_examples as count

    n = train_examples if train_examples is not None else count(
        cfg["dataset"], root=cfg["data_root"], download=cfg["download"],
        val_fraction=cfg["val_fraction"], seed=cfg["seed"], limit=cfg["limit"])
    plan = EpochPlan(n, cfg["batch_size"], shuffle=False, drop_last=True, seed=cfg["seed"])
    if cfg["schedule"] is not None:
        follow_batch_plan(plan, Schedule.from_dict(cfg["schedule"]), cfg["batch_size"])
    return plan.planned_updates(cfg["epochs"])


def follow_batch_plan(loader: Any, schedule: Schedule, batch_size: int) -> None:
    """A batch-size plan: the loader follows it update by update."""
    if schedule.config.get("batch"):
        loader.follow_plan(lambda update: schedule.batch_size(update, batch_size))


def planned_schedule(cfg: Mapping[str, Any]) -> tuple[Schedule, dict[str, Any]]:
    """The schedule a run of this validated config will train, update by update, and how it
    was fitted to the run: what the Training page draws before queueing, and what the run
    then records. A given schedule of another length than the run is refused here with both
    numbers (unless schedule_fit says stretch or keep), not only once the job runs."""
    per_epoch = planned_updates({**cfg, "schedule": None}) // cfg["epochs"]
    return fit_schedule(build_schedule(cfg, per_epoch), cfg, planned_updates(cfg))
