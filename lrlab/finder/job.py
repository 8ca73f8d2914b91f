"""A range test from a config: the setup (an ``lrlab.train/2`` config: model, data, loss and
optimizer groups, built as training builds them), one sweep per seed, the curve analysis and
schedule advice sized to the setup's planned run, as an ``lrlab.range_test/2`` dict.

This is the job worker's entry (``run_from_config``) and what ``lrlab find`` calls. Each seed uses
the same initial weights (the engine restores them after every sweep) and its own data order, so
the band shows how much the suggestion depends on the batches drawn.

The config is ``{"setup": <lrlab.train/2 config>, <sweep fields>}``. A flat config (the
``lrlab.range_test/1`` shape: model, dataset, optimizer, ... beside the sweep fields) still
reads, as the setup it always tested: batch 64, fp32, ResNet variant A, plain cross-entropy, no
zero-γ, weight decay on every parameter.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lrlab import __version__
from lrlab.core import options
from lrlab.core.errors import LrlabError
from lrlab.core.optimizer_table import optimizer_info
from lrlab.core.reporting import Reporter
from lrlab.core.validation import refuse_unknown, require_mapping
from lrlab.finder.curves import RANGE_TEST_FORMAT as FORMAT
from lrlab.finder.stop_reason import StopReason
from lrlab.tasks.task_config import is_task

SWEEP_FIELDS = ("start_lr", "end_lr", "num_points", "mode", "seeds", "val_every", "val_batches",
                "batches_per_point", "accumulation_steps", "advice_steps")
SWEEP_DEFAULTS: dict[str, Any] = options.defaults("", SWEEP_FIELDS)
# The flat (lrlab.range_test/1) config's setup fields, and what it tested when they were unset.
FLAT_SETUP_FIELDS = ("model", "dataset", "data_root", "seed", "device", "limit", "batch_size",
                     "precision", "variant", "norm", "width", "augment", "optimizer")
FLAT_SETUP: dict[str, Any] = {
    "batch_size": 64, "precision": "fp32", "variant": "A",
    "tricks": {"zero_gamma": False, "no_bias_decay": False, "label_smoothing": 0.0,
               "mixup": 0.0},
}


def setup_from_flat(config: Mapping[str, Any]) -> dict[str, Any]:
    """The ``{"setup": ..., sweep...}`` config of a flat (/1) one, testing the same network with
    the same loss as before; unknown fields are refused by name."""
    refuse_unknown(config, [*FLAT_SETUP_FIELDS, *SWEEP_FIELDS], "find config")
    setup = {**FLAT_SETUP, **{k: config[k] for k in FLAT_SETUP_FIELDS if k in config}}
    return {"setup": setup, **{k: config[k] for k in SWEEP_FIELDS if k in config}}


def finder_setup(config: Mapping[str, Any]) -> dict[str, Any]:
    """The setup of a stored range test's config, either shape (no checks: it was validated
    when it was queued)."""
    return dict(config["setup"] if "setup" in config else setup_from_flat(config)["setup"])


def validate_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """``{"setup": <checked lrlab.train/2 config>, <sweep fields>}`` with defaults filled in;
    bad fields raise LrlabError naming the field."""
    from lrlab.tasks.setups import validate_setup

    require_mapping(config, "find config")
    if "setup" not in config:
        config = setup_from_flat(config)
    refuse_unknown(config, ["setup", *SWEEP_FIELDS], "find config")
    given = {k: v for k, v in config.items() if k != "setup" and v is not None}
    if is_task(config["setup"]) and "accumulation_steps" not in given:
        # a task's run accumulates as its config says: its sweep steps the same batches
        given["accumulation_steps"] = config["setup"].get("accumulation_steps") or 1
    sweep = options.check({**SWEEP_DEFAULTS, **given}, SWEEP_FIELDS)
    if not sweep["end_lr"] > sweep["start_lr"]:
        raise LrlabError(f"end_lr: expected a number above start_lr={sweep['start_lr']:g}, "
                         f"got {sweep['end_lr']!r}")
    if not isinstance(config["setup"], Mapping):
        raise LrlabError("setup: expected an lrlab.train/4 config (a mapping), got "
                         f"{config['setup']!r}")
    setup = validate_setup(config["setup"])  # last: the registries import torch
    if setup["nproc"] != 1:
        raise LrlabError("setup.nproc: a range test runs in one process; it sweeps the same "
                         "global batch as the data-parallel run would (nproc: 1)")
    info = optimizer_info(setup["optimizer"]["name"], "setup.optimizer.name")
    if info.lr_free and info.averaged != "own":
        raise LrlabError(f"setup.optimizer.name: {info.name} ({info.title}) sets its own step "
                         "size, so a range test has no LR to sweep; train it at its paper's LR "
                         f"({info.default_lr:g}) as it is")
    return {"setup": setup, **sweep}


def warm_up(device: str) -> None:
    """Start-up costs of every range test, paid before the job arrives (see jobs.worker)."""
    import importlib

    from lrlab.core.device import warm_up as warm_up_torch

    warm_up_torch(device)
    importlib.import_module("scipy.signal")  # the curve smoothing's lazy import, ~2 s


@dataclass
class _Sweep:
    """What a range test sweeps: the setup's data, network, loss and optimizer on its device
    (for a task: its training loader and its batches per epoch)."""

    dataset: Any
    model: Any
    optimizer: Any
    step: Callable[[Any, Any], Any]
    device: Any
    precision: Any
    task: Any = None


def run_from_config(config: dict[str, Any], reporter: Reporter,
                    task: Any = None) -> dict[str, Any]:
    """Run the range test(s) a config describes and return the ``lrlab.range_test/2`` dict:
    build the setup, sweep once per seed, analyse the curves, and assemble the result. `task`:
    the setup's task when the caller built it already (the Python API)."""
    cfg = validate_config(config)
    started = time.perf_counter()
    sweep = _build_task(cfg, task) if is_task(cfg["setup"]) else _build(cfg)
    curves = _sweep_seeds(cfg, sweep, reporter)
    first = curves[0]
    if len(first.lrs) < 5:
        raise LrlabError(f"the range test stopped ({first.stop_reason}) after {len(first.lrs)} "
                         "point(s); at least 5 are needed to analyse it")
    return _assemble(cfg, sweep, curves, started)


def _build(cfg: Mapping[str, Any]) -> _Sweep:
    """The setup, built as training builds it (lrlab.tasks.image.builders)."""
    from lrlab.core.device import resolve_device
    from lrlab.core.precision import resolve_precision
    from lrlab.tasks.image.builders import (
        build_network,
        build_objective,
        build_optimizer,
        load_data,
    )

    setup = cfg["setup"]
    device = resolve_device(setup["device"])
    precision = resolve_precision(setup["precision"], device)
    dataset = load_data(setup)
    model, memory_format, _ = build_network(setup, dataset, device)
    objective = build_objective(setup, dataset, device)

    def step(net: Any, batch: Any) -> Any:
        x, y = batch
        return objective(net, x.to(memory_format=memory_format), y)[0]

    return _Sweep(dataset, model, build_optimizer(setup, model, cfg["start_lr"]), step, device,
                  precision)


def _build_task(cfg: Mapping[str, Any], task: Any) -> _Sweep:
    """A task's model and optimizer over its groups, its loss on the run's device and
    precision: the run's own, so the suggestion is for the run."""
    from lrlab.core.device import resolve_device
    from lrlab.core.precision import resolve_precision
    from lrlab.tasks.loading import build_task
    from lrlab.tasks.optimizers import optimizer_over, task_groups

    setup = cfg["setup"]
    device = resolve_device(setup["device"])
    precision = resolve_precision(setup["precision"], device)
    task = task or build_task(setup["task"]["spec"], setup["task"]["args"], setup["seed"])
    task.model.to(device)
    groups = task_groups(task.model, task.param_groups, setup["optimizer"]["weight_decay"])
    spec = setup["task"]["spec"]

    def step(net: Any, batch: Any) -> Any:
        try:
            return task.loss_of(net, batch)
        except LrlabError as exc:
            raise LrlabError(f"task {spec!r}: {exc}") from None
        except Exception as exc:  # the model could not take the batch, or the loss failed
            raise LrlabError(f"task {spec!r}: computing the loss of a batch raised "
                             f"{type(exc).__name__}: {exc}") from None

    return _Sweep(None, task.model, optimizer_over(groups, setup["optimizer"], cfg["start_lr"]),
                  step, device, precision, task)


def _sweep_seeds(cfg: Mapping[str, Any], sweep: _Sweep, reporter: Reporter) -> list[Any]:
    """One sweep per seed, each from the same weights with its own data order."""
    import torch

    from lrlab.finder.range_test import range_test
    from lrlab.tasks.image.data import make_loader

    setup = cfg["setup"]
    val_batches = None
    if cfg["val_every"]:
        val_loader = (sweep.task.val or () if sweep.task is not None else make_loader(
            sweep.dataset, "val", setup["batch_size"], device=sweep.device, shuffle=False,
            seed=setup["seed"]))
        val_batches = [b for _, b in zip(range(cfg["val_batches"]), val_loader, strict=False)]
    curves = []
    seeds = [setup["seed"] + k for k in range(cfg["seeds"])]
    for k, seed in enumerate(seeds):
        torch.manual_seed(seed)  # a task's shuffling loader draws its order from here
        loader = sweep.task.train if sweep.task is not None else make_loader(
            sweep.dataset, "train", setup["batch_size"], device=sweep.device, seed=seed,
            augment=setup["augment"])
        curve = range_test(
            sweep.model, sweep.optimizer, loader, step_fn=sweep.step,
            start_lr=cfg["start_lr"], end_lr=cfg["end_lr"], num_points=cfg["num_points"],
            mode=cfg["mode"], batches_per_point=cfg["batches_per_point"],
            accumulation_steps=cfg["accumulation_steps"], precision=sweep.precision,
            val_batches=val_batches, val_every=cfg["val_every"], device=sweep.device,
            reporter=_SeedReporter(reporter, k, len(seeds), cfg["num_points"]),
        )
        curves.append(curve)
        if curve.stop_reason is StopReason.CANCELLED:
            break
    return curves


def _assemble(cfg: Mapping[str, Any], sweep: _Sweep, curves: list[Any],
              started: float) -> dict[str, Any]:
    """The analysis of the curves, advice sized to the planned run, and the environment."""
    import torch

    from lrlab.core.device import describe_device
    from lrlab.finder.advice import advise
    from lrlab.finder.analysis import analyze
    setup, first = cfg["setup"], curves[0]
    extra = [(c.lrs, c.losses) for c in curves[1:] if len(c.lrs) >= 5]
    analysis = analyze(first.lrs, first.losses, curves=extra or None,
                       stop_reason=first.stop_reason, optimizer=setup["optimizer"]["name"],
                       planned_steps=cfg["num_points"])
    run = _planned_run(setup, sweep)
    effective = first.effective_batch or (run["batch_size"] or 1) * cfg["accumulation_steps"]
    advice_steps = cfg["advice_steps"] or max(8, run["updates"])
    # a task trains at its loader's own batch: its advice is for that batch, no scaling block
    advice = (advise(analysis, total_steps=advice_steps, batch_size=effective,
                     optimizer=setup["optimizer"]["name"],
                     target_batch_size=None if sweep.task is not None else setup["batch_size"])
              if analysis.consensus is not None else {})
    result: dict[str, Any] = {"format": FORMAT, "config": cfg, **analysis.to_dict()}
    result.update({
        "raw": first.to_dict(),
        "effective_batch": effective,
        "skipped_steps": sum(c.skipped_steps for c in curves),
        "advice": advice,
        "planned_run": {**run, "advice_steps": advice_steps},
        "environment": {
            "device": describe_device(sweep.device),
            "precision": sweep.precision.name,
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


def _planned_run(setup: Mapping[str, Any], sweep: _Sweep) -> dict[str, Any]:
    """The run the advice is sized for: its epochs, updates and batch (and, for a task, the
    batches in one epoch of its loader, which its LR check then budgets by)."""
    if sweep.task is None:
        from lrlab.tasks.image.planned_run import planned_updates

        return {"epochs": setup["epochs"], "batch_size": setup["batch_size"],
                "updates": planned_updates(setup, len(sweep.dataset.train))}
    from lrlab.tasks.protocol import batch_size_of, batches_in
    from lrlab.tasks.task_config import planned_updates as task_updates

    batches = setup["batches_per_epoch"] or batches_in(sweep.task.train)
    return {"epochs": setup["epochs"], "batch_size": batch_size_of(sweep.task.train),
            "batches_per_epoch": batches, "updates": task_updates(setup, batches)}


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
