"""optax: code joining optax's schedules (`join_schedules` of warmup, hold and main phase).

optax calls a schedule with the count of updates already applied, so update t uses
schedule(t) as lrlab does. `join_schedules` restarts the count at each boundary, matching
lrlab's phases. Momentum travels through `optax.inject_hyperparams`. `_value` mirrors each
optax schedule in float64; JAX computes in float32 unless `jax_enable_x64` is set.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lrlab.schedules.kinds import sgdr_cycles
from lrlab.schedules.schedule import Schedule
from lrlab.schedules.targets import Export
from lrlab.schedules.targets.exactness import measure
from lrlab.schedules.targets.table import literal, lr_table, momentum_table

FLOAT32_NOTE = ("JAX computes in float32 unless jax.config.update('jax_enable_x64', True); "
                "in float32 values round to about 6e-8 relative.")

Part = tuple[str, dict[str, Any]]  # (optax function, keyword arguments)


def _main(s: Schedule) -> Part | None:
    p, eta, T = s.params, s.effective_base_lr, s.main_steps
    if s.kind == "constant":
        return "constant_schedule", {"value": eta}
    if s.kind in ("step", "exponential"):
        return "exponential_decay", {"init_value": eta,
                                     "transition_steps": p.get("step_size", 1),
                                     "decay_rate": p["gamma"], "staircase": s.kind == "step"}
    if s.kind == "multistep":
        return "piecewise_constant_schedule", {
            "init_value": eta, "boundaries_and_scales": {m: p["gamma"] for m in p["milestones"]}}
    if s.kind == "cosine":
        return "cosine_decay_schedule", {"init_value": eta, "decay_steps": T,
                                         "alpha": p["min_lr"] / eta}
    if s.kind in ("polynomial", "linear"):
        end = p["min_lr"] if s.kind == "polynomial" else eta * p["end_factor"]
        return "polynomial_schedule", {"init_value": eta, "end_value": end,
                                       "power": p.get("power", 1.0), "transition_steps": T}
    if s.kind == "sgdr":
        cycles = int(sgdr_cycles(np.asarray([T - 1]), p["T_0"], p["T_mult"])[0][0]) + 1
        kwargs = []
        for k in range(cycles):
            peak = p["min_lr"] + (eta - p["min_lr"]) * p["decay"] ** k
            kwargs.append({"init_value": peak, "peak_value": peak, "warmup_steps": 0,
                           "decay_steps": p["T_0"] * p["T_mult"] ** k, "end_value": p["min_lr"]})
        return "sgdr_schedule", {"cosine_kwargs": kwargs}
    if s.kind == "onecycle" and p["anneal_strategy"] == "cos" and not p["three_phase"]:
        return "cosine_onecycle_schedule", {
            "transition_steps": T, "peak_value": eta, "pct_start": p["pct_start"],
            "div_factor": p["div_factor"], "final_div_factor": p["final_div_factor"]}
    return None


def native(s: Schedule) -> tuple[list[Part], list[int]] | None:
    """optax schedules and join boundaries equal to the schedule, or None."""
    main = _main(s)
    if main is None:
        return None
    eta, W, H = s.effective_base_lr, s.warmup_steps, s.hold_steps
    parts: list[Part] = []
    boundaries: list[int] = []
    warmup = s.config.get("warmup")
    if warmup:
        sf = warmup["start_factor"]
        if main[0] == "cosine_decay_schedule" and warmup["shape"] == "linear" and not H:
            return [("warmup_cosine_decay_schedule", {
                "init_value": eta * sf, "peak_value": eta, "warmup_steps": W,
                "decay_steps": W + s.main_steps, "end_value": s.params["min_lr"]})], []
        if warmup["shape"] == "linear":
            parts.append(("linear_schedule", {"init_value": eta * sf, "end_value": eta,
                                              "transition_steps": W}))
        elif warmup["shape"] == "exponential":  # sf > 0: the validator requires it
            parts.append(("exponential_decay", {"init_value": eta * sf, "transition_steps": W,
                                                "decay_rate": 1 / sf}))
        else:
            parts.append(("constant_schedule", {"value": eta * sf}))
        boundaries.append(W)
    if H:
        parts.append(("constant_schedule", {"value": eta}))
        boundaries.append(W + H)
    return [*parts, main], boundaries


def _polynomial(kw: dict[str, Any], t: float) -> float:
    count = min(max(t, 0), kw["transition_steps"])
    frac = 1 - count / kw["transition_steps"]
    return (kw["init_value"] - kw["end_value"]) * frac ** kw.get("power", 1) + kw["end_value"]


def _cosine_decay(init: float, steps: float, alpha: float, t: float) -> float:
    count = min(t, float(steps))
    return init * ((1 - alpha) * (0.5 * (1 + math.cos(math.pi * count / float(steps)))) ** 1.0
                   + alpha)


def _warmup_cosine(kw: dict[str, Any], t: float) -> float:
    peak = kw["peak_value"]
    alpha = 0.0 if peak == 0.0 else kw["end_value"] / peak
    W = kw["warmup_steps"]
    warm = {"init_value": kw["init_value"], "end_value": peak, "transition_steps": W}
    return _join([lambda c: _polynomial(warm, c) if W > 0 else kw["init_value"],
                  lambda c: _cosine_decay(peak, kw["decay_steps"] - W, alpha, c)], [W], t)


def _join(schedules: list[Any], boundaries: list[int], t: float) -> float:
    out = schedules[0](t)
    for boundary, schedule in zip(boundaries, schedules[1:], strict=True):
        out = out if t < boundary else schedule(t - boundary)
    return out


def _value(part: Part, t: float) -> float:
    """What the optax schedule returns at count t (float64)."""
    name, kw = part
    if name == "constant_schedule":
        return kw["value"]
    if name in ("linear_schedule", "polynomial_schedule"):
        return _polynomial(kw, t)
    if name == "exponential_decay":
        p = t / kw["transition_steps"]
        if kw.get("staircase"):
            p = math.floor(p)
        return kw["init_value"] if t <= 0 else kw["init_value"] * kw["decay_rate"] ** p
    if name == "piecewise_constant_schedule":
        v = kw["init_value"]
        for threshold, scale in sorted(kw["boundaries_and_scales"].items()):
            indicator = 1.0 if t < threshold else 0.0  # max(0, sign(threshold - count))
            v = v * indicator + (1 - indicator) * scale * v
        return v
    if name == "cosine_decay_schedule":
        return _cosine_decay(kw["init_value"], kw["decay_steps"], kw["alpha"], t)
    if name == "warmup_cosine_decay_schedule":
        return _warmup_cosine(kw, t)
    if name == "sgdr_schedule":
        cycles = kw["cosine_kwargs"]
        ends = [sum(c["decay_steps"] for c in cycles[:i + 1]) for i in range(len(cycles))]
        return _join([lambda c, k=k: _warmup_cosine(k, c) for k in cycles], ends[:-1], t)
    if name == "cosine_onecycle_schedule":
        T, div = kw["transition_steps"], kw["div_factor"]
        bounds = [0, int(kw["pct_start"] * T), int(T)]
        vals = [kw["peak_value"] / div]
        for scale in (div, 1.0 / (div * kw["final_div_factor"])):
            vals.append(vals[-1] * scale)
        for i in range(2):
            if bounds[i] <= t < bounds[i + 1]:
                pct = (t - bounds[i]) / max(bounds[i + 1] - bounds[i], 1)
                return vals[i + 1] + (vals[i] - vals[i + 1]) / 2.0 * (math.cos(math.pi * pct) + 1)
        return vals[-1]
    raise ValueError(name)


def values(parts: list[Part], boundaries: list[int], steps: int) -> list[float]:
    return [_join([lambda c, q=q: _value(q, c) for q in parts], boundaries, float(t))
            for t in range(steps)]


def _call(part: Part) -> str:
    name, kw = part
    args = ", ".join(f"{k}={v!r}" for k, v in kw.items())
    return f"optax.{name}({args})"


_CODE = '''"""lrlab schedule for optax: {what}, {total} updates.
lrlab measured it {sentence}
"""
{imports}
{body}
optimizer = optax.inject_hyperparams(optax.sgd)(learning_rate=schedule{momentum})
'''


def _export(s: Schedule, target: str, body: str, what: str, exactness: Any,
            args: dict[str, Any]) -> Export:
    imports = "import optax" + ("\nimport jax.numpy as jnp" if "jnp." in body else "")
    moms = momentum_table(s)
    momentum_arg, momentum = "", ""
    if moms is not None:
        if "momentum" in s.config:
            momentum_arg = f", momentum={s.config['momentum']['value']!r}"
        else:
            body += (f"\nMOMENTUM_TABLE = jnp.asarray({literal(moms)})\n\n\n"
                     "def momentum(count):\n"
                     "    return MOMENTUM_TABLE[jnp.minimum(count, "
                     "MOMENTUM_TABLE.shape[0] - 1)]\n")
            imports = "import jax.numpy as jnp\nimport optax"
            momentum_arg = ", momentum=momentum"
            args = {**args, "momentum_table": moms}
        momentum = ("carried through optax.inject_hyperparams (optax.sgd's momentum; "
                    "for optax.adam pass it as b1)")
    text = _CODE.format(what=what, total=s.total_steps, sentence=exactness.sentence(),
                        imports=imports, body=body, momentum=momentum_arg)
    return Export(target, text, "optax_schedule.py", "text/x-python", exactness, momentum, args)


def export_native(s: Schedule, target: str) -> Export | None:
    """optax's own schedules joined at lrlab's phase boundaries, or None."""
    found = native(s)
    if found is None:
        return None
    parts, boundaries = found
    if boundaries:
        joined = ",\n    ".join(_call(q) for q in parts)
        body = f"schedule = optax.join_schedules([\n    {joined},\n], {boundaries!r})\n"
    else:
        body = f"schedule = {_call(parts[0])}\n"
    exactness = measure(s, values(parts, boundaries, s.total_steps), note=FLOAT32_NOTE)
    return _export(s, target, body, " + ".join(q[0] for q in parts), exactness,
                   {"parts": parts, "boundaries": boundaries})


def export_table(s: Schedule, target: str) -> Export:
    """A schedule function indexing lrlab's LR per update."""
    table = lr_table(s)
    body = (f"LR_TABLE = jnp.asarray({literal(table)})\n\n\n"
            "def schedule(count):\n"
            "    return LR_TABLE[jnp.minimum(count, LR_TABLE.shape[0] - 1)]\n")
    exactness = measure(s, table, table=True, note=FLOAT32_NOTE)
    return _export(s, target, body, f"a table of lrlab's {s.kind} values", exactness,
                   {"table": table})
