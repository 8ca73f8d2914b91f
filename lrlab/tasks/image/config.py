"""The built-in image classification's training config (`lrlab.train/4` without a task; see
lrlab.tasks.train_format): what a training run is, checked before anything heavy happens.

/1 and /2 files read unchanged (a /1 file as /2 with no origin).

The page, the CLI and the job queue all send this dict. `validate_config` fills defaults (the
paper's trick settings) and names the field of every mistake, without importing torch for the
cheap checks, so a bad submission is refused before it is queued.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrlab.core import options
from lrlab.core.errors import LrlabError
from lrlab.core.validation import refuse_unknown, require_mapping
from lrlab.tasks.optimizer_config import OPTIMIZER_DEFAULTS, validate_optimizer
from lrlab.tasks.train_format import FORMAT, READS, validate_origin

# Defaults come from the option registry; these only say which fields each section has.
TRICK_DEFAULTS: dict[str, Any] = {
    **options.defaults("tricks", ("linear_scaling", "reference_batch", "warmup_epochs",
                                  "zero_gamma", "no_bias_decay", "cosine", "label_smoothing",
                                  "mixup")),
    "distillation": None,
}
DISTILLATION_DEFAULTS: dict[str, Any] = options.defaults(
    "tricks.distillation", ("teacher", "temperature", "weight"))
DEFAULTS: dict[str, Any] = {
    "format": FORMAT,
    **options.defaults("", ("model", "variant", "norm", "width", "dataset", "data_root", "download",
                            "limit", "val_fraction", "augment", "batch_size", "epochs", "seed",
                            "precision")),
    "device": "auto",
    "optimizer": OPTIMIZER_DEFAULTS,
    "schedule": None,
    **options.defaults("", ("schedule_fit", "nproc", "sync_bn")),
    "tricks": TRICK_DEFAULTS,
    **options.defaults("", ("channels_last", "compile", "grad_clip", "log_to")),
    "origin": None,
}


def _check_keys(obj: Mapping[str, Any], allowed: Mapping[str, Any], section: str) -> None:
    refuse_unknown(obj, allowed, section or "train config")


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    return require_mapping(value, where)


def _tricks(value: Any) -> dict[str, Any]:
    tricks = {**TRICK_DEFAULTS, **_mapping(value or {}, "tricks")}
    _check_keys(tricks, TRICK_DEFAULTS, "tricks")
    tricks = options.check(tricks, ("linear_scaling", "zero_gamma", "no_bias_decay", "cosine",
                                    "reference_batch", "warmup_epochs", "label_smoothing",
                                    "mixup"), "tricks")
    distill = tricks["distillation"]
    if distill is not None:
        distill = {**DISTILLATION_DEFAULTS, **_mapping(distill, "tricks.distillation")}
        _check_keys(distill, DISTILLATION_DEFAULTS, "tricks.distillation")
        teacher = distill["teacher"]
        if not isinstance(teacher, str) or not teacher.strip():
            raise LrlabError("tricks.distillation.teacher: expected a run folder, a checkpoint "
                             f"file or a job id, got {teacher!r}")
        tricks["distillation"] = options.check(distill, ("temperature", "weight"),
                                               "tricks.distillation")
    return tricks


def validate_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config with defaults filled in; every mistake raises LrlabError naming the field.

    A `schedule` (an `lrlab.schedule/1` config) fixes the LR of every update by itself; only when
    it is null does the run build the paper's schedule from `optimizer.lr` and the tricks
    (linear scaling, warmup, cosine or step decay).
    """
    cfg = {**DEFAULTS, **_mapping(config, "train config")}
    if isinstance(cfg["augment"], bool):  # /1 files from before the choice
        cfg["augment"] = "auto" if cfg["augment"] else "none"
    _check_keys(cfg, DEFAULTS, "")
    if cfg["format"] not in READS:
        raise LrlabError(f"format: expected {' or '.join(map(repr, READS))}, got "
                         f"{cfg['format']!r}")
    cfg["format"] = FORMAT
    cfg["origin"] = validate_origin(cfg["origin"])
    cfg = options.check(cfg, ("download", "augment", "channels_last", "compile", "batch_size",
                              "epochs", "seed", "width", "limit", "val_fraction", "grad_clip",
                              "precision", "variant", "norm", "data_root", "schedule_fit",
                              "nproc", "sync_bn", "log_to"))
    if cfg["norm"] != "batch" and not str(cfg["model"]).startswith("resnet"):
        raise LrlabError(f"norm: {cfg['norm']!r} (Fixup) is for the ResNets; "
                         f"{cfg['model']} keeps BatchNorm")
    if not isinstance(cfg["device"], str):
        raise LrlabError(f"device: expected auto, cpu, cuda[:N] or mps, got {cfg['device']!r}")
    cfg["optimizer"] = validate_optimizer(cfg["optimizer"])
    cfg["tricks"] = _tricks(cfg["tricks"])
    if cfg["schedule"] is not None:
        from lrlab.schedules import Schedule

        cfg["schedule"] = Schedule.from_dict(_mapping(cfg["schedule"], "schedule")).to_dict()
    _check_registries(cfg)
    return cfg


def _check_registries(cfg: dict[str, Any]) -> None:
    """Model, dataset and folder checks last: the registries import torch."""
    from lrlab.tasks.image.data import check_data_root
    from lrlab.tasks.image.named_models import check_named, is_named

    if is_named(cfg["model"]):  # timm:NAME, torchvision:NAME: its library knows the name
        if cfg["width"] is not None or cfg["norm"] != "batch":
            raise LrlabError(f"model: {cfg['model']} is built as its library defines it; width "
                             "and norm apply to lrlab's own models")
        check_named(cfg["model"])
        cfg.update(options.check(cfg, ("dataset",)))
    else:
        cfg.update(options.check(cfg, ("model", "dataset")))
    check_data_root(cfg["dataset"], cfg["data_root"], download=cfg["download"])
