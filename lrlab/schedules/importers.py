"""Schedules written for other frameworks, read back as `lrlab.schedule/1` configs.

Accepted: Hugging Face `TrainingArguments` fields (lr_scheduler_type, lr_scheduler_kwargs,
warmup_steps or warmup_ratio, learning_rate, max_steps), timm `create_scheduler_v2` arguments
(with lr), and a Keras schedule's `get_config()` ({"class_name", "config"}), each as JSON, YAML
or the Python that lrlab's exports write. Python is read with `ast` for literal values only:
no code runs. Each reading is the inverse of the matching export, so export -> import gives the
schedule back.
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Mapping
from typing import Any

import yaml

from lrlab.core.config_files import load_yaml
from lrlab.schedules.config import ScheduleError
from lrlab.schedules.spec import FORMAT

SOURCES = ("hf", "timm", "keras")
_HF_WSD_SHAPES = {"linear": "linear", "cosine": "cosine", "1-sqrt": "sqrt"}


def parse_foreign(text: str, source: str | None = None, total_steps: int | None = None,
                  name: str = "<text>") -> dict[str, Any]:
    """An lrlab.schedule/1 config from another framework's schedule; `source` None detects it.
    `total_steps` sizes schedules that have no length of their own (Keras, timm's step)."""
    data = _mapping(text, name)
    if data.get("format") == FORMAT:
        raise ScheduleError(f"{name}: already an {FORMAT} file; load it as it is")
    source = source or detect(data)
    if source is None:
        raise ScheduleError(f"{name}: not a schedule lrlab can read: expected lrlab.schedule/1, "
                            "Hugging Face TrainingArguments (lr_scheduler_type), timm "
                            "create_scheduler_v2 arguments (sched) or a Keras schedule config "
                            "(class_name)")
    if source not in SOURCES:
        raise ScheduleError(f"--from: expected one of {', '.join(SOURCES)}, got {source!r}")
    required = {"hf": "lr_scheduler_type", "keras": "class_name"}.get(source)
    if required and required not in data:
        raise ScheduleError(f"{name}: {required}: missing (where a {source} schedule names "
                            "its kind)")
    read = {"hf": from_hf, "timm": from_timm, "keras": from_keras}[source]
    try:
        return read(data, total_steps)
    except ScheduleError as exc:
        raise ScheduleError(f"{name}: {exc}") from None
    except (TypeError, ValueError, AttributeError) as exc:  # a field of the wrong shape
        raise ScheduleError(f"{name}: not a {source} schedule lrlab can read ({exc})") from None


def detect(data: Mapping[str, Any]) -> str | None:
    """Which framework wrote this mapping; None for lrlab's own or unknown."""
    if "lr_scheduler_type" in data:
        return "hf"
    if "sched" in data or "sched" in data.get("kwargs", {}):
        return "timm"
    if "class_name" in data:
        return "keras"
    return None


def _mapping(text: str, name: str) -> dict[str, Any]:
    """JSON, YAML, or the literal arguments in lrlab's exported Python."""
    try:
        data = json.loads(text)
    except ValueError:
        try:
            data = load_yaml(text)
        except yaml.YAMLError:
            data = _from_python(text, name)
    if isinstance(data, str):  # a Python file is valid YAML: one long string
        data = _from_python(text, name)
    if not isinstance(data, dict):
        raise ScheduleError(f"{name}: expected a mapping, got {type(data).__name__}")
    return data


def _from_python(text: str, name: str) -> dict[str, Any]:
    """Keywords of TrainingArguments(...), create_scheduler_v2(...) or CONFIG = {...}."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        raise ScheduleError(f"{name}: not valid JSON, YAML or Python") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "CONFIG" for t in node.targets):
            return _literal(node.value, name)
        if isinstance(node, ast.Call):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(
                node.func, "id", "")
            if called == "TrainingArguments":
                return {kw.arg: _literal(kw.value, name) for kw in node.keywords if kw.arg}
            if called == "create_scheduler_v2":
                found = {kw.arg: _literal(kw.value, name) for kw in node.keywords if kw.arg}
                for kw in node.keywords:
                    if kw.arg is None:  # **{...}
                        found.update(_literal(kw.value, name))
                lr = _comment_lr(text)
                return {**found, **({"lr": lr} if lr is not None else {})}
    raise ScheduleError(f"{name}: no TrainingArguments(...), create_scheduler_v2(...) or "
                        "CONFIG = {...} with literal values found")


def _literal(node: ast.AST, name: str) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise ScheduleError(f"{name}: line {node.lineno}: only literal values can be read "
                            "(lrlab runs no code from files)") from None


def _comment_lr(text: str) -> float | None:
    """timm exports state the optimizer's LR as `lr=...` in a comment."""
    marker = "with lr="
    at = text.find(marker)
    if at < 0:
        return None
    return float(text[at + len(marker):].split()[0].rstrip(")"))


def _number(data: Mapping[str, Any], key: str, default: Any = None) -> Any:
    value = data.get(key, default)
    if value is None:
        raise ScheduleError(f"{key}: missing")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScheduleError(f"{key}: expected a number, got {value!r}")
    return value


def _whole(value: float, key: str) -> int:
    if float(value) != int(value):
        raise ScheduleError(f"{key}: expected a whole number of steps, got {value!r}")
    return int(value)


def _config(base_lr: float, total: int, main: dict[str, Any], warmup: int = 0,
            start_factor: float = 0.0) -> dict[str, Any]:
    config: dict[str, Any] = {"format": FORMAT, "base_lr": float(base_lr),
                              "total_steps": int(total), "main": main}
    if warmup:
        config["warmup"] = {"steps": int(warmup), "start_factor": float(start_factor),
                            "shape": "linear"}
    return config


# -- Hugging Face ---------------------------------------------------------------------------


def from_hf(data: Mapping[str, Any], total_steps: int | None = None) -> dict[str, Any]:
    """TrainingArguments' schedule fields -> lrlab.schedule/1."""
    kind = data["lr_scheduler_type"]
    kw = dict(data.get("lr_scheduler_kwargs") or {})
    lr = _number(data, "learning_rate", 5e-5)  # TrainingArguments' default
    if data.get("max_steps", -1) in (-1, None):
        if total_steps is None:
            raise ScheduleError("max_steps: missing (transformers sizes its schedule from it; "
                                "or give the run's length with --steps)")
        N = total_steps
    else:
        N = _whole(_number(data, "max_steps"), "max_steps")
    W = data.get("warmup_steps") or 0
    if not W and data.get("warmup_ratio"):
        W = math.ceil(N * _number(data, "warmup_ratio"))
    W = _whole(W, "warmup_steps")
    if kind == "warmup_stable_decay":
        D = _whole(kw.get("num_decay_steps", 0), "lr_scheduler_kwargs.num_decay_steps")
        ratio = kw.get("min_lr_ratio", 0.0)
        shape = _HF_WSD_SHAPES.get(kw.get("decay_type", "cosine"))
        if kw.get("warmup_type", "linear") != "linear" or shape is None:
            raise ScheduleError("lr_scheduler_kwargs: lrlab's WSD has a linear warmup and a "
                                "linear, cosine or 1-sqrt decay")
        if kw.get("num_cycles", 0.5) != 0.5:
            raise ScheduleError("lr_scheduler_kwargs.num_cycles: lrlab's cosine decay is half a "
                                "wave (0.5)")
        return _config(lr, N, {"kind": "wsd", "decay_steps": D, "decay_shape": shape,
                               "min_lr": ratio * lr}, W, ratio)
    if kind in ("constant", "constant_with_warmup"):
        return _config(lr, N, {"kind": "constant"}, W if kind != "constant" else 0)
    if kind == "linear":
        return _config(lr, N, {"kind": "linear", "end_factor": 0.0}, W)
    if kind in ("cosine", "cosine_with_min_lr"):
        if kw.get("num_cycles", 0.5) != 0.5:
            raise ScheduleError("lr_scheduler_kwargs.num_cycles: lrlab's cosine is half a wave "
                                "(0.5); use cosine_with_restarts for several")
        min_lr = kw.get("min_lr", kw.get("min_lr_rate", 0.0) * lr)
        return _config(lr, N, {"kind": "cosine", "min_lr": min_lr}, W)
    if kind == "polynomial":
        return _config(lr, N, {"kind": "polynomial", "power": kw.get("power", 1.0),
                               "min_lr": kw.get("lr_end", 1e-7)}, W)
    if kind == "inverse_sqrt":
        timescale = kw.get("timescale") or (W or 10_000)
        return _config(lr, N, {"kind": "inverse_sqrt", "timescale": float(timescale)}, W)
    if kind == "cosine_with_restarts":
        cycles = kw.get("num_cycles", 1)
        if (N - W) % cycles:
            raise ScheduleError(f"lr_scheduler_kwargs.num_cycles: {cycles} cycles do not split "
                                f"the {N - W} steps after warmup evenly")
        return _config(lr, N, {"kind": "sgdr", "T_0": (N - W) // cycles, "T_mult": 1}, W)
    raise ScheduleError(f"lr_scheduler_type: {kind!r} has no lrlab equivalent; lrlab reads "
                        "constant, constant_with_warmup, linear, cosine, cosine_with_min_lr, "
                        "cosine_with_restarts, polynomial, inverse_sqrt and warmup_stable_decay")


# -- timm -------------------------------------------------------------------------------------


def from_timm(data: Mapping[str, Any], total_steps: int | None = None) -> dict[str, Any]:
    """create_scheduler_v2 arguments (and lr) -> lrlab.schedule/1, counted in updates."""
    kw = {**data.get("kwargs", {}), **{k: v for k, v in data.items() if k != "kwargs"}}
    lr = _number(kw, "lr")
    if kw.get("step_on_epochs", True):
        raise ScheduleError("step_on_epochs: true steps the LR once per epoch; lrlab schedules "
                            "step per update: give step_on_epochs: false and updates_per_epoch")
    upe = _whole(_number(kw, "updates_per_epoch"), "updates_per_epoch")
    W = _whole(kw.get("warmup_epochs", 0) * upe, "warmup_epochs")
    if W and not kw.get("warmup_prefix", False):
        raise ScheduleError("warmup_prefix: false starts timm's main phase inside its warmup; "
                            "lrlab's follows it (set warmup_prefix: true)")
    sf = kw.get("warmup_lr", 1e-5) / lr if W else 0.0
    sched = kw.get("sched", "cosine")
    t_initial = _whole(kw.get("num_epochs", 300) * upe, "num_epochs")
    if sched in ("cosine", "poly"):
        limit, mul = kw.get("cycle_limit", 1), kw.get("cycle_mul", 1.0)
        if sched == "cosine" and (limit > 1 or mul != 1.0):
            T_mult = _whole(mul, "cycle_mul")
            lengths = [t_initial * T_mult ** i for i in range(limit)]
            total = total_steps or W + sum(lengths)
            return _config(lr, total, {"kind": "sgdr", "T_0": t_initial, "T_mult": T_mult,
                                       "min_lr": kw.get("min_lr", 0.0),
                                       "decay": kw.get("cycle_decay", 0.1)}, W, sf)
        if limit != 1 or mul != 1.0:
            raise ScheduleError("cycle_limit: lrlab's polynomial decay has one cycle")
        main = ({"kind": "cosine", "min_lr": kw.get("min_lr", 0.0)} if sched == "cosine" else
                {"kind": "polynomial", "power": kw.get("decay_rate", 0.1),
                 "min_lr": kw.get("min_lr", 0.0)})
        return _config(lr, W + t_initial, main, W, sf)
    total = total_steps or W + t_initial
    if sched == "constant":
        return _config(lr, total, {"kind": "constant"}, W, sf)
    if sched == "step":
        step = _whole(kw.get("decay_epochs", 90) * upe, "decay_epochs")
        return _config(lr, total, {"kind": "step", "step_size": step,
                                   "gamma": kw.get("decay_rate", 0.1)}, W, sf)
    if sched == "multistep":
        milestones = [_whole(m * upe, "decay_milestones") - 1
                      for m in kw.get("decay_milestones", (90, 180, 270))]
        return _config(lr, total, {"kind": "multistep", "milestones": milestones,
                                   "gamma": kw.get("decay_rate", 0.1)}, W, sf)
    raise ScheduleError(f"sched: {sched!r} has no lrlab equivalent; lrlab reads cosine, poly, "
                        "step, multistep and constant")


# -- Keras ------------------------------------------------------------------------------------


def from_keras(data: Mapping[str, Any], total_steps: int | None = None) -> dict[str, Any]:
    """A Keras schedule's serialized config -> lrlab.schedule/1."""
    name, c = data["class_name"], data.get("config", {})
    if name == "CosineDecay":
        D = _whole(_number(c, "decay_steps"), "config.decay_steps")
        init, alpha = _number(c, "initial_learning_rate"), c.get("alpha", 0.0)
        target, W = c.get("warmup_target"), _whole(c.get("warmup_steps", 0), "warmup_steps")
        peak = target if target is not None and W else init
        main = {"kind": "constant"} if alpha == 1.0 else {"kind": "cosine",
                                                          "min_lr": alpha * peak}
        return _config(peak, (total_steps or W + D), main, W if peak != init or W else 0,
                       init / peak if W else 0.0)
    if name == "PolynomialDecay":
        if c.get("cycle"):
            raise ScheduleError("config.cycle: lrlab's polynomial decay does not restart")
        D = _whole(_number(c, "decay_steps"), "config.decay_steps")
        return _config(_number(c, "initial_learning_rate"), total_steps or D,
                       {"kind": "polynomial", "power": c.get("power", 1.0),
                        "min_lr": c.get("end_learning_rate", 1e-4)})
    if total_steps is None:
        raise ScheduleError(f"total_steps: Keras' {name} has no length of its own; give the "
                            "run's length (--steps)")
    if name == "CosineDecayRestarts":
        init = _number(c, "initial_learning_rate")
        return _config(init, total_steps, {
            "kind": "sgdr", "T_0": _whole(_number(c, "first_decay_steps"), "first_decay_steps"),
            "T_mult": _whole(c.get("t_mul", 2.0), "config.t_mul"), "decay": c.get("m_mul", 1.0),
            "min_lr": c.get("alpha", 0.0) * init})
    if name == "ExponentialDecay":
        init, steps = _number(c, "initial_learning_rate"), _number(c, "decay_steps")
        if c.get("staircase"):
            return _config(init, total_steps, {"kind": "step", "step_size": _whole(
                steps, "config.decay_steps"), "gamma": _number(c, "decay_rate")})
        return _config(init, total_steps, {"kind": "exponential",
                                           "gamma": _number(c, "decay_rate") ** (1 / steps)})
    if name == "PiecewiseConstantDecay":
        values, bounds = c.get("values", []), c.get("boundaries", [])
        if not values or values[0] <= 0:
            raise ScheduleError("config.values: expected a positive first value")
        return _config(values[0], total_steps, {
            "kind": "piecewise", "boundaries": [_whole(b, "config.boundaries") + 1
                                                for b in bounds],
            "values": [v / values[0] for v in values], "interpolation": "constant"})
    if name == "InverseTimeDecay":
        if c.get("staircase"):
            raise ScheduleError("config.staircase: lrlab's power decay is smooth")
        return _config(_number(c, "initial_learning_rate"), total_steps, {
            "kind": "power", "s": _number(c, "decay_steps") / _number(c, "decay_rate"),
            "c": 1.0})
    raise ScheduleError(f"class_name: {name!r} has no lrlab equivalent; lrlab reads "
                        "CosineDecay, CosineDecayRestarts, ExponentialDecay, "
                        "PiecewiseConstantDecay, PolynomialDecay and InverseTimeDecay")


def parse_any(text: str, name: str, total_steps: int | None = None) -> Any:
    """A Schedule from lrlab's own file or any framework's this module reads (the Designer's
    import box)."""
    from lrlab.schedules.io import parse_schedule
    from lrlab.schedules.schedule import Schedule

    try:
        data = _mapping(text, name)
    except ScheduleError:
        data = None
    if data is None or data.get("format") is not None or detect(data) is None:
        return parse_schedule(text, source=name)
    config = parse_foreign(text, None, total_steps, name)
    try:
        return Schedule.from_dict(config)
    except ScheduleError as exc:
        raise ScheduleError(f"{name}: read as {config['main']['kind']}, but {exc}") from None
