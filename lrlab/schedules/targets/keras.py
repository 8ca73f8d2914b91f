"""Keras 3: `keras.optimizers.schedules` objects, as code and as `get_config()` JSON.

A Keras optimizer calls its schedule with `iterations`, the number of updates already applied,
so update t uses schedule(t) as lrlab does. Only CosineDecay has a warmup (linear, from
initial_learning_rate to warmup_target); PiecewiseConstantDecay switches after a boundary
(step <= b keeps the earlier value), so boundaries are exported as m - 1. `_lr` mirrors each
class's `__call__` in float64; Keras computes in its floatx, float32 unless set otherwise.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

from lrlab.schedules.config import ScheduleError
from lrlab.schedules.schedule import Schedule
from lrlab.schedules.targets import Export
from lrlab.schedules.targets.exactness import APPROXIMATE, measure
from lrlab.schedules.targets.table import lr_table

FLOAT32_NOTE = ("Keras computes schedules in its floatx: exact with "
                "keras.config.set_floatx('float64'); in float32, its default, values round to "
                "about 6e-8 relative.")


def native(s: Schedule) -> dict[str, Any] | None:
    """{"class_name", "config"} of a Keras schedule equal to the schedule, or None."""
    p, eta, T, W = s.params, s.effective_base_lr, s.main_steps, s.warmup_steps
    warmup = s.config.get("warmup")
    if s.hold_steps or (warmup is not None and warmup["shape"] != "linear"):
        return None
    if s.kind in ("cosine", "constant"):
        alpha = 1.0 if s.kind == "constant" else p["min_lr"] / eta
        config = {"initial_learning_rate": eta * warmup["start_factor"] if warmup else eta,
                  "decay_steps": T, "alpha": alpha, "warmup_target": eta if warmup else None,
                  "warmup_steps": W}
        return {"class_name": "CosineDecay", "config": config}
    if W:
        return None
    if s.kind == "sgdr":
        return {"class_name": "CosineDecayRestarts", "config": {
            "initial_learning_rate": eta, "first_decay_steps": p["T_0"],
            "t_mul": float(p["T_mult"]), "m_mul": p["decay"], "alpha": p["min_lr"] / eta}}
    if s.kind in ("step", "exponential"):
        return {"class_name": "ExponentialDecay", "config": {
            "initial_learning_rate": eta, "decay_steps": p.get("step_size", 1),
            "decay_rate": p["gamma"], "staircase": s.kind == "step"}}
    if s.kind == "multistep":
        return _piecewise([m - 1 for m in p["milestones"]],
                          [eta * p["gamma"] ** k for k in range(len(p["milestones"]) + 1)])
    if s.kind == "piecewise" and p["interpolation"] == "constant":
        return _piecewise([b - 1 for b in p["boundaries"]], [eta * v for v in p["values"]])
    if s.kind in ("polynomial", "linear"):
        end = p["min_lr"] if s.kind == "polynomial" else eta * p["end_factor"]
        return {"class_name": "PolynomialDecay", "config": {
            "initial_learning_rate": eta, "decay_steps": T, "end_learning_rate": end,
            "power": p.get("power", 1.0), "cycle": False}}
    if s.kind == "power" and p["c"] == 1.0:
        return {"class_name": "InverseTimeDecay", "config": {
            "initial_learning_rate": eta, "decay_steps": p["s"], "decay_rate": 1.0,
            "staircase": False}}
    return None


def _piecewise(boundaries: list[int], values: list[float]) -> dict[str, Any]:
    return {"class_name": "PiecewiseConstantDecay",
            "config": {"boundaries": boundaries, "values": values}}


def table_schedule(table: list[float]) -> dict[str, Any]:
    """PiecewiseConstantDecay holding table[t] at step t."""
    if len(table) == 1:
        return _piecewise([0], [table[0], table[0]])
    return _piecewise(list(range(len(table) - 1)), table)


def _cosine(c: dict[str, Any], t: float) -> float:
    init, D = c["initial_learning_rate"], float(c["decay_steps"])
    if c["warmup_target"] is None:
        step = min(t, D)
        return init * ((1 - c["alpha"]) * (0.5 * (1.0 + math.cos(math.pi * (step / D))))
                       + c["alpha"])
    target, W = c["warmup_target"], float(c["warmup_steps"])
    step = min(t, D + W)
    if step < W:
        return (target - init) * (step / W) + init
    x = (step - W) / D
    return target * ((1 - c["alpha"]) * (0.5 * (1.0 + math.cos(math.pi * x))) + c["alpha"])


def _restarts(c: dict[str, Any], t: float) -> float:
    fraction = t / c["first_decay_steps"]
    t_mul, m_mul, alpha = c["t_mul"], c["m_mul"], c["alpha"]
    if t_mul == 1.0:
        i = math.floor(fraction)
        fraction -= i
    else:
        i = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
        fraction = (fraction - (1.0 - t_mul ** i) / (1.0 - t_mul)) / t_mul ** i
    decayed = 0.5 * m_mul ** i * (1.0 + math.cos(math.pi * fraction))
    return c["initial_learning_rate"] * ((1 - alpha) * decayed + alpha)


def _lr(schedule: dict[str, Any], t: int) -> float:
    """What the Keras schedule returns at step t (float64)."""
    c, name = schedule["config"], schedule["class_name"]
    if name == "CosineDecay":
        return _cosine(c, float(t))
    if name == "CosineDecayRestarts":
        return _restarts(c, float(t))
    if name == "ExponentialDecay":
        p = t / c["decay_steps"]
        return c["initial_learning_rate"] * c["decay_rate"] ** (math.floor(p) if c["staircase"]
                                                                  else p)
    if name == "PiecewiseConstantDecay":
        b, v = c["boundaries"], c["values"]
        if t <= b[0]:
            return v[0]
        if t > b[-1]:
            return v[-1]
        return next(v[i + 1] for i in range(len(b) - 1) if b[i] < t <= b[i + 1])
    if name == "PolynomialDecay":
        step = min(float(t), float(c["decay_steps"]))
        p = step / c["decay_steps"]
        return ((c["initial_learning_rate"] - c["end_learning_rate"]) * (1 - p) ** c["power"]
                + c["end_learning_rate"])
    if name == "InverseTimeDecay":
        return c["initial_learning_rate"] / (1.0 + c["decay_rate"] * (t / c["decay_steps"]))
    raise ValueError(name)


def values(schedule: dict[str, Any], steps: int) -> list[float]:
    if schedule["class_name"] == "PiecewiseConstantDecay":  # a table: index instead of scan
        b, v = schedule["config"]["boundaries"], schedule["config"]["values"]
        if b == list(range(len(b))):
            return [v[min(t, len(v) - 1)] for t in range(steps)]
    return [_lr(schedule, t) for t in range(steps)]


_CODE = '''"""lrlab schedule for Keras 3: {name}, {total} updates{via}.
lrlab measured it {sentence}
"""
import keras

CONFIG = {config}

schedule = keras.optimizers.schedules.deserialize(CONFIG)
optimizer = keras.optimizers.SGD(learning_rate=schedule)  # or any Keras optimizer
'''


def _export(s: Schedule, target: str, schedule: dict[str, Any], table: bool) -> Export:
    momentum = ("not carried: Keras optimizers take a fixed momentum / beta_1"
                if s.momentum([0]) is not None else "")
    exactness = measure(s, values(schedule, s.total_steps), table=table, note=FLOAT32_NOTE)
    config = {"module": "keras.optimizers.schedules", "class_name": schedule["class_name"],
              "config": {**schedule["config"], "name": schedule["class_name"]},
              "registered_name": None}
    text = _CODE.format(name=schedule["class_name"], total=s.total_steps,
                        via=" (a table of lrlab's values)" if table else "",
                        config=json.dumps(config, indent=4).replace("null", "None")
                        .replace("true", "True").replace("false", "False"),
                        sentence=exactness.sentence())
    return Export(target, text, "keras_schedule.py", "text/x-python", exactness, momentum,
                  config)


def export_native(s: Schedule, target: str) -> Export | None:
    """One of Keras's schedules, or None where none matches."""
    schedule = native(s)
    return None if schedule is None else _export(s, target, schedule, table=False)


def export_table(s: Schedule, target: str) -> Export:
    """PiecewiseConstantDecay holding lrlab's LR at every step."""
    return _export(s, target, table_schedule(lr_table(s)), table=True)


def machine_form(result: Export, file_format: str) -> Export:
    """The serialized schedule as JSON or YAML, what `keras.optimizers.schedules.deserialize`
    reads (a table form is a PiecewiseConstantDecay holding every value); refused where the
    chosen form is not exact."""
    if result.exactness.label == APPROXIMATE:
        raise ScheduleError(f"--format {file_format}: this Keras form is "
                            f"{result.exactness.label}, and a file never trains another "
                            "schedule; use --form auto (exact, via a table where needed)")
    if file_format == "json":
        text = json.dumps(result.args, indent=2) + "\n"
    else:
        import yaml

        text = yaml.safe_dump(result.args, sort_keys=False)
    return replace(result, text=text, filename=f"keras_schedule.{file_format}",
                   mime="application/json" if file_format == "json" else "application/yaml")
