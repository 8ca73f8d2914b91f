"""Fixup's claim on real data: without BatchNorm, a ResNet trains to the BN net's accuracy band
at the LR its own range test suggests (digits, ResNet-18-A, one seed; benchmarks/bench_fixup.py
runs more seeds and a large-LR row)."""

from __future__ import annotations

from lrlab.core.reporting import NullReporter
from lrlab.finder.job import run_from_config as range_test
from lrlab.finder.job import validate_config
from lrlab.training.job import train

NET = {"model": "resnet18", "variant": "A", "width": 16, "dataset": "digits", "seed": 1,
       "batch_size": 64, "device": "cpu"}


def _at_own_suggestion(norm: str) -> tuple[float, float]:
    found = range_test(validate_config({
        **NET, "norm": norm, "num_points": 100, "start_lr": 1e-5, "end_lr": 10.0,
        "optimizer": {"name": "sgd", "momentum": 0.9, "weight_decay": 5e-4}}), NullReporter())
    lr = found["suggestions"]["consensus"]
    run = train({**NET, "norm": norm, "epochs": 10, "optimizer": {"lr": lr},
                 "tricks": {"linear_scaling": False, "warmup_epochs": 1.0}})
    return lr, run["summary"]["final_val_top1"]


def test_fixup_reaches_the_batchnorm_band_at_its_own_suggested_lr() -> None:
    bn_lr, bn_top1 = _at_own_suggestion("batch")
    fixup_lr, fixup_top1 = _at_own_suggestion("none")
    assert bn_top1 > 0.9 and fixup_top1 > 0.9, (bn_top1, fixup_top1)
    assert abs(fixup_top1 - bn_top1) <= 0.05, (bn_lr, bn_top1, fixup_lr, fixup_top1)
