"""The ladder an LR check trains: its peak LRs, each point's training config, the jobs it
queues, and the config that trains the best point for the whole run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrlab.core.baseline_table import Baseline, baseline_info
from lrlab.lr_check.config import budget_epochs, seeds_of
from lrlab.schedules import Schedule
from lrlab.schedules.fit import scale_lr
from lrlab.schedules.spec import FORMAT as SCHEDULE_FORMAT
from lrlab.tasks.setups import planned_updates


def round_lr(value: float) -> float:
    """12 significant digits: 0.1 x 0.1 reads 0.01 in a config, not 0.010000000000000002."""
    return float(f"{value:.12g}")


def factors(points: int, span: float) -> list[float]:
    """``points`` log-spaced factors from 1/span to span, plus 1 (the advice itself)."""
    if points == 1:
        return [1.0]
    exponents = [-1 + 2 * i / (points - 1) for i in range(points)]
    found = sorted({round(span ** e, 12) for e in exponents} | {1.0})
    return found


def point_count(cfg: Mapping[str, Any]) -> int:
    """How many points the ladder has (without building them)."""
    return len(factors(cfg["points"], cfg["span"]))


def peak_lr(setup: Mapping[str, Any]) -> float:
    """The LR the setup's schedule peaks at (its effective base LR): the given schedule's, or
    the paper's from optimizer.lr (linear scaling to the batch when that trick is on)."""
    if setup["schedule"] is not None:
        return Schedule.from_dict(setup["schedule"]).effective_base_lr
    lr = setup["optimizer"]["lr"]
    tricks = setup.get("tricks")  # a task has none: its LR is optimizer.lr
    if tricks is None:
        return lr
    return lr * setup["batch_size"] / tricks["reference_batch"] if tricks[
        "linear_scaling"] else lr


def points(cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each point's factor, peak LR and ``lrlab.train/4`` config: the setup at that peak, for
    the budget, its schedule stretched to the budget's updates."""
    setup = cfg["setup"]
    base = peak_lr(setup)
    center = cfg["lr"] if cfg["lr"] is not None else base
    epochs = budget_epochs(cfg)
    out = []
    for factor in factors(cfg["points"], cfg["span"]):
        ratio = round_lr(center / base * factor)  # this point's peak over the setup's
        lr = round_lr(base * ratio)
        train = {**setup, "epochs": epochs}
        if setup["schedule"] is not None:
            schedule = scale_lr(Schedule.from_dict(setup["schedule"]), ratio)
            train.update(schedule=schedule.to_dict(), schedule_fit="stretch")
        else:
            train["optimizer"] = {**setup["optimizer"],
                                  "lr": round_lr(setup["optimizer"]["lr"] * ratio)}
        out.append({"factor": factor, "lr": lr, "config": train})
    return out


def baselines(cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each LR-free baseline the ladder asked for: its name, title, the LR it trains at and
    its ``lrlab.train/4`` config, the setup with only the optimizer and its schedule changed
    (the same budget, seeds and data order as the points)."""
    out = []
    for name in cfg.get("baselines") or ():
        baseline = baseline_info(name)
        info = baseline.info
        out.append({"factor": None, "lr": info.default_lr, "baseline": name,
                    "title": info.title, "config": baseline_setup(cfg, baseline)})
    return out


def baseline_setup(cfg: Mapping[str, Any], baseline: Baseline,
                   epochs: int | None = None) -> dict[str, Any]:
    """The ladder's setup trained by `baseline`'s optimizer at its paper's LR, betas
    0.9/0.999 (each package's default), the setup's weight decay, and the schedule its authors
    recommend, over the budget (or `epochs`: the whole run, to train it)."""
    setup = cfg["setup"]
    info = baseline.info
    lr = float(info.default_lr or 1.0)
    train = {**setup, "epochs": epochs or budget_epochs(cfg),
             "optimizer": {**setup["optimizer"], "name": info.name, "lr": lr, "momentum": 0.9,
                           "nesterov": False, "betas": None}}
    if baseline.schedule == "setup" and setup["schedule"] is not None:
        schedule = scale_lr(Schedule.from_dict(setup["schedule"]), lr / peak_lr(setup))
        train.update(schedule=schedule.to_dict(), schedule_fit="stretch")
    elif baseline.schedule == "setup":  # the paper's schedule, built around optimizer.lr
        if setup.get("tricks") is not None:  # ... at that LR, not scaled with the batch
            train["tricks"] = {**setup["tricks"], "linear_scaling": False}
    else:
        # over the run's updates (as the run counts them, it stretches it to its own)
        total = max(1, round(planned_updates(setup) * train["epochs"] / setup["epochs"]))
        shape: dict[str, Any] = {"format": SCHEDULE_FORMAT, "base_lr": lr,
                                 "total_steps": total, "main": {"kind": "constant"}}
        warmup = round(baseline.warmup * total)
        if baseline.schedule == "cosine":
            shape["main"] = {"kind": "cosine", "min_lr": 0.0}
        elif baseline.schedule == "warmup_constant" and 1 <= warmup < total:
            shape["warmup"] = {"steps": warmup}
        train.update(schedule=Schedule.from_dict(shape).to_dict(), schedule_fit="stretch")
    return train


def runs(cfg: Mapping[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(point, training config) of every run, point by point, each point's seeds in turn, then
    each baseline's seeds (a baseline is a point without a factor: its ``baseline`` names it)."""
    return [(point, {**point["config"], "seed": point["config"]["seed"] + k})
            for point in [*points(cfg), *baselines(cfg)] for k in range(seeds_of(cfg))]


def children(cfg: Mapping[str, Any], ladder_id: int) -> list[tuple[str, dict[str, Any]]]:
    """The jobs a ladder queues: one training run per point and seed, then per baseline and
    seed (the store's group submit), each naming the ladder it belongs to (and the range test
    the ladder came from) in its origin."""
    origin = {**(cfg["setup"].get("origin") or {"range_test": None}), "check": ladder_id}
    return [("train", {**config, "origin": origin}) for _, config in runs(cfg)]


def best_training_config(cfg: Mapping[str, Any], result: Mapping[str, Any],
                         baseline: str | None = None) -> dict[str, Any]:
    """The setup at the ladder's best peak LR, or trained by `baseline`, for the planned run
    (its epochs, and a point's schedule before it was stretched to the budget): what "train
    with the best LR" and a baseline's "train with this" train."""
    if baseline is not None:
        return baseline_setup(cfg, baseline_info(baseline), epochs=cfg["setup"]["epochs"])
    point = next(p for p in points(cfg) if p["factor"] == result["best"]["factor"])
    return {**point["config"], "epochs": cfg["setup"]["epochs"],
            "schedule_fit": cfg["setup"]["schedule_fit"]}
