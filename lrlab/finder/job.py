"""A range test from a config: model, data and optimizer from the library's registries, one sweep
per seed, the curve analysis and schedule advice, as an ``lrlab.range_test/1`` dict.

This is the job worker's entry (``run_from_config``) and what ``lrlab find`` calls. Each seed uses
the same initial weights (the engine restores them after every sweep) and its own data order, so
the band shows how much the suggestion depends on the batches drawn.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Mapping
from typing import Any

from lrlab import __version__, options
from lrlab.errors import LrlabError
from lrlab.finder.stop_reason import StopReason
from lrlab.reporting import Reporter

FORMAT = "lrlab.range_test/1"
# The sweep's own defaults; the setup's fields (model, data, optimizer) are declared in
# lrlab.options. A range test defaults to a smaller batch and fp32 for a quick, exact curve.
DEFAULTS: dict[str, Any] = {
    **options.defaults("", ("data_root", "seed", "device", "limit", "start_lr", "end_lr",
                            "num_points", "mode", "seeds", "val_every", "val_batches",
                            "batches_per_point", "accumulation_steps", "advice_steps")),
    "batch_size": 64,
    "precision": "fp32",
    # The network as training builds it; variant A is what range tests used before these
    # fields existed, so older configs test the same network.
    "variant": "A",
    **options.defaults("", ("norm", "width", "augment")),
    "optimizer": options.defaults("optimizer", ("name", "momentum", "weight_decay")),
}


def validate_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config with defaults filled in; bad fields raise LrlabError naming the field."""
    if not isinstance(config, Mapping):
        raise LrlabError(f"find config: expected a mapping, got {type(config).__name__}")
    unknown = set(config) - set(DEFAULTS) - {"model", "dataset"}
    if unknown:
        raise LrlabError(f"find config: unknown field(s) {', '.join(sorted(unknown))}")
    out = {**DEFAULTS, **config}
    if not isinstance(config.get("optimizer") or {}, Mapping):
        raise LrlabError("optimizer: expected a mapping with name, momentum, weight_decay, "
                         f"got {config['optimizer']!r}")
    out["optimizer"] = options.check({**DEFAULTS["optimizer"], **(config.get("optimizer") or {})},
                                     ("name", "momentum", "weight_decay"), "optimizer")
    out = options.check(out, ("batch_size", "seeds", "batches_per_point", "accumulation_steps",
                              "val_batches", "advice_steps", "val_every", "seed", "limit",
                              "start_lr", "end_lr", "num_points", "mode", "precision",
                              "data_root", "variant", "norm", "width", "augment"))
    if not out["end_lr"] > out["start_lr"]:
        raise LrlabError(f"end_lr: expected a number above start_lr={out['start_lr']:g}, "
                         f"got {out['end_lr']!r}")
    # the registries import torch: checked last, so the cheap checks answer first
    from lrlab.data import check_data_root

    out.update(options.check({k: out.get(k) for k in ("model", "dataset")},
                             ("model", "dataset")))
    check_data_root(out["dataset"], out["data_root"])
    if out["norm"] != "batch" and not out["model"].startswith("resnet"):
        raise LrlabError(f"norm: {out['norm']!r} (Fixup) is for the ResNets; "
                         f"{out['model']} keeps BatchNorm")
    return out


def warm_up(device: str) -> None:
    """Start-up costs of every range test, paid before the job arrives (see jobs.worker)."""
    import importlib

    from lrlab.device import warm_up as warm_up_torch

    warm_up_torch(device)
    importlib.import_module("scipy.signal")  # the curve smoothing's lazy import, ~2 s


def run_from_config(config: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    """Run the range test(s) a config describes and return the ``lrlab.range_test/1`` dict."""
    cfg = validate_config(config)
    import torch
    from torch import nn

    from lrlab.data import load_dataset, make_loader
    from lrlab.device import describe_device, resolve_device
    from lrlab.finder.advice import advise
    from lrlab.finder.analysis import analyze
    from lrlab.finder.range_test import range_test
    from lrlab.models import build_model
    from lrlab.optimizers import build_optimizer
    from lrlab.precision import resolve_precision

    started = time.perf_counter()
    device = resolve_device(cfg["device"])
    precision = resolve_precision(cfg["precision"], device)
    dataset = load_dataset(cfg["dataset"], root=cfg["data_root"], seed=cfg["seed"],
                           limit=cfg["limit"])
    torch.manual_seed(cfg["seed"])
    model = build_model(cfg["model"], num_classes=dataset.num_classes,
                        in_channels=dataset.in_channels, image_size=dataset.image_size,
                        variant=cfg["variant"], norm=cfg["norm"], width=cfg["width"]).to(device)
    optimizer = build_optimizer(model, cfg["optimizer"], cfg["start_lr"], no_bias_decay=False)
    val_batches = None
    if cfg["val_every"]:
        val_loader = make_loader(dataset, "val", cfg["batch_size"], device=device, shuffle=False,
                                 seed=cfg["seed"])
        val_batches = [b for _, b in zip(range(cfg["val_batches"]), val_loader, strict=False)]

    curves = []
    seeds = [cfg["seed"] + k for k in range(cfg["seeds"])]
    for k, seed in enumerate(seeds):
        loader = make_loader(dataset, "train", cfg["batch_size"], device=device, seed=seed,
                             augment=cfg["augment"])
        torch.manual_seed(seed)
        curve = range_test(
            model, optimizer, loader, criterion=nn.CrossEntropyLoss(),
            start_lr=cfg["start_lr"], end_lr=cfg["end_lr"], num_points=cfg["num_points"],
            mode=cfg["mode"], batches_per_point=cfg["batches_per_point"],
            accumulation_steps=cfg["accumulation_steps"], precision=precision,
            val_batches=val_batches, val_every=cfg["val_every"],
            reporter=_SeedReporter(reporter, k, len(seeds), cfg["num_points"]),
        )
        curves.append(curve)
        if curve.stop_reason is StopReason.CANCELLED:
            break

    first = curves[0]
    if len(first.lrs) < 5:
        raise LrlabError(f"the range test stopped ({first.stop_reason}) after {len(first.lrs)} "
                         "point(s); at least 5 are needed to analyse it")
    extra = [(c.lrs, c.losses) for c in curves[1:] if len(c.lrs) >= 5]
    analysis = analyze(first.lrs, first.losses, curves=extra or None,
                       stop_reason=first.stop_reason, optimizer=cfg["optimizer"]["name"],
                       planned_steps=cfg["num_points"])
    effective = first.effective_batch or cfg["batch_size"] * cfg["accumulation_steps"]
    advice = (advise(analysis, total_steps=cfg["advice_steps"], batch_size=effective,
                     optimizer=cfg["optimizer"]["name"])
              if analysis.consensus is not None else {})
    result: dict[str, Any] = {"format": FORMAT, "config": cfg, **analysis.to_dict()}
    result.update({
        "raw": first.to_dict(),
        "effective_batch": effective,
        "skipped_steps": sum(c.skipped_steps for c in curves),
        "advice": advice,
        "environment": {
            "device": describe_device(device),
            "precision": precision.name,
            "torch": torch.__version__,
            "lrlab": __version__,
            "python": platform.python_version(),
            "seconds": time.perf_counter() - started,
        },
    })
    if len(curves) > 1:
        result.setdefault("seeds", {})["curves"] = [c.to_dict() for c in curves]
    if first.val_lrs:
        result["validation"] = {"lr": first.val_lrs, "loss": first.to_dict()["val_loss"]}
    return result


class _SeedReporter:
    """Forwards one seed's steps with a running step number and overall progress."""

    def __init__(self, inner: Reporter, index: int, count: int, points: int) -> None:
        self.inner, self.index, self.count, self.points = inner, index, count, points

    def step(self, step: int, metrics: Mapping[str, float]) -> None:
        self.inner.step(self.index * self.points + step, {**metrics, "seed": float(self.index)})

    def epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        self.inner.epoch(epoch, metrics)

    def progress(self, fraction: float, message: str = "") -> None:
        prefix = f"seed {self.index + 1}/{self.count}: " if self.count > 1 else ""
        self.inner.progress((self.index + fraction) / self.count, prefix + message)

    def should_stop(self) -> bool:
        return self.inner.should_stop()
