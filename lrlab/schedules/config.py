"""Validation of `lrlab.schedule/1` configs: every error names the field and what is allowed.

`normalize` returns the full config with defaults filled in and keys in canonical order, so
load -> save -> load round-trips exactly and two equal schedules have equal dicts.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

from lrlab.core.errors import LrlabError
from lrlab.core.options import Field
from lrlab.core.validation import refuse_unknown, require_mapping
from lrlab.schedules.spec import FORMAT, FORMAT_V2, FORMATS, KINDS, SETTINGS


class ScheduleError(LrlabError):
    """A schedule config that is not valid `lrlab.schedule/1`."""


TOP_FIELDS = ("format", "base_lr", "total_steps", "warmup", "hold_steps", "main", "scaling",
              "momentum", "batch")


def _check_keys(obj: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    refuse_unknown(obj, allowed, where or "schedule", ScheduleError)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    return require_mapping(value, where, ScheduleError)


def _checked(name: str, value: Any) -> Any:
    """A setting around the main phase, checked by its declaration in `spec.SETTINGS`."""
    return _field(SETTINGS[name], value, name)


def _field(f: Field, value: Any, where: str) -> Any:
    try:
        return f.check(value, where)
    except ScheduleError:
        raise
    except LrlabError as exc:
        raise ScheduleError(str(exc)) from None


def _strictly_increasing(values: list[int], where: str) -> None:
    for a, b in itertools.pairwise(values):
        if b <= a:
            raise ScheduleError(f"{where}: expected strictly increasing steps, got {values}")


def effective_base_lr(base_lr: float, scaling: Mapping[str, Any] | None) -> float:
    """base_lr × batch/reference_batch (linear, Goyal et al.) or its square root."""
    if not scaling:
        return base_lr
    ratio = scaling["batch"] / scaling["reference_batch"]
    return base_lr * (ratio if scaling["rule"] == "linear" else math.sqrt(ratio))


def normalize(config: Any) -> dict[str, Any]:
    """Check a config and return it complete (defaults filled) in canonical order."""
    config = _mapping(config, "schedule")
    _check_keys(config, TOP_FIELDS, "")
    if config.get("format") not in FORMATS:
        raise ScheduleError(f"format: expected {FORMAT!r} (or {FORMAT_V2!r} with a batch plan), "
                            f"got {config.get('format')!r}")
    for required in ("base_lr", "total_steps", "main"):
        if required not in config:
            raise ScheduleError(f"{required}: missing (required by {FORMAT})")
    base_lr = _checked("base_lr", config["base_lr"])
    total = _checked("total_steps", config["total_steps"])
    main_in = _mapping(config["main"], "main")
    kind_name = main_in.get("kind")
    if kind_name not in KINDS:
        raise ScheduleError(f"main.kind: expected one of {', '.join(KINDS)}, got {kind_name!r}")
    kind = KINDS[kind_name]
    _check_keys(main_in, ("kind", *(f.name for f in kind.fields)), "main")

    scaling = _scaling(config.get("scaling"))
    warmup = _warmup(config.get("warmup"), kind)
    hold = _checked("hold_steps", config.get("hold_steps", SETTINGS["hold_steps"].default))
    if hold and kind.own_warmup:
        raise ScheduleError(f"hold_steps: {kind_name} carries its own warmup; set hold_steps to 0")
    warm_steps = warmup["steps"] if warmup else 0
    if warm_steps + hold >= total:
        raise ScheduleError(f"warmup.steps + hold_steps ({warm_steps} + {hold}) must be less "
                            f"than total_steps ({total}) so the main phase has a step")
    main: dict[str, Any] = {"kind": kind_name}
    for f in kind.fields:
        main[f.name] = _field(f, main_in[f.name], f"main.{f.name}") if f.name in main_in \
            else f.default
    _check_main(kind_name, main, effective_base_lr(base_lr, scaling), total - warm_steps - hold)
    momentum = _momentum(config.get("momentum"), kind, main)
    batch = _batch(config.get("batch"), total)
    if batch and config["format"] != FORMAT_V2:
        raise ScheduleError(f"batch: a batch-size plan needs format {FORMAT_V2!r}")

    out: dict[str, Any] = {"format": FORMAT_V2 if batch else FORMAT, "base_lr": base_lr,
                           "total_steps": total}
    if warmup:
        out["warmup"] = warmup
    out["hold_steps"] = hold
    out["main"] = main
    if scaling:
        out["scaling"] = scaling
    if momentum:
        out["momentum"] = momentum
    if batch:
        out["batch"] = batch
    return out


def _scaling(value: Any) -> dict[str, Any] | None:
    """The batch-scaling block: a rule and the two batches it scales between."""
    if value is None:
        return None
    s = _mapping(value, "scaling")
    keys = ("rule", "reference_batch", "batch")
    _check_keys(s, keys, "scaling")
    for key in keys:
        if key not in s:
            raise ScheduleError(f"scaling.{key}: missing")
    return {key: _checked(f"scaling.{key}", s[key]) for key in keys}


def _batch(value: Any, total: int) -> dict[str, Any] | None:
    """The batch-size plan: the run's batch × factors[i] from step milestones[i] on. A constant
    plan is no plan (normalised away)."""
    if value is None:
        return None
    b = _mapping(value, "batch")
    _check_keys(b, ("kind", "milestones", "factors"), "batch")
    if b.get("kind") not in ("constant", "steps"):
        raise ScheduleError(f"batch.kind: expected one of constant, steps, got {b.get('kind')!r}")
    if b["kind"] == "constant":
        if set(b) - {"kind"}:
            raise ScheduleError("batch: a constant plan takes no milestones or factors")
        return None
    for key in ("milestones", "factors"):
        if key not in b:
            raise ScheduleError(f"batch.{key}: missing")
    milestones = _checked("batch.milestones", b["milestones"])
    factors = _checked("batch.factors", b["factors"])
    _strictly_increasing(milestones, "batch.milestones")
    if len(factors) != len(milestones):
        raise ScheduleError(f"batch.factors: expected one per milestone ({len(milestones)}), "
                            f"got {len(factors)}")
    if milestones[-1] >= total:
        raise ScheduleError(f"batch.milestones: {milestones[-1]} is not before total_steps "
                            f"({total})")
    return {"kind": "steps", "milestones": milestones, "factors": factors}


def _warmup(value: Any, kind: Any) -> dict[str, Any] | None:
    """The warmup block, refused for kinds that carry their own (onecycle, cyclic)."""
    if value is None:
        return None
    if kind.own_warmup:
        raise ScheduleError(f"warmup: {kind.name} carries its own warmup; remove the "
                            "warmup block")
    w = _mapping(value, "warmup")
    _check_keys(w, ("steps", "start_factor", "shape"), "warmup")
    if "steps" not in w:
        raise ScheduleError("warmup.steps: missing")
    warmup = {key: _checked(f"warmup.{key}", w.get(key, SETTINGS[f"warmup.{key}"].default))
              for key in ("steps", "start_factor", "shape")}
    if warmup["shape"] == "exponential" and warmup["start_factor"] == 0.0:
        raise ScheduleError("warmup.start_factor: an exponential warmup needs > 0 "
                            "(it multiplies its way up from start_factor)")
    return warmup


def _momentum(value: Any, kind: Any, main: Mapping[str, Any]) -> dict[str, float] | None:
    """A constant momentum, refused where the kind cycles momentum itself."""
    if value is None:
        return None
    m = _mapping(value, "momentum")
    _check_keys(m, ("value",), "momentum")
    if kind.cycles_momentum and main["cycle_momentum"]:
        raise ScheduleError(f"momentum: {kind.name} cycles momentum itself; set "
                            "main.cycle_momentum to false or remove the momentum block")
    return {"value": _checked("momentum.value", m.get("value"))}


def _check_main(kind: str, p: dict[str, Any], eta: float, T: int) -> None:
    """Rules that involve several fields, the effective base LR or the main phase's length."""
    if "min_lr" in p and p["min_lr"] > eta:
        raise ScheduleError(f"main.min_lr: {p['min_lr']:g} is above the effective base_lr "
                            f"{eta:g}")
    if kind == "multistep":
        _strictly_increasing(p["milestones"], "main.milestones")
    elif kind == "piecewise":
        _strictly_increasing(p["boundaries"], "main.boundaries")
        if len(p["values"]) != len(p["boundaries"]) + 1:
            raise ScheduleError(f"main.values: expected {len(p['boundaries']) + 1} values (one "
                                f"more than boundaries), got {len(p['values'])}")
        if p["boundaries"][-1] > T:
            raise ScheduleError(f"main.boundaries: {p['boundaries'][-1]} is past the main "
                                f"phase's {T} steps")
    elif kind == "onecycle":
        if p["pct_start"] * T <= 1 or (p["three_phase"] and 2 * p["pct_start"] * T - 2 >= T - 1):
            raise ScheduleError(f"main.pct_start: {p['pct_start']:g} × {T} steps leaves a phase "
                                "with no steps; use more steps or another pct_start")
        if p["base_momentum"] > p["max_momentum"]:
            raise ScheduleError("main.base_momentum: expected <= max_momentum")
    elif kind == "cyclic":
        if p["base_lr"] >= eta:
            raise ScheduleError(f"main.base_lr: the lower bound {p['base_lr']:g} must be below "
                                f"the effective base_lr {eta:g} (the upper bound)")
        if p["base_momentum"] > p["max_momentum"]:
            raise ScheduleError("main.base_momentum: expected <= max_momentum")
    elif kind == "wsd" and p["decay_steps"] > T:
        raise ScheduleError(f"main.decay_steps: {p['decay_steps']} is longer than the main "
                            f"phase ({T} steps)")
