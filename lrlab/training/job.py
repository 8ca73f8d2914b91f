"""One training run from an `lrlab.train/2` config, top to bottom: data on the device, the model
with its tricks, the schedule, the loop, and the run folder.

This is the job worker's entry (`run_from_config`) and what `lrlab train` calls.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from lrlab import __version__
from lrlab.core.errors import LrlabError
from lrlab.core.reporting import NullReporter, Reporter
from lrlab.schedules import Schedule
from lrlab.schedules.fit import stretch
from lrlab.tasks.image.builders import build_network, build_objective, build_optimizer, load_data
from lrlab.tasks.image.config import FORMAT, validate_config
from lrlab.training import run_folder
from lrlab.training.distributed import Rank, end_process_group, torchrun_rank

# The paper's baseline divides the LR by 10 at epochs 30, 60 and 90 of 120; a run without the
# cosine trick does the same at the same fractions of its own length.
STEP_DECAY_FRACTIONS = (0.25, 0.5, 0.75)


def build_schedule(cfg: Mapping[str, Any], steps_per_epoch: int) -> Schedule:
    """The config's own schedule, or the paper's: linear scaling, linear warmup from 0, then
    cosine (or step) decay over the remaining updates."""
    if cfg["schedule"] is not None:
        return Schedule.from_dict(cfg["schedule"])
    tricks = cfg["tricks"]
    total = cfg["epochs"] * steps_per_epoch
    config: dict[str, Any] = {"format": "lrlab.schedule/1", "base_lr": cfg["optimizer"]["lr"],
                              "total_steps": total}
    if tricks["linear_scaling"]:
        config["scaling"] = {"rule": "linear", "reference_batch": tricks["reference_batch"],
                             "batch": cfg["batch_size"]}
    warmup = min(round(tricks["warmup_epochs"] * steps_per_epoch), total - 1)
    if warmup > 0:
        config["warmup"] = {"steps": warmup, "start_factor": 0.0, "shape": "linear"}
    main_steps = total - max(warmup, 0)
    if tricks["cosine"]:
        config["main"] = {"kind": "cosine", "min_lr": 0.0}
    else:
        milestones = sorted({round(main_steps * f) for f in STEP_DECAY_FRACTIONS} - {0})
        milestones = [m for m in milestones if m < main_steps]
        config["main"] = ({"kind": "multistep", "milestones": milestones, "gamma": 0.1}
                          if milestones else {"kind": "constant"})
    return Schedule.from_dict(config)


def fit_schedule(schedule: Schedule, cfg: Mapping[str, Any],
                 updates: int) -> tuple[Schedule, dict[str, Any]]:
    """A given schedule whose length is not the run's is never used silently: refused with both
    numbers, stretched to the run, or kept as is, as `schedule_fit` says."""
    fit = {"mode": cfg["schedule_fit"], "schedule_steps": schedule.total_steps,
           "run_updates": updates}
    if cfg["schedule"] is None or schedule.total_steps == updates:
        return schedule, {**fit, "mode": "fits"}
    if cfg["schedule_fit"] == "stretch":
        return stretch(schedule, updates), fit
    if cfg["schedule_fit"] == "keep":
        return schedule, fit
    raise LrlabError(
        f"schedule: its total_steps is {schedule.total_steps} but this run makes {updates} "
        f"updates ({cfg['epochs']} epochs of the {cfg['dataset']} training split at batch "
        f"{cfg['batch_size']}); choose --schedule-fit stretch (rescale every step-valued field "
        "to the run) or keep (use it as is)")


def planned_updates(cfg: Mapping[str, Any], dataset: Any = None) -> int:
    """The optimizer updates a run of this (validated) config makes: its training loader's
    batches over its epochs, a batch plan followed. Loads the dataset unless given, not the
    model."""
    from lrlab.tasks.image.data import make_loader

    loader = make_loader(dataset if dataset is not None else load_data(cfg), "train",
                         cfg["batch_size"], seed=cfg["seed"], augment="none")
    if cfg["schedule"] is not None:
        _follow_batch_plan(loader, Schedule.from_dict(cfg["schedule"]), cfg["batch_size"])
    return loader.planned_updates(cfg["epochs"])


def _follow_batch_plan(loader: Any, schedule: Schedule, batch_size: int) -> None:
    """A batch-size plan: the loader follows it update by update."""
    if schedule.config.get("batch"):
        loader.follow_plan(lambda update: schedule.batch_size(update, batch_size))


def check_schedule_fit(cfg: Mapping[str, Any]) -> None:
    """Before queueing: a given schedule of another length than the run is refused here with
    both numbers (unless schedule_fit says stretch or keep), not only once the job runs."""
    if cfg["schedule"] is not None:
        fit_schedule(Schedule.from_dict(cfg["schedule"]), cfg, planned_updates(cfg))


def warm_up(device: str) -> None:
    """Start-up costs of every training run, paid before the job arrives (see jobs.worker)."""
    from lrlab.core.device import warm_up as warm_up_torch

    warm_up_torch(device)


def train(
    config: Mapping[str, Any], reporter: Reporter | None = None, out_dir: Path | None = None,
    *, rank: Rank | None = None,
) -> dict[str, Any]:
    """Run the training a config describes; returns config, summary, per-epoch metrics and the
    schedule used. With `out_dir`, also writes the run folder. With `nproc` > 1 the run is
    data parallel (lrlab.training.distributed launches the ranks, each of which calls this with
    its `rank`).

    A non-finite loss ends the run with LrlabError naming the step; what was measured up to then
    is kept in the run folder.
    """
    from lrlab.core.device import describe_device, resolve_device
    from lrlab.core.precision import resolve_precision
    from lrlab.tasks.image.checkpoint import save_checkpoint
    from lrlab.tasks.image.data import make_loader
    from lrlab.training.loop import Stop, run_epochs

    cfg = validate_config(config)
    if rank is None and (torchrun := torchrun_rank(reporter or NullReporter())) is not None:
        me, rank_reporter, device_name = torchrun  # torchrun started this process as one rank
        try:
            result = train({**cfg, "device": device_name}, rank_reporter,
                           out_dir if me.rank == 0 else None, rank=me)
        except BaseException:
            end_process_group(together=False)  # the other ranks may never get here
            raise
        end_process_group(together=True)
        return result
    if cfg["nproc"] > 1 and rank is None:
        from lrlab.training.distributed import launch

        return launch(cfg, reporter or NullReporter(), out_dir)
    if out_dir is not None:
        out_dir = Path(out_dir)
        run_folder.prepare(out_dir, cfg)
    reporter = reporter or NullReporter()
    started = time.perf_counter()
    device = resolve_device(cfg["device"])
    precision = resolve_precision(cfg["precision"], device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input shapes: let cuDNN pick its kernels
    reporter.progress(0.0, f"loading {cfg['dataset']}")
    dataset = load_data(cfg)
    model, memory_format, size = build_network(cfg, dataset, device)
    train_loader = make_loader(dataset, "train", cfg["batch_size"], device=device,
                               seed=cfg["seed"], augment=cfg["augment"])
    val_loader = make_loader(dataset, "val", cfg["batch_size"], device=device, seed=cfg["seed"])
    schedule, fit = fit_schedule(build_schedule(cfg, len(train_loader)), cfg,
                                 train_loader.planned_updates(cfg["epochs"]))
    _follow_batch_plan(train_loader, schedule, cfg["batch_size"])
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
    setup_s = time.perf_counter() - started

    with run_folder.metrics_reporter(out_dir, reporter) as step_reporter:
        loop = run_epochs(network, optimizer, schedule.torch(optimizer), train_loader,
                          val_loader, cfg["epochs"], objective=objective,
                          reporter=step_reporter, grad_clip=cfg["grad_clip"],
                          precision=precision, memory_format=memory_format, ranks=rank)

    data = data_record(dataset)
    summary = {**summarize(loop), "setup_s": setup_s, "train_time_s": loop.train_seconds,
               "wall_time_s": time.perf_counter() - started, "params": size.params,
               "macs": size.macs, "schedule_fit": fit}
    result = {
        "format": FORMAT,
        "config": cfg,
        "summary": summary,
        "epochs": loop.epochs,
        "schedule": schedule.to_dict(),
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
            save_checkpoint(out_dir / "checkpoint.pt", model, cfg, data, summary)
    if loop.stopped is Stop.NON_FINITE:
        where = f"; metrics so far are in {out_dir}" if out_dir is not None else ""
        raise LrlabError(f"training stopped: {loop.stop_reason}. Lower optimizer.lr or turn on "
                         f"grad_clip{where}")
    # The share of the planned updates actually done: a cancelled run must not look complete.
    planned = cfg["epochs"] * len(train_loader)
    reporter.progress(min(1.0, loop.steps_done / planned) if planned else 1.0, loop.stop_reason)
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


def run_from_config(
    config: dict[str, Any], reporter: Reporter, out_dir: Path | None = None
) -> dict[str, Any]:
    """The job runner's entry: `train` with the worker's reporter and run folder."""
    return train(config, reporter, out_dir)
