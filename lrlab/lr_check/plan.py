"""The ladder an LR check trains: its peak LRs, each point's training config, the jobs it
queues, and the config that trains the best point for the whole run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrlab.lr_check.config import budget_epochs, seeds_of
from lrlab.schedules import Schedule
from lrlab.schedules.fit import scale_lr


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


def runs(cfg: Mapping[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(point, training config) of every run, point by point: each point's seeds in turn."""
    return [(point, {**point["config"], "seed": point["config"]["seed"] + k})
            for point in points(cfg) for k in range(seeds_of(cfg))]


def children(cfg: Mapping[str, Any], ladder_id: int) -> list[tuple[str, dict[str, Any]]]:
    """The jobs a ladder queues: one training run per point and seed (the store's group
    submit), each naming the ladder it belongs to (and the range test the ladder came from)
    in its origin."""
    origin = {**(cfg["setup"].get("origin") or {"range_test": None}), "check": ladder_id}
    return [("train", {**config, "origin": origin}) for _, config in runs(cfg)]


def best_training_config(cfg: Mapping[str, Any], result: Mapping[str, Any]) -> dict[str, Any]:
    """The setup at the ladder's best peak LR, for the planned run (its epochs, and its schedule
    before it was stretched to the budget): what "train with the best LR" trains."""
    point = next(p for p in points(cfg) if p["factor"] == result["best"]["factor"])
    return {**point["config"], "epochs": cfg["setup"]["epochs"],
            "schedule_fit": cfg["setup"]["schedule_fit"]}
