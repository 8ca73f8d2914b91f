"""Hugging Face transformers: `TrainingArguments` (lr_scheduler_type, lr_scheduler_kwargs,
warmup_steps) and the same schedule as a `get_scheduler(...)` call, or those fields as a JSON or
YAML file (`HfArgumentParser`, YAML-configured trainers).

transformers' schedules are LambdaLR factors of the optimizer's LR, stepped after every
optimizer update, so update t uses factor(t) as lrlab does. Their warmups are linear from 0
(WSD's from min_lr_ratio), with no hold phase except WSD's stable one. `_factor` mirrors
transformers.optimization's lambdas operation for operation.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

from lrlab.schedules.config import ScheduleError
from lrlab.schedules.schedule import Schedule
from lrlab.schedules.targets import Export
from lrlab.schedules.targets.exactness import EXACT, measure
from lrlab.schedules.targets.table import literal, lr_table

_WSD_SHAPES = {"linear": "linear", "cosine": "cosine", "sqrt": "1-sqrt"}


def native(s: Schedule) -> tuple[str, dict[str, Any]] | None:
    """(lr_scheduler_type, lr_scheduler_kwargs) equal to the schedule, or None."""
    p, eta, T, H = s.params, s.effective_base_lr, s.main_steps, s.hold_steps
    warmup = s.config.get("warmup")
    if s.kind == "wsd":
        ratio = p["min_lr"] / eta
        if warmup is not None and (warmup["shape"] != "linear"
                                   or warmup["start_factor"] != ratio):
            return None
        # The stable phase is what warmup and decay leave of max_steps: hold + T - decay_steps.
        return "warmup_stable_decay", {
            "num_decay_steps": p["decay_steps"], "warmup_type": "linear",
            "decay_type": _WSD_SHAPES[p["decay_shape"]], "min_lr_ratio": ratio}
    if H or (warmup is not None and (warmup["shape"] != "linear" or warmup["start_factor"])):
        return None
    if s.kind == "constant" or (s.kind == "linear" and p["end_factor"] == 1.0):
        return ("constant_with_warmup" if warmup else "constant"), {}
    if s.kind == "cosine":
        if p["min_lr"] == 0.0:
            return "cosine", {}
        return "cosine_with_min_lr", {"min_lr_rate": p["min_lr"] / eta}
    if s.kind == "linear":
        if p["end_factor"] == 0.0:
            return "linear", {}
        return "polynomial", {"lr_end": eta * p["end_factor"], "power": 1.0}
    if s.kind == "polynomial" and p["min_lr"] < eta:
        return "polynomial", {"lr_end": p["min_lr"], "power": p["power"]}
    if s.kind == "inverse_sqrt":
        return "inverse_sqrt", {"timescale": p["timescale"]}
    if (s.kind == "sgdr" and p["T_mult"] == 1 and p["decay"] == 1.0 and p["min_lr"] == 0.0
            and T % p["T_0"] == 0):
        return "cosine_with_restarts", {"num_cycles": T // p["T_0"]}
    return None


def _factor(kind: str, kw: dict[str, Any], t: int, W: int, N: int, lr_init: float) -> float:
    """transformers' lambda for `kind` at step t (W warmup steps, N training steps)."""
    if kind == "constant":
        return 1.0
    if kind == "warmup_stable_decay":
        ratio, D = kw["min_lr_ratio"], kw["num_decay_steps"]
        S = N - W - D
        if t < W:
            return max(0.0, float(t) / float(max(1, W)) * (1.0 - ratio) + ratio)
        if t < W + S:
            return 1.0
        if t < W + S + D:
            progress = float(t - W - S) / float(max(1, D))
            factor = {"linear": lambda: 1.0 - progress,
                      "cosine": lambda: 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)),
                      "1-sqrt": lambda: 1.0 - math.sqrt(progress)}[kw["decay_type"]]()
            return max(0.0, factor * (1.0 - ratio) + ratio)
        return ratio
    if t < W:
        return float(t) / float(max(1, W))
    if kind == "constant_with_warmup":
        return 1.0
    if kind == "linear":
        return max(0.0, float(N - t) / float(max(1, N - W)))
    progress = float(t - W) / float(max(1, N - W))
    if kind == "cosine":
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))
    if kind == "cosine_with_min_lr":
        factor = 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress))
        return max(0, factor * (1 - kw["min_lr_rate"]) + kw["min_lr_rate"])
    if kind == "cosine_with_restarts":
        if progress >= 1.0:
            return 0.0
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((float(kw["num_cycles"]) * progress)
                                                          % 1.0))))
    if kind == "polynomial":
        if t > N:
            return kw["lr_end"] / lr_init
        remaining = 1 - (t - W) / (N - W)
        return ((lr_init - kw["lr_end"]) * remaining ** kw["power"] + kw["lr_end"]) / lr_init
    if kind == "inverse_sqrt":
        shift = kw["timescale"] - W
        return 1.0 / math.sqrt((t + shift) / kw["timescale"])
    raise ValueError(kind)


def values(args: dict[str, Any], steps: int) -> list[float]:
    """The LR transformers gives each update for these TrainingArguments."""
    lr, W, N = args["learning_rate"], args["warmup_steps"], args["max_steps"]
    kind, kw = args["lr_scheduler_type"], args["lr_scheduler_kwargs"]
    return [lr * _factor(kind, kw, t, W, N, lr) for t in range(steps)]


_NATIVE = '''"""lrlab schedule for Hugging Face transformers: {kind}, {total} updates.
lrlab measured it {sentence}
"""
from transformers import TrainingArguments

args = TrainingArguments(
    output_dir="out",  # your other arguments as before
    learning_rate={lr!r},
    max_steps={total},  # optimizer updates (after gradient accumulation)
    warmup_steps={warmup},
    lr_scheduler_type={kind!r},
    lr_scheduler_kwargs={kwargs},{beta1}
)

# The same schedule in your own loop (scheduler.step() after every optimizer.step()):
#   from transformers import get_scheduler
#   scheduler = get_scheduler({kind!r}, optimizer, num_warmup_steps={warmup},
#                             num_training_steps={total}, scheduler_specific_kwargs={kwargs})
'''

_TABLE = '''"""lrlab schedule for Hugging Face transformers, {total} updates, via a table.
transformers has no built-in schedule equal to lrlab's {kind}; this LambdaLR reads lrlab's LR for
every update. lrlab measured it {sentence}

    optimizer = torch.optim.AdamW(model.parameters(), lr=BASE_LR)
    trainer = Trainer(model=model, args=TrainingArguments(output_dir="out", max_steps={total}),
                      optimizers=(optimizer, build_scheduler(optimizer)), ...)
"""
import torch

BASE_LR = {lr!r}
LR_TABLE = {table}


def build_scheduler(optimizer):
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: LR_TABLE[min(step, len(LR_TABLE) - 1)] / BASE_LR)
'''


def _momentum(s: Schedule) -> tuple[str, str]:
    """(TrainingArguments line, how momentum travels)."""
    m = s.momentum([0])
    if m is None:
        return "", ""
    if "momentum" in s.config:
        value = s.config["momentum"]["value"]
        return (f"\n    adam_beta1={value!r},  # the schedule's momentum, as AdamW's beta1",
                "carried as adam_beta1 (Trainer's AdamW)")
    return "", ("not carried: transformers schedules the LR only; the cycling momentum is "
                "left to the optimizer's fixed value")


def export_native(s: Schedule, target: str) -> Export | None:
    """TrainingArguments with transformers' own schedule, or None where none matches."""
    found = native(s)
    if found is None:
        return None
    eta, total = s.effective_base_lr, s.total_steps
    beta1, momentum = _momentum(s)
    kind, kwargs = found
    args = {"learning_rate": eta, "max_steps": total, "warmup_steps": s.warmup_steps,
            "lr_scheduler_type": kind, "lr_scheduler_kwargs": kwargs}
    exactness = measure(s, values(args, total))
    if beta1:  # a constant momentum travels as AdamW's beta1
        args["adam_beta1"] = s.config["momentum"]["value"]
    text = _NATIVE.format(kind=kind, total=total, lr=eta, warmup=s.warmup_steps,
                          kwargs=json.dumps(kwargs), beta1=beta1, sentence=exactness.sentence())
    return Export(target, text, "hf_training_args.py", "text/x-python", exactness, momentum,
                  args)


def export_table(s: Schedule, target: str) -> Export:
    """A LambdaLR reading lrlab's LR per update, handed to Trainer as its scheduler."""
    eta, total = s.effective_base_lr, s.total_steps
    _, momentum = _momentum(s)
    table = lr_table(s)
    exactness = measure(s, [eta * (v / eta) for v in table], table=True)
    text = _TABLE.format(kind=s.kind, total=total, lr=eta, table=literal(table),
                         sentence=exactness.sentence())
    return Export(target, text, "hf_scheduler.py", "text/x-python", exactness, momentum,
                  {"base_lr": eta, "table": table})


def machine_form(result: Export, file_format: str) -> Export:
    """The TrainingArguments fields as JSON or YAML, for `HfArgumentParser.parse_json_file` /
    `parse_yaml_file` and YAML-configured trainers: only from transformers' own schedule, and
    only when it is exact (a file cannot hold a table, and never trains another schedule)."""
    if "lr_scheduler_type" not in result.args or result.exactness.label != EXACT:
        raise ScheduleError(
            f"--format {file_format}: transformers has no built-in schedule equal to this one "
            "(only lrlab's table is exact, and TrainingArguments cannot hold a table); use "
            "--format code, a scheduler to hand the Trainer")
    fields = dict(result.args)
    if file_format == "json":
        text = json.dumps(fields, indent=2) + "\n"
    else:
        import yaml

        text = yaml.safe_dump(fields, sort_keys=False)
    return replace(result, text=text, filename=f"hf_training_args.{file_format}",
                   mime="application/json" if file_format == "json" else "application/yaml")
