"""The `lrlab.train/1` config: what a training run is, checked before anything heavy happens.

The page, the CLI and the job queue all send this dict. `validate_config` fills defaults (the
paper's trick settings) and names the field of every mistake, without importing torch for the
cheap checks, so a bad submission is refused before it is queued.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from lrlab.errors import LrlabError

FORMAT = "lrlab.train/1"
OPTIMIZERS = ("sgd", "adam", "adamw")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
REFERENCE_BATCH = 256  # Goyal et al.'s reference for the linear-scaling rule (paper §3.1)

TRICK_DEFAULTS: dict[str, Any] = {
    "linear_scaling": True,
    "reference_batch": REFERENCE_BATCH,
    "warmup_epochs": 1,
    "zero_gamma": True,
    "no_bias_decay": True,
    "cosine": True,
    "label_smoothing": 0.1,
    "mixup": 0.0,
    "distillation": None,
}
DISTILLATION_DEFAULTS: dict[str, Any] = {"teacher": None, "temperature": 20.0, "weight": 1.0}
OPTIMIZER_DEFAULTS: dict[str, Any] = {
    "name": "sgd",
    "lr": 0.1,
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "nesterov": False,
    "betas": None,
}
DEFAULTS: dict[str, Any] = {
    "format": FORMAT,
    "model": "small_cnn",
    "variant": "D",
    "width": None,
    "dataset": "digits",
    "data_root": None,
    "download": False,
    "limit": None,
    "val_fraction": 0.2,
    "augment": True,
    "batch_size": 128,
    "epochs": 5,
    "seed": 0,
    "precision": "auto",
    "device": "auto",
    "optimizer": OPTIMIZER_DEFAULTS,
    "schedule": None,
    "tricks": TRICK_DEFAULTS,
    "channels_last": True,
    "compile": False,
    "grad_clip": None,
}


def _where(section: str, key: str) -> str:
    return f"{section}.{key}" if section else key


def _check_keys(obj: Mapping[str, Any], allowed: Mapping[str, Any], section: str) -> None:
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        name = f"{section} " if section else ""
        raise LrlabError(f"train config {name}has unknown field(s) {', '.join(unknown)}; "
                         f"expected some of {', '.join(allowed)}")


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise LrlabError(f"{where}: expected a mapping, got {type(value).__name__} {value!r}")
    return value


def _bool(obj: dict[str, Any], key: str, section: str = "") -> None:
    if not isinstance(obj[key], bool):
        raise LrlabError(f"{_where(section, key)}: expected true or false, got {obj[key]!r}")


def _int(obj: dict[str, Any], key: str, low: int, section: str = "", *, optional=False) -> None:
    value = obj[key]
    if optional and value is None:
        return
    if isinstance(value, float) and value.is_integer():
        value = obj[key] = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise LrlabError(f"{_where(section, key)}: expected an integer >= {low}, got {value!r}")


def _float(obj: dict[str, Any], key: str, low: float, high: float, section: str = "", *,
           low_open: bool = False, optional: bool = False) -> None:
    value = obj[key]
    if optional and value is None:
        return
    where = _where(section, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LrlabError(f"{where}: expected a number, got {value!r}")
    if value < low or (low_open and value == low) or value > high:
        bracket = "(" if low_open else "["
        raise LrlabError(f"{where}: expected a number in {bracket}{low:g}, {high:g}], "
                         f"got {value!r}")
    obj[key] = float(value)


def _choice(obj: dict[str, Any], key: str, choices: tuple[str, ...], section: str = "") -> None:
    if obj[key] not in choices:
        raise LrlabError(f"{_where(section, key)}: expected one of {', '.join(choices)}, "
                         f"got {obj[key]!r}")


def _optimizer(value: Any) -> dict[str, Any]:
    opt = {**OPTIMIZER_DEFAULTS, **_mapping(value or {}, "optimizer")}
    _check_keys(opt, OPTIMIZER_DEFAULTS, "optimizer")
    _choice(opt, "name", OPTIMIZERS, "optimizer")
    _float(opt, "lr", 0.0, 100.0, "optimizer", low_open=True)
    _float(opt, "momentum", 0.0, 0.9999, "optimizer")
    _float(opt, "weight_decay", 0.0, 10.0, "optimizer")
    _bool(opt, "nesterov", "optimizer")
    if opt["nesterov"] and (opt["name"] != "sgd" or opt["momentum"] == 0):
        raise LrlabError("optimizer.nesterov: needs SGD with momentum > 0")
    if opt["betas"] is not None:
        betas = opt["betas"]
        if (not isinstance(betas, (list, tuple)) or len(betas) != 2
                or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)):
            raise LrlabError(f"optimizer.betas: expected two numbers in [0, 1), got {betas!r}")
        if opt["name"] == "sgd":
            raise LrlabError("optimizer.betas: only Adam and AdamW have betas; SGD uses momentum")
        opt["betas"] = [float(b) for b in betas]
    return opt


def _tricks(value: Any) -> dict[str, Any]:
    tricks = {**TRICK_DEFAULTS, **_mapping(value or {}, "tricks")}
    _check_keys(tricks, TRICK_DEFAULTS, "tricks")
    for key in ("linear_scaling", "zero_gamma", "no_bias_decay", "cosine"):
        _bool(tricks, key, "tricks")
    _int(tricks, "reference_batch", 1, "tricks")
    _float(tricks, "warmup_epochs", 0.0, 1000.0, "tricks")
    _float(tricks, "label_smoothing", 0.0, 0.99, "tricks")
    _float(tricks, "mixup", 0.0, 100.0, "tricks")
    distill = tricks["distillation"]
    if distill is not None:
        distill = {**DISTILLATION_DEFAULTS, **_mapping(distill, "tricks.distillation")}
        _check_keys(distill, DISTILLATION_DEFAULTS, "tricks.distillation")
        teacher = distill["teacher"]
        if not isinstance(teacher, str) or not teacher.strip():
            raise LrlabError("tricks.distillation.teacher: expected a run folder, a checkpoint "
                             f"file or a job id, got {teacher!r}")
        _float(distill, "temperature", 0.0, 1000.0, "tricks.distillation", low_open=True)
        _float(distill, "weight", 0.0, 1000.0, "tricks.distillation")
        tricks["distillation"] = distill
    return tricks


def validate_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config with defaults filled in; every mistake raises LrlabError naming the field.

    A `schedule` (an `lrlab.schedule/1` config) fixes the LR of every update by itself; only when
    it is null does the run build the paper's schedule from `optimizer.lr` and the tricks
    (linear scaling, warmup, cosine or step decay).
    """
    cfg = {**DEFAULTS, **_mapping(config, "train config")}
    _check_keys(cfg, DEFAULTS, "")
    if cfg["format"] != FORMAT:
        raise LrlabError(f"format: expected {FORMAT!r}, got {cfg['format']!r}")
    for key in ("download", "augment", "channels_last", "compile"):
        _bool(cfg, key)
    for key, low in (("batch_size", 1), ("epochs", 1), ("seed", 0)):
        _int(cfg, key, low)
    _int(cfg, "width", 2, optional=True)
    _int(cfg, "limit", 2, optional=True)
    _float(cfg, "val_fraction", 0.0, 0.99, low_open=True)
    _float(cfg, "grad_clip", 0.0, 1e9, low_open=True, optional=True)
    _choice(cfg, "precision", PRECISIONS)
    if not isinstance(cfg["device"], str):
        raise LrlabError(f"device: expected auto, cpu, cuda[:N] or mps, got {cfg['device']!r}")
    _choice(cfg, "variant", ("A", "B", "C", "D"))
    if cfg["data_root"] is not None:
        if not isinstance(cfg["data_root"], str):
            raise LrlabError(f"data_root: expected a folder path, got {cfg['data_root']!r}")
        cfg["data_root"] = cfg["data_root"].strip() or None
    cfg["optimizer"] = _optimizer(cfg["optimizer"])
    cfg["tricks"] = _tricks(cfg["tricks"])
    if cfg["schedule"] is not None:
        from lrlab.schedules import Schedule

        cfg["schedule"] = Schedule.from_dict(_mapping(cfg["schedule"], "schedule")).to_dict()
    _check_registries(cfg)
    return cfg


def _check_registries(cfg: dict[str, Any]) -> None:
    """Model, dataset and folder checks last: the registries import torch."""
    from lrlab.data import DATASETS, check_data_root
    from lrlab.models import MODELS

    _choice(cfg, "model", tuple(MODELS))
    _choice(cfg, "dataset", tuple(DATASETS))
    check_data_root(cfg["dataset"], cfg["data_root"], download=cfg["download"])
