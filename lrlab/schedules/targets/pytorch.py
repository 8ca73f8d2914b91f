"""Export a schedule as self-contained PyTorch code (imports only torch and math).

PyTorch's own schedulers are used where one is exactly equivalent (warmup through SequentialLR of
LinearLR and the main scheduler); anything else becomes a LambdaLR with the closed form written
out. The tests execute the generated code and compare its LRs with lrlab's, step for step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lrlab.schedules.config import ScheduleError
from lrlab.schedules.io import dump_schedule
from lrlab.schedules.schedule import Schedule
from lrlab.schedules.spec import KINDS

_HEADER = '''"""Learning-rate schedule exported by lrlab ({kind}, {total} steps).

Usage (for TOTAL_STEPS optimizer updates; past them PyTorch's schedulers follow their own rules,
e.g. CosineAnnealingLR climbs back up and OneCycleLR raises):
    scheduler = build_scheduler(optimizer)
    for batch in data:
        ...; optimizer.step(); scheduler.step(){step_arg}

The lrlab.schedule/1 config it came from:
{config}"""

import math

import torch

BASE_LR = {eta!r}  # effective base LR (after batch-size scaling)
TOTAL_STEPS = {total}


def _scale_groups(optimizer):
    """First group at BASE_LR, the others keep their LR ratio to it."""
    ratio = BASE_LR / optimizer.param_groups[0]["lr"]
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] * ratio
        group.pop("initial_lr", None)
{momentum}

'''

_SET_MOMENTUM = '''        if "betas" in group:
            group["betas"] = ({value!r}, *group["betas"][1:])
        elif "momentum" in group:
            group["momentum"] = {value!r}'''

# Main-phase closed forms as Python source: u is the main-phase step, T its length, eta the peak.
# Kinds with a horizon (KindSpec.has_horizon) get u clamped to T first: they hold their last value.
_MAIN = {
    "constant": "return eta",
    "step": "return eta * {gamma!r} ** (u // {step_size})",
    "multistep": "return eta * {gamma!r} ** sum(1 for m in {milestones!r} if m <= u)",
    "exponential": "return eta * {gamma!r} ** u",
    "power": "return eta / (1.0 + u / {s!r}) ** {c!r}",
    "polynomial": "return (eta - {min_lr!r}) * (1.0 - u / T) ** {power!r} + {min_lr!r}",
    "linear": "return eta * (1.0 + ({end_factor!r} - 1.0) * u / T)",
    "cosine": "return {min_lr!r} + (eta - {min_lr!r}) * (1.0 + math.cos(math.pi * u / T)) / 2.0",
    "sgdr": ("cycle, start, length = 0, 0, {T_0}\n"
             "while u >= start + length:\n"
             "    start, length, cycle = start + length, length * {T_mult}, cycle + 1\n"
             "peak = {min_lr!r} + (eta - {min_lr!r}) * {decay!r} ** cycle\n"
             "return {min_lr!r} + (peak - {min_lr!r}) * "
             "(1.0 + math.cos(math.pi * (u - start) / length)) / 2.0"),
    "piecewise": ("knots, values = [0] + {boundaries!r}, {values!r}\n"
                  "i = max(k for k in range(len(knots)) if knots[k] <= u)\n"
                  "if i == len(knots) - 1 or {interpolation!r} == 'constant':\n"
                  "    return eta * values[i]\n"
                  "x = (u - knots[i]) / (knots[i + 1] - knots[i])\n"
                  "if {interpolation!r} == 'linear':\n"
                  "    return eta * (values[i] + (values[i + 1] - values[i]) * x)\n"
                  "return eta * (values[i + 1] + (values[i] - values[i + 1]) * "
                  "(1.0 + math.cos(math.pi * x)) / 2.0)"),
    "inverse_sqrt": "return eta / math.sqrt(1.0 + u / {timescale!r})",
    "wsd": ("x = min(max((u - (T - {decay_steps})) / {decay_steps}, 0.0), 1.0) "
            "if {decay_steps} else float(u >= T)\n"
            "shape = {{'linear': 1.0 - x, 'cosine': (1.0 + math.cos(math.pi * x)) / 2.0,\n"
            "         'sqrt': 1.0 - math.sqrt(x)}}[{decay_shape!r}]\n"
            "return {min_lr!r} + (eta - {min_lr!r}) * shape"),
}

_WARMUP = {
    "linear": "eta * ({sf!r} + (1.0 - {sf!r}) * t / {W})",
    "exponential": "eta * {sf!r} ** (1.0 - t / {W})",
    "constant": "eta * {sf!r}",
}


def _indent(code: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in code.splitlines())


def _onecycle_args(p: dict[str, Any], T: int) -> str:
    return ("max_lr=[g['lr'] for g in optimizer.param_groups], "
            f"total_steps={T}, pct_start={float(p['pct_start'])!r}, "
            f"anneal_strategy={p['anneal_strategy']!r}, cycle_momentum={p['cycle_momentum']!r}, "
            f"base_momentum={p['base_momentum']!r}, max_momentum={p['max_momentum']!r}, "
            f"div_factor={p['div_factor']!r}, final_div_factor={p['final_div_factor']!r}, "
            f"three_phase={p['three_phase']!r}")


def _cyclic_args(p: dict[str, Any], T: int) -> str:
    return (f"base_lr=[{p['base_lr']!r} * g['lr'] / BASE_LR for g in optimizer.param_groups], "
            "max_lr=[g['lr'] for g in optimizer.param_groups], "
            f"step_size_up={p['step_size_up']}, step_size_down={p['step_size_down']!r}, "
            f"mode={p['mode']!r}, gamma={p['gamma']!r}, cycle_momentum={p['cycle_momentum']!r}, "
            f"base_momentum={p['base_momentum']!r}, max_momentum={p['max_momentum']!r}")


_PLATEAU_ARGS = ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown",
                 "min_lr", "eps")

# The arguments of each kind's PyTorch twin (the class is KindSpec.torch_twin), from the kind's
# parameters and the main phase's length; None where the twin is not exactly equal for them.
_TWIN_ARGS: dict[str, Callable[[dict[str, Any], int], str | None]] = {
    "constant": lambda p, T: "factor=1.0, total_iters=0",
    "step": lambda p, T: f"step_size={p['step_size']}, gamma={p['gamma']!r}",
    "multistep": lambda p, T: f"milestones={p['milestones']!r}, gamma={p['gamma']!r}",
    "exponential": lambda p, T: f"gamma={p['gamma']!r}",
    "polynomial": lambda p, T: (f"total_iters={T}, power={p['power']!r}"
                                if p["min_lr"] == 0.0 else None),
    "linear": lambda p, T: f"start_factor=1.0, end_factor={p['end_factor']!r}, total_iters={T}",
    "cosine": lambda p, T: f"T_max={T}, eta_min={p['min_lr']!r}",
    "sgdr": lambda p, T: (f"T_0={p['T_0']}, T_mult={p['T_mult']}, eta_min={p['min_lr']!r}"
                          if p["decay"] == 1.0 else None),
    "onecycle": _onecycle_args,
    "cyclic": _cyclic_args,
    "plateau": lambda p, T: ", ".join(f"{k}={p[k]!r}" for k in _PLATEAU_ARGS),
}


def _twin(s: Schedule) -> str | None:
    """The torch scheduler expression exactly equal to the main phase, if there is one."""
    twin = KINDS[s.kind].torch_twin
    if twin is None:
        return None
    args = _TWIN_ARGS[s.kind](s.params, s.main_steps)
    return None if args is None else f"S.{twin}(optimizer, {args})"


def to_pytorch(schedule: Schedule) -> str:
    """Python source defining `build_scheduler(optimizer)` for this schedule."""
    s = schedule
    config = s.to_dict()
    W, H = s.warmup_steps, s.hold_steps
    warmup: dict[str, Any] | None = config.get("warmup")
    momentum = config.get("momentum")
    head = _HEADER.format(
        kind=s.kind, total=s.total_steps, eta=s.effective_base_lr,
        step_arg="  # plateau: scheduler.step(metric)" if s.kind == "plateau" else "",
        config=_indent(dump_schedule(s, "json").rstrip(), 4),
        momentum=_SET_MOMENTUM.format(value=momentum["value"]) if momentum else "")
    twin = _twin(s)
    exact_warmup = warmup is None or (warmup["shape"] == "linear" and warmup["start_factor"] > 0)
    if twin is not None and (W + H == 0):
        body = f"    return {twin}"
    elif twin is not None and exact_warmup and s.kind != "plateau":
        schedulers = []
        milestones = []
        if W:
            schedulers.append(f"S.LinearLR(optimizer, start_factor={warmup['start_factor']!r}, "
                              f"end_factor=1.0, total_iters={W})")
            milestones.append(W)
        if H:
            schedulers.append("S.ConstantLR(optimizer, factor=1.0, total_iters=0)")
            milestones.append(W + H)
        schedulers.append(twin)
        parts = ",\n        ".join(schedulers)
        body = (f"    schedulers = [\n        {parts},\n    ]\n"
                f"    return S.SequentialLR(optimizer, schedulers, milestones={milestones!r})")
    elif s.kind == "plateau":
        raise ScheduleError("export: a plateau schedule with warmup or hold has no PyTorch "
                            "equivalent; export the plateau part alone, or use lrlab's "
                            "Schedule.torch(optimizer)")
    else:
        main = _MAIN[s.kind].format(**s.params)
        lines = ["def lr_at(t):", "    eta, T = BASE_LR, " + str(s.main_steps)]
        if W:
            lines.append(f"    if t < {W}:")
            lines.append("        return " + _WARMUP[warmup["shape"]].format(
                sf=warmup["start_factor"], W=W))
        if H:
            lines.append(f"    if t < {W + H}:")
            lines.append("        return eta")
        lines.append(f"    u = t - {W + H}")
        if KINDS[s.kind].has_horizon:
            lines.append("    u = min(u, T)  # past total_steps: hold the final value")
        lines.append(_indent(main, 4))
        body = (_indent("\n".join(lines), 4) + "\n\n"
                "    return S.LambdaLR(optimizer, lambda t: lr_at(t) / BASE_LR)")
    return (head + "def build_scheduler(optimizer):\n"
            '    """Call scheduler.step() once after every optimizer.step()."""\n'
            "    _scale_groups(optimizer)\n"
            "    S = torch.optim.lr_scheduler\n" + body + "\n")


def run_exported(code: str, steps: int, metrics: list[float] | None = None) -> list[float]:
    """The LR PyTorch gives each of `steps` updates when the exported `code` drives it."""
    import torch

    namespace: dict[str, Any] = {}
    exec(compile(code, "<lrlab export>", "exec"), namespace)  # our own generated code
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0, momentum=0.9)
    scheduler = namespace["build_scheduler"](optimizer)
    lrs = []
    for t in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step() if metrics is None else scheduler.step(metrics[t])
    return lrs


def export_native(schedule: Schedule, target: str) -> Any:
    """The `pytorch` target: the code, measured by running it in PyTorch."""
    from lrlab.schedules.targets import Export
    from lrlab.schedules.targets.exactness import EXACT, Exactness, measure

    code = to_pytorch(schedule)
    if schedule.kind == "plateau":
        exactness = Exactness(EXACT, 0.0, 0, "Follows the metric you pass to scheduler.step(); "
                              "PyTorch's ReduceLROnPlateau is lrlab's plateau rule.")
    else:
        exactness = measure(schedule, run_exported(code, schedule.total_steps))
    return Export(target, code, "schedule.py", "text/x-python", exactness,
                  momentum="carried" if schedule.momentum([0]) is not None else "")
