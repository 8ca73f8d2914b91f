"""Training any task (lrlab.tasks.protocol), top to bottom: build it, split its loader between
ranks, size the schedule to the run, then one optimizer update per `accumulation_steps` batches
with mixed precision and clipping, evaluations of the objective, live metrics and a run folder.

The loop is the image loop's twin without images: no top-1, no tricks. What "better" means is
the task's (`objective`, `mode`); what a batch is, the task's loss knows.
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from lrlab import __version__
from lrlab.core.device import describe_device, resolve_device
from lrlab.core.errors import LrlabError
from lrlab.core.precision import Precision, resolve_precision
from lrlab.core.reporting import Reporter
from lrlab.schedules import Schedule
from lrlab.tasks.loading import build_task
from lrlab.tasks.optimizers import optimizer_over, step_size, task_groups
from lrlab.tasks.protocol import Task, batches_in, to_device
from lrlab.tasks.task_config import planned_schedule, planned_updates, updates_per_epoch
from lrlab.tasks.train_format import FORMAT
from lrlab.training import run_folder
from lrlab.training.loop import (
    apply_gradients,
    current_decay,
    current_momentum,
    evaluation_weights,
    recompute_batchnorm,
)
from lrlab.training.ranks import Rank

WEIGHTS = "weights.pt"  # a state_dict only: torch.load(weights_only=True) opens it


def run_task(cfg: Mapping[str, Any], reporter: Reporter, out_dir: Path | None = None, *,
             rank: Rank | None = None, task: Task | None = None) -> dict[str, Any]:
    """Train a validated task config here (with `rank`, this process's part of a data-parallel
    run); `task` when the caller built it already (the Python API)."""
    started = time.perf_counter()
    if out_dir is not None:
        out_dir = Path(out_dir)
        run_folder.prepare(out_dir, cfg)
    device = resolve_device(cfg["device"])
    precision = resolve_precision(cfg["precision"], device)
    reporter.progress(0.0, f"building task {cfg['task']['spec']}")
    run = _build(cfg, task, device, precision, rank)
    with run_folder.metrics_reporter(out_dir, reporter) as live:
        _train(run, live)
    summary = _summary(run, time.perf_counter() - started)
    result = {"format": FORMAT, "config": dict(cfg), "summary": summary,
              "evaluations": run.evaluations, "schedule": run.schedule.to_dict(),
              "environment": {"device": describe_device(device), "precision": precision.name,
                              "torch": torch.__version__, "lrlab": __version__,
                              "python": platform.python_version()},
              "out_dir": str(out_dir) if out_dir is not None else None}
    if out_dir is not None:
        run_folder.write_json(out_dir / run_folder.SUMMARY,
                              {k: v for k, v in result.items() if k != "config"})
        if run.steps:
            state = {k: v.detach().cpu() for k, v in run.task.model.state_dict().items()}
            torch.save(state, out_dir / WEIGHTS)
    if run.stop_reason.startswith("non-finite"):
        raise LrlabError(f"training stopped: {run.stop_reason}. Lower optimizer.lr or set "
                         "grad_clip")
    reporter.progress(min(1.0, run.steps / run.total), run.stop_reason)
    return result


@dataclass
class _Run:
    """One run's task, optimizer, schedule and what it measured so far."""

    cfg: Mapping[str, Any]
    task: Task
    network: torch.nn.Module  # the model as trained (wrapped in DDP on several ranks)
    device: torch.device
    precision: Precision
    rank: Rank | None
    optimizer: torch.optim.Optimizer
    schedule: Schedule
    fit: dict[str, Any]
    total: int
    per_epoch: int | None  # updates in one epoch, when the loader's length is known
    scheduler: Any = None
    steps: int = 0
    batches: int = 0
    stop_reason: str = "completed"
    evaluations: list[dict[str, float]] = field(default_factory=list)
    train_seconds: float = 0.0


def _build(cfg: Mapping[str, Any], task: Task | None, device: torch.device,
           precision: Precision, rank: Rank | None) -> _Run:
    """The task (built here unless given), its loader split between ranks, the schedule fitted
    to the run's updates and the optimizer over the task's groups."""
    task = task or build_task(cfg["task"]["spec"], cfg["task"]["args"], cfg["seed"])
    task.model.to(device)
    if rank is not None:
        task.train = split_loader(task.train, rank, cfg["task"]["spec"])
    per_epoch_batches = batches_in(task.train)
    if per_epoch_batches == 0:
        raise LrlabError(f"task {cfg['task']['spec']!r}: its training loader yields no batch")
    total = planned_updates(cfg, per_epoch_batches)
    schedule, fit = planned_schedule(cfg, total)
    groups = task_groups(task.model, task.param_groups, cfg["optimizer"]["weight_decay"])
    optimizer = optimizer_over(groups, cfg["optimizer"], schedule.effective_base_lr)
    network: torch.nn.Module = task.model
    if rank is not None:
        network = torch.nn.parallel.DistributedDataParallel(
            task.model, device_ids=[device.index] if device.type == "cuda" else None)
    run = _Run(cfg, task, network, device, precision, rank, optimizer, schedule, fit, total,
               updates_per_epoch(cfg, per_epoch_batches))
    run.scheduler = schedule.torch(optimizer)
    return run


def split_loader(loader: Any, rank: Rank, spec: str) -> Any:
    """This rank's part of a DataLoader: each global batch split into `world` equal parts, so
    an update is the one a single process makes on the whole batch."""
    from torch.utils.data import DataLoader, RandomSampler
    from torch.utils.data.distributed import DistributedSampler

    size = getattr(loader, "batch_size", None)
    if not isinstance(loader, DataLoader) or size is None or isinstance(
            loader.dataset, torch.utils.data.IterableDataset):
        raise LrlabError(f"nproc: task {spec!r} trains from a {type(loader).__name__} that "
                         "lrlab cannot split between processes; give a DataLoader over a "
                         "map-style dataset with a batch_size, or nproc 1")
    if size % rank.world:
        raise LrlabError(f"nproc: the batch size of task {spec!r} ({size}) does not split into "
                         f"{rank.world} equal parts; choose a multiple of nproc")
    sampler = DistributedSampler(loader.dataset, num_replicas=rank.world, rank=rank.rank,
                                 shuffle=isinstance(loader.sampler, RandomSampler),
                                 drop_last=True)
    return DataLoader(loader.dataset, batch_size=size // rank.world, sampler=sampler,
                      collate_fn=loader.collate_fn, num_workers=loader.num_workers,
                      pin_memory=loader.pin_memory, drop_last=loader.drop_last)


def _batches(run: _Run) -> Iterator[tuple[int, Any]]:
    """(epoch, batch) for as long as the run asks: passes over the loader one after another
    (an epoch ends with the loader or after `batches_per_epoch`); a loader that yields
    nothing is named."""
    epoch = 0
    while True:
        sampler = getattr(run.task.train, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        yielded = 0
        for batch in run.task.train:  # an epoch is whole updates: a remainder is left out
            yield epoch, batch
            yielded += 1
            if run.per_epoch and yielded == run.per_epoch * run.cfg["accumulation_steps"]:
                break
        if not yielded:
            raise LrlabError(f"task {run.cfg['task']['spec']!r}: its training loader yielded "
                             "no batch")
        epoch += 1


def _loss(run: _Run, batch: Any) -> torch.Tensor:
    """The task's loss of one batch on the device (a scalar tensor: Task.loss_of checks)."""
    spec = run.cfg["task"]["spec"]
    try:
        with run.precision.autocast():
            loss = run.task.loss_of(run.network, to_device(batch, run.device))
    except LrlabError as exc:
        raise LrlabError(f"task {spec!r}: {exc}") from None
    except Exception as exc:  # the model could not take the batch, or the loss failed
        raise LrlabError(f"task {spec!r}: computing the loss of a batch raised "
                         f"{type(exc).__name__}: {exc}") from None
    return loss


def _train(run: _Run, reporter: Reporter) -> None:
    """Updates until the planned total, a cancel or a non-finite loss; evaluations at the
    start, every `eval_every` updates (else at each epoch's end) and at the end."""
    run.evaluations.append(_evaluate(run, epoch=0.0, train_loss=None))
    reporter.epoch(0, run.evaluations[-1])
    scaler = run.precision.grad_scaler()
    params = [p for g in run.optimizer.param_groups for p in g["params"]]
    accumulate, every = run.cfg["accumulation_steps"], run.cfg["eval_every"]
    batches, since, losses = _batches(run), 0, 0.0
    epoch = 0
    while run.steps < run.total:
        if reporter.should_stop():
            run.stop_reason = f"cancelled before update {run.steps}"
            return
        t0 = time.perf_counter()
        lr = run.optimizer.param_groups[0]["lr"]
        momentum, decay = current_momentum(run.optimizer), current_decay(run.optimizer)
        run.optimizer.zero_grad(set_to_none=True)
        value = 0.0
        for _ in range(accumulate):
            epoch, batch = next(batches)
            loss = _loss(run, batch)
            value += float(loss.detach()) / accumulate
            scaler.scale(loss / accumulate).backward()
            run.batches += 1
        if run.rank is not None:
            value = run.rank.mean(value)
        if not math.isfinite(value):
            run.stop_reason = f"non-finite loss ({value}) at update {run.steps} (lr {lr:.3g})"
            return
        norm = apply_gradients(run.optimizer, scaler, params, run.cfg["grad_clip"])
        chosen = step_size(run.optimizer)
        if run.scheduler.plateau is not None:  # fed each update's loss, as the image loop does
            run.scheduler.step(value)
        else:
            run.scheduler.step()
        run.train_seconds += time.perf_counter() - t0
        reporter.step(run.steps, {"loss": value, "lr": lr, "momentum": momentum,
                                  "weight_decay": decay, "grad_norm": float(norm),
                                  **({} if chosen is None else {"step_size": chosen})})
        run.steps += 1
        since, losses = since + 1, losses + value
        reporter.progress(run.steps / run.total, f"update {run.steps}/{run.total}")
        end_of_epoch = every is None and run.per_epoch and run.steps % run.per_epoch == 0
        if run.steps == run.total or (every and run.steps % every == 0) or end_of_epoch:
            done = run.steps / run.per_epoch if run.per_epoch else float(epoch)
            run.evaluations.append(_evaluate(run, epoch=done, train_loss=losses / since))
            reporter.epoch(len(run.evaluations) - 1, run.evaluations[-1])
            since, losses = 0, 0.0


def _evaluate(run: _Run, epoch: float, train_loss: float | None) -> dict[str, float]:
    """The task's metrics now (the objective among them), with where the run stands."""
    spec, objective = run.cfg["task"]["spec"], run.task.objective
    model = run.task.model

    def recalibrate() -> None:  # BatchNorm at an averaged optimizer's evaluation weights
        recompute_batchnorm(model, iter(run.task.train),
                            lambda batch: run.task.loss_of(model, to_device(batch, run.device)))

    try:
        with evaluation_weights(run.optimizer, recalibrate):
            metrics = run.task.metrics(model, run.device)
    except LrlabError as exc:
        raise LrlabError(f"task {spec!r}: {exc}") from None
    except Exception as exc:  # the user's evaluate failed
        raise LrlabError(f"task {spec!r}: evaluate raised {type(exc).__name__}: {exc}") from None
    if objective not in metrics:
        raise LrlabError(f"task {spec!r}: evaluate returned {', '.join(metrics) or 'nothing'} "
                         f"but not the objective {objective!r}")
    if run.rank is not None:  # each rank evaluated the whole validation set: keep rank 0's
        metrics = {k: run.rank.mean(v) for k, v in metrics.items()}
    out = {**metrics, "step": float(run.steps), "epoch": epoch}
    if train_loss is not None:
        out["train_loss"] = train_loss
    return out


def _summary(run: _Run, wall_time: float) -> dict[str, Any]:
    """The run's headline: the objective at its start, best and end, and why it stopped."""
    name, mode = run.task.objective, run.task.mode
    values = [e[name] for e in run.evaluations[1:] if math.isfinite(e[name])]
    pick = max if mode == "max" else min
    best = pick(values) if values else None
    return {"objective": name, "mode": mode, "stop_reason": run.stop_reason,
            "initial_objective": run.evaluations[0][name] if run.evaluations else None,
            "best_objective": best,
            "final_objective": run.evaluations[-1][name] if len(run.evaluations) > 1 else None,
            "final_metrics": run.evaluations[-1] if len(run.evaluations) > 1 else {},
            "final_train_loss": run.evaluations[-1].get("train_loss") if run.evaluations
            else None,
            "steps": run.steps, "planned_updates": run.total, "schedule_fit": run.fit,
            "train_time_s": run.train_seconds, "wall_time_s": wall_time}
