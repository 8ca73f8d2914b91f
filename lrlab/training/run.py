"""One training run in this process (or as one rank of a data-parallel run), top to bottom: data
on the device, the model with its tricks, the schedule, the loop, and the run folder."""

from __future__ import annotations

import platform
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lrlab import __version__
from lrlab.core.device import describe_device, resolve_device
from lrlab.core.errors import LrlabError
from lrlab.core.precision import Precision, resolve_precision
from lrlab.core.reporting import Reporter
from lrlab.schedules import Schedule
from lrlab.tasks.image.builders import build_network, build_objective, build_optimizer, load_data
from lrlab.tasks.image.checkpoint import save_checkpoint
from lrlab.tasks.image.config import FORMAT
from lrlab.tasks.image.data import make_loader
from lrlab.tasks.image.planned_run import build_schedule, fit_schedule, follow_batch_plan
from lrlab.training import run_folder
from lrlab.training.loop import LoopResult, Stop, run_epochs
from lrlab.training.ranks import Rank


@dataclass
class _Setup:
    """What a run trains with, built from its config before the first update."""

    dataset: Any
    model: torch.nn.Module
    network: torch.nn.Module  # the model as trained: compiled and/or wrapped in DDP
    size: Any
    memory_format: torch.memory_format
    train_loader: Any
    val_loader: Any
    schedule: Schedule
    fit: dict[str, Any]
    optimizer: torch.optim.Optimizer
    objective: Any


def run_one(cfg: Mapping[str, Any], reporter: Reporter, out_dir: Path | None = None,
            *, rank: Rank | None = None) -> dict[str, Any]:
    """Train a validated config here; with `rank`, this process's share of every batch."""
    if out_dir is not None:
        out_dir = Path(out_dir)
        run_folder.prepare(out_dir, cfg)
    started = time.perf_counter()
    device = resolve_device(cfg["device"])
    precision = resolve_precision(cfg["precision"], device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input shapes: let cuDNN pick its kernels
    reporter.progress(0.0, f"loading {cfg['dataset']}")
    setup = _build(cfg, device, rank)
    setup_s = time.perf_counter() - started
    with run_folder.metrics_reporter(out_dir, reporter) as step_reporter:
        loop = run_epochs(setup.network, setup.optimizer, setup.schedule.torch(setup.optimizer),
                          setup.train_loader, setup.val_loader, cfg["epochs"],
                          objective=setup.objective, reporter=step_reporter,
                          grad_clip=cfg["grad_clip"], precision=precision,
                          memory_format=setup.memory_format, ranks=rank)
    result = _result(cfg, setup, loop, device, precision, out_dir,
                     {"setup_s": setup_s, "wall_time_s": time.perf_counter() - started})
    if loop.stopped is Stop.NON_FINITE:
        where = f"; metrics so far are in {out_dir}" if out_dir is not None else ""
        raise LrlabError(f"training stopped: {loop.stop_reason}. Lower optimizer.lr or turn on "
                         f"grad_clip{where}")
    # The share of the planned updates actually done: a cancelled run must not look complete.
    planned = cfg["epochs"] * len(setup.train_loader)
    reporter.progress(min(1.0, loop.steps_done / planned) if planned else 1.0, loop.stop_reason)
    return result


def _build(cfg: Mapping[str, Any], device: torch.device, rank: Rank | None) -> _Setup:
    """Data, network, schedule (fitted to the run), optimizer and loss, as the config says."""
    dataset = load_data(cfg)
    model, memory_format, size = build_network(cfg, dataset, device)
    train_loader = make_loader(dataset, "train", cfg["batch_size"], device=device,
                               seed=cfg["seed"], augment=cfg["augment"])
    val_loader = make_loader(dataset, "val", cfg["batch_size"], device=device, seed=cfg["seed"])
    schedule, fit = fit_schedule(build_schedule(cfg, len(train_loader)), cfg,
                                 train_loader.planned_updates(cfg["epochs"]))
    follow_batch_plan(train_loader, schedule, cfg["batch_size"])
    if rank is not None:  # each rank takes its part of every global batch
        train_loader.shard(rank.rank, rank.world)
        val_loader.shard(rank.rank, rank.world)
        if cfg["sync_bn"]:
            if device.type != "cuda":
                raise LrlabError("sync_bn: PyTorch's SyncBatchNorm runs on GPUs only; on CPU "
                                 "each rank keeps its own BatchNorm statistics (sync_bn: false)")
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    optimizer = build_optimizer(cfg, model, schedule.effective_base_lr)
    objective = build_objective(cfg, dataset, device)
    network = torch.compile(model) if cfg["compile"] else model
    if rank is not None:  # gradients averaged over the ranks in backward
        network = torch.nn.parallel.DistributedDataParallel(
            network, device_ids=[device.index] if device.type == "cuda" else None)
    return _Setup(dataset, model, network, size, memory_format, train_loader, val_loader,
                  schedule, fit, optimizer, objective)


def _result(cfg: Mapping[str, Any], setup: _Setup, loop: LoopResult, device: torch.device,
            precision: Precision, out_dir: Path | None,
            times: dict[str, float]) -> dict[str, Any]:
    """The run's record (and its run folder's summary and checkpoint)."""
    data = data_record(setup.dataset)
    summary = {**summarize(loop), "setup_s": times["setup_s"],
               "train_time_s": loop.train_seconds, "wall_time_s": times["wall_time_s"],
               "params": setup.size.params, "macs": setup.size.macs, "schedule_fit": setup.fit}
    result = {
        "format": FORMAT,
        "config": cfg,
        "summary": summary,
        "epochs": loop.epochs,
        "schedule": setup.schedule.to_dict(),
        "data": data,
        "environment": {"device": describe_device(device), "precision": precision.name,
                        "torch": torch.__version__, "lrlab": __version__,
                        "python": platform.python_version()},
        "out_dir": str(out_dir) if out_dir is not None else None,
    }
    if out_dir is not None:
        run_folder.write_json(out_dir / run_folder.SUMMARY, {k: v for k, v in result.items()
                                                              if k != "config"})
        if loop.epochs:
            save_checkpoint(out_dir / "checkpoint.pt", setup.model, cfg, data, summary)
    return result


def data_record(dataset: Any) -> dict[str, Any]:
    """What a checkpoint needs to know of its data to be reused (classes, channels, norm)."""
    return {"num_classes": dataset.num_classes, "in_channels": dataset.in_channels,
            "image_size": list(dataset.image_size), "classes": dataset.classes,
            "mean": list(dataset.mean), "std": list(dataset.std),
            "train_examples": len(dataset.train), "val_examples": len(dataset.val)}


def summarize(loop: Any) -> dict[str, Any]:
    """The headline of a finished (or stopped) loop: why it stopped, best and final accuracy."""
    top1 = [e["val_top1"] for e in loop.epochs]
    best = max(range(len(top1)), key=top1.__getitem__) if top1 else None
    last = loop.epochs[-1] if loop.epochs else {}
    return {
        "stop_reason": loop.stop_reason,
        "epochs_done": len(loop.epochs),
        "steps": loop.steps_done,
        "best_val_top1": top1[best] if best is not None else None,
        "best_epoch": best,
        "final_val_top1": last.get("val_top1"),
        "final_val_top5": last.get("val_top5"),
        "final_val_loss": last.get("val_loss"),
        "final_train_loss": last.get("train_loss"),
        "images_per_s": loop.train_images / loop.train_seconds if loop.train_seconds else None,
    }


