"""The lrlab.train/2 config: defaults, every kind of mistake named, the paper's schedule and the
optimizer it builds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from lrlab.core.errors import LrlabError
from lrlab.tasks.image.config import DEFAULTS, FORMAT, validate_config
from lrlab.tasks.image.models import build_model
from lrlab.tasks.image.planned_run import build_schedule
from lrlab.tasks.optimizers import create_optimizer


def test_defaults_are_the_papers_tricks() -> None:
    cfg = validate_config({})
    assert cfg["format"] == FORMAT and cfg["model"] == "small_cnn" and cfg["dataset"] == "digits"
    tricks = cfg["tricks"]
    assert tricks["linear_scaling"] and tricks["zero_gamma"] and tricks["no_bias_decay"]
    assert tricks["cosine"] and tricks["label_smoothing"] == 0.1
    assert tricks["reference_batch"] == 256
    assert set(cfg) == set(DEFAULTS)


def test_partial_sections_keep_their_other_defaults() -> None:
    cfg = validate_config({"optimizer": {"lr": 0.2}, "tricks": {"mixup": 0.2}})
    assert cfg["optimizer"]["momentum"] == 0.9 and cfg["optimizer"]["lr"] == 0.2
    assert cfg["tricks"]["mixup"] == 0.2 and cfg["tricks"]["cosine"] is True


def test_validation_is_idempotent() -> None:
    cfg = validate_config({"schedule": {"format": "lrlab.schedule/1", "base_lr": 0.1,
                                        "total_steps": 100, "main": {"kind": "cosine"}},
                           "tricks": {"distillation": {"teacher": "runs/t"}}})
    assert validate_config(cfg) == cfg
    assert cfg["tricks"]["distillation"] == {"teacher": "runs/t", "temperature": 20.0,
                                             "weight": 1.0}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"batch_size": "64"}, "batch_size: expected an integer >= 1, got '64'"),
        ({"epochs": 0}, "epochs: expected an integer >= 1"),
        ({"epochs": True}, "epochs: expected an integer"),
        ({"model": "resnet1000"}, "model: expected one of"),
        ({"dataset": "imagenet"}, "dataset: expected one of"),
        ({"variant": "E"}, "variant: expected one of A, B, C, D"),
        ({"precision": "fp8"}, "precision: expected one of"),
        ({"learning_rate": 0.1}, "unknown field(s) learning_rate"),
        ({"format": "lrlab.train/5"},
         "format: expected 'lrlab.train/1' or 'lrlab.train/2' or 'lrlab.train/3' or "
         "'lrlab.train/4'"),
        ({"origin": {"range_test": "7"}}, "origin.range_test: expected a job id"),
        ({"origin": {"parent": 7}}, "origin: unknown field"),
        ({"optimizer": {"name": "lion"}}, "optimizer.name: expected one of sgd, sgdw, adam, adamw"),
        ({"optimizer": {"lr": 0}}, "optimizer.lr: expected a number in (0, 100]"),
        ({"optimizer": {"lr": float("nan")}}, "optimizer.lr: expected a finite number, got nan"),
        ({"optimizer": {"lr": "1e-3"}}, "optimizer.lr: expected a number, got '1e-3'"),
        ({"optimizer": {"name": "adam", "nesterov": True}}, "optimizer.nesterov: needs SGD"),
        ({"optimizer": {"betas": [0.9, 0.999]}},
         "optimizer.betas: only the Adam family takes betas, not SGD"),
        ({"optimizer": {"name": "adam", "betas": [0.9]}}, "optimizer.betas: expected two"),
        ({"optimizer": {"lrr": 1}}, "optimizer: unknown field(s) lrr"),
        ({"optimizer": [0.1]}, "optimizer: expected a mapping"),
        ({"tricks": {"label_smoothing": 1.5}}, "tricks.label_smoothing: expected a number in"),
        ({"tricks": {"cosine": "yes"}}, "tricks.cosine: expected true or false"),
        ({"tricks": {"warmup": 5}}, "tricks: unknown field(s) warmup"),
        ({"tricks": {"distillation": {"teacher": ""}}}, "tricks.distillation.teacher"),
        ({"tricks": {"distillation": {"teacher": "t", "temperature": 0}}},
         "tricks.distillation.temperature"),
        ({"grad_clip": -1.0}, "grad_clip: expected a number in (0"),
        ({"schedule": {"format": "lrlab.schedule/1", "base_lr": -1, "total_steps": 10,
                       "main": {"kind": "cosine"}}}, "base_lr"),
        ({"dataset": "cifar10"}, "data_root: dataset 'cifar10' needs a data folder"),
        ({"dataset": "image_folder", "data_root": "/no/such/folder"},
         "data_root: folder '/no/such/folder' does not exist"),
    ],
)
def test_bad_config_names_the_field(config: dict, message: str) -> None:
    with pytest.raises(LrlabError) as info:
        validate_config(config)
    assert message in str(info.value)


def test_downloadable_set_with_missing_folder_hints_download(tmp_path) -> None:
    with pytest.raises(LrlabError, match="or set download: true"):
        validate_config({"dataset": "cifar10", "data_root": str(tmp_path / "cifar")})
    cfg = validate_config({"dataset": "cifar10", "data_root": str(tmp_path / "c"),
                           "download": True})
    assert cfg["download"] is True


def test_paper_schedule_by_hand() -> None:
    """Linear scaling lr·b/256, linear warmup from 0 over warmup_epochs, then cosine to 0."""
    cfg = validate_config({"batch_size": 64, "epochs": 4, "optimizer": {"lr": 0.4},
                           "tricks": {"warmup_epochs": 1}})
    steps_per_epoch = 10
    schedule = build_schedule(cfg, steps_per_epoch)
    peak, warmup, total = 0.4 * 64 / 256, 10, 40
    t = np.arange(total)
    expected = np.where(
        t < warmup, peak * t / warmup,
        peak * (1 + np.cos(math.pi * (t - warmup) / (total - warmup))) / 2)
    np.testing.assert_allclose(schedule.lr(t), expected, rtol=1e-12, atol=1e-15)


def test_without_cosine_the_papers_step_decay_at_quarter_fractions() -> None:
    cfg = validate_config({"batch_size": 256, "epochs": 8, "optimizer": {"lr": 0.1},
                           "tricks": {"warmup_epochs": 0, "cosine": False}})
    schedule = build_schedule(cfg, 10)  # 80 updates: ÷10 at 20, 40 and 60
    lrs = schedule.lr(np.arange(80))
    np.testing.assert_allclose(lrs[[0, 19, 20, 39, 40, 59, 60, 79]],
                               [0.1, 0.1, 0.01, 0.01, 1e-3, 1e-3, 1e-4, 1e-4], rtol=1e-12)


def test_linear_scaling_off_keeps_the_lr() -> None:
    cfg = validate_config({"batch_size": 32, "epochs": 2, "optimizer": {"lr": 0.05},
                           "tricks": {"linear_scaling": False, "warmup_epochs": 0}})
    assert build_schedule(cfg, 5).lr_at(0) == pytest.approx(0.05)


def test_a_given_schedule_is_used_as_is() -> None:
    given = {"format": "lrlab.schedule/1", "base_lr": 0.3, "total_steps": 50,
             "main": {"kind": "onecycle"}}
    cfg = validate_config({"schedule": given, "batch_size": 32})
    schedule = build_schedule(cfg, 7)
    assert schedule.to_dict() == cfg["schedule"] and schedule.total_steps == 50


def _model() -> nn.Module:
    return build_model("resnet18", num_classes=3, in_channels=1, image_size=8, width=4)


def test_optimizer_no_bias_decay_groups_and_nesterov() -> None:
    cfg = validate_config({"optimizer": {"weight_decay": 1e-4, "nesterov": True}})
    model = _model()
    opt = create_optimizer(model, cfg["optimizer"], 0.05, no_bias_decay=True)
    assert isinstance(opt, torch.optim.SGD)
    decayed, rest = opt.param_groups
    assert decayed["weight_decay"] == 1e-4 and rest["weight_decay"] == 0.0
    assert all(g["nesterov"] and g["momentum"] == 0.9 and g["lr"] == 0.05
               for g in opt.param_groups)
    kernels = {id(m.weight) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    assert {id(p) for p in decayed["params"]} == kernels
    bn = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert {id(m.weight) for m in bn} | {id(m.bias) for m in bn} <= {id(p) for p in rest["params"]}


def test_optimizer_adam_family_uses_momentum_as_beta1_or_given_betas() -> None:
    model = _model()
    adam = create_optimizer(model, validate_config({"optimizer": {"name": "adam",
                                                                 "momentum": 0.8}})["optimizer"],
                           1e-3, no_bias_decay=True)
    assert isinstance(adam, torch.optim.Adam) and adam.param_groups[0]["betas"] == (0.8, 0.999)
    adamw = create_optimizer(model, validate_config(
        {"optimizer": {"name": "adamw", "betas": [0.95, 0.98]}})["optimizer"], 1e-3,
        no_bias_decay=False)
    assert isinstance(adamw, torch.optim.AdamW) and len(adamw.param_groups) == 1
    assert adamw.param_groups[0]["betas"] == (0.95, 0.98)


def test_augmentation_is_a_choice_and_old_true_false_files_still_load() -> None:
    assert validate_config({})["augment"] == "auto"
    assert validate_config({"augment": True})["augment"] == "auto"
    assert validate_config({"augment": False})["augment"] == "none"
    assert validate_config({"augment": "crop"})["augment"] == "crop"
    with pytest.raises(LrlabError, match="augment: expected one of auto, none, shift"):
        validate_config({"augment": "rotate"})


def test_a_train_1_file_reads_as_the_newest_with_no_origin_nor_trackers() -> None:
    cfg = validate_config({"format": "lrlab.train/1", "model": "small_cnn", "augment": True})
    assert cfg["format"] == "lrlab.train/4" and cfg["origin"] is None  # read, written as /4
    assert cfg["log_to"] is None  # /4's trackers: unset, LRLAB_LOG_TO where it runs
    assert cfg["augment"] == "auto"  # /1's boolean augmentation
    origin = validate_config({"origin": {"range_test": 4}})["origin"]
    assert origin == {"range_test": 4, "check": None}
