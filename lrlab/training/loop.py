"""The training run's inner loop: one optimizer update per batch, the schedule stepped per update,
metrics to a reporter, cooperative cancel between steps and a clear stop on a non-finite loss.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import torch
from torch import nn

from lrlab.core.precision import Precision
from lrlab.core.reporting import NullReporter, Reporter
from lrlab.tasks.optimizers import SGDW, info_of, step_size
from lrlab.training.ranks import Rank

BATCHNORM_BATCHES = 50  # training batches that re-measure BatchNorm at averaged weights

FP32 = Precision(name="fp32", device_type="cpu")

Objective = Callable[[nn.Module, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


class Stop(StrEnum):
    """How a run ended; `LoopResult.stop_reason` says the same in words, with the step."""

    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NON_FINITE = "non-finite loss"


@dataclass
class LoopResult:
    """What a run ended with: per-epoch metrics and why it stopped."""

    epochs: list[dict[str, float]] = field(default_factory=list)
    steps_done: int = 0
    stopped: Stop = Stop.COMPLETED
    stop_reason: str = "completed"  # stopped, in words: which step, which loss, which LR
    train_seconds: float = 0.0
    train_images: int = 0


def cross_entropy_objective(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The baseline: plain cross-entropy of the model's logits, and the batch's correct count."""
    logits = model(x)
    return nn.functional.cross_entropy(logits.float(), y), (logits.argmax(1) == y).sum()


def _device_of(params: list[torch.Tensor]) -> torch.device:
    return params[0].device if params else torch.device("cpu")


def current_momentum(optimizer: torch.optim.Optimizer) -> float:
    """SGD's momentum or the Adam family's β1 (what 1cycle and cyclic schedules move)."""
    group = optimizer.param_groups[0]
    if "betas" in group:
        return float(group["betas"][0])
    return float(group.get("momentum", 0.0))


def current_decay(optimizer: torch.optim.Optimizer) -> float:
    """The share of each decayed weight this update's weight decay removes: λ·ηₜ for SGDW,
    lr·λ for L2 (SGD, Adam) and AdamW. The run page draws it beside the LR."""
    group = max(optimizer.param_groups, key=lambda g: g.get("weight_decay", 0.0))
    decay = float(group.get("weight_decay", 0.0))
    if isinstance(optimizer, SGDW):
        return SGDW.decay_multiplier(group) * decay
    return float(group["lr"]) * decay


@contextmanager
def evaluation_weights(optimizer: torch.optim.Optimizer,
                       recalibrate: Callable[[], None] | None = None) -> Iterator[None]:
    """Evaluate at the weights the optimizer means: Schedule-Free's averaged ones (its eval()),
    or DoG's polynomial-decay average (lrlab keeps it beside the optimizer), with the model's
    BatchNorm statistics recomputed there by `recalibrate` (Schedule-Free's README recipe), then
    train on from where it was. Any other optimizer: as they are."""
    info = info_of(optimizer)
    if info is None or info.averaged is None:
        yield
        return
    average = getattr(optimizer, "lrlab_average", None)
    switch = (optimizer.eval, optimizer.train) if average is None else (average.swap,
                                                                        average.swap)
    switch[0]()
    try:
        if recalibrate is not None:
            recalibrate()
        yield
    finally:
        switch[1]()


def recompute_batchnorm(model: nn.Module, batches: Iterable[Any],
                        forward: Callable[[Any], Any], limit: int = BATCHNORM_BATCHES) -> None:
    """BatchNorm's running statistics measured afresh at the current weights, from up to
    `limit` training batches (a model without BatchNorm is left alone)."""
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return
    model.train()
    with torch.no_grad():
        for batch in itertools.islice(batches, limit):
            forward(batch)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    precision: Precision | None = None,
    memory_format: torch.memory_format = torch.preserve_format,
    all_sum: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, float]:
    """Validation loss, top-1 and top-5 accuracy (fractions), one pass, no grad; `all_sum`
    adds up the sums of the ranks of a data-parallel run first."""
    precision = precision or FP32
    model.eval()
    loss_sum = torch.zeros(())
    top1 = torch.zeros(())
    top5 = torch.zeros(())
    count = 0
    for x, y in batches:
        with precision.autocast():
            logits = model(x.contiguous(memory_format=memory_format)).float()
        loss_sum = loss_sum + nn.functional.cross_entropy(logits, y, reduction="sum").cpu()
        k = min(5, logits.shape[1])
        topk = logits.topk(k, dim=1).indices
        hits = topk == y[:, None]
        top1 = top1 + hits[:, 0].sum().cpu()
        top5 = top5 + hits.any(dim=1).sum().cpu()
        count += y.shape[0]
    if all_sum is not None:
        loss_sum, top1, top5, total = all_sum(torch.stack([
            loss_sum.double(), top1.double(), top5.double(),
            torch.tensor(float(count), dtype=torch.float64)]))
        count = int(total)
    n = max(count, 1)
    return {
        "val_loss": float(loss_sum) / n,
        "val_top1": float(top1) / n,
        "val_top5": float(top5) / n,
    }


def _update(loss: torch.Tensor, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
            params: list[torch.Tensor], grad_clip: float | None) -> torch.Tensor:
    """One optimizer update from a loss: backward (scaled for fp16), then `apply_gradients`.
    Returns the norm before clipping."""
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    return apply_gradients(optimizer, scaler, params, grad_clip)


def apply_gradients(optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                    params: list[torch.Tensor], grad_clip: float | None) -> torch.Tensor:
    """The step from gradients already accumulated (scaled for fp16): the true gradient norm,
    the clip, the step and the scaler's update. Returns the norm before clipping."""
    scaler.unscale_(optimizer)  # true gradients for the norm and the clip
    grad_norm = torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])
    if grad_clip is not None:
        torch.nn.utils.clip_grads_with_norm_(params, grad_clip, grad_norm)
    scaler.step(optimizer)
    scaler.update()
    return grad_norm


@dataclass
class _Loop:
    """What every update of one run shares: its optimizer, schedule, loss and settings."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    objective: Objective
    reporter: Reporter
    grad_clip: float | None
    precision: Precision
    memory_format: torch.memory_format
    ranks: Rank | None
    total: int  # planned updates, for progress
    scaler: torch.amp.GradScaler = field(init=False)
    params: list[torch.Tensor] = field(init=False)
    feeds_metric: bool = field(init=False)

    def __post_init__(self) -> None:
        self.scaler = self.precision.grad_scaler()
        self.params = [p for g in self.optimizer.param_groups for p in g["params"]]
        self.feeds_metric = getattr(self.scheduler, "plateau", None) is not None


@dataclass
class _EpochSums:
    """An epoch's training loss and hits, summed over its examples."""

    loss: torch.Tensor
    hits: torch.Tensor
    seen: int = 0


def run_epochs(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    train_batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    val_batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    epochs: int,
    *,
    objective: Objective = cross_entropy_objective,
    reporter: Reporter | None = None,
    grad_clip: float | None = None,
    precision: Precision | None = None,
    memory_format: torch.memory_format = torch.preserve_format,
    ranks: Rank | None = None,
) -> LoopResult:
    """Train for `epochs` passes over `train_batches` (re-iterable), evaluating after each.

    With `ranks` (a data-parallel run) each process holds part of every batch: the loss it
    reports, the epoch's sums and the validation are reduced over the ranks, so every rank sees
    the same numbers and stops at the same step.

    The schedule advances once per update, also on an update the fp16 GradScaler skipped, so
    step t always uses the schedule's value at t. A plateau schedule is fed each update's
    training loss.
    """
    steps_per_epoch = len(train_batches) if isinstance(train_batches, Sized) else 0
    planned = getattr(train_batches, "planned_updates", None)  # batch plans vary per epoch
    loop = _Loop(model, optimizer, scheduler, objective, reporter or NullReporter(), grad_clip,
                 precision or FP32, memory_format, ranks,
                 planned(epochs) if planned else steps_per_epoch * epochs)
    result = LoopResult()
    loop_start = time.perf_counter()
    for epoch in range(epochs):
        start = time.perf_counter()
        sums = _train_epoch(loop, train_batches, epoch, epochs, result)
        if sums is None:
            return result
        metrics = _epoch_metrics(loop, sums, result)
        with evaluation_weights(optimizer, lambda: recompute_batchnorm(
                model, train_batches, lambda batch: model(batch[0].contiguous(
                    memory_format=memory_format)))):
            metrics.update(evaluate(model, val_batches, loop.precision, memory_format,
                                    None if ranks is None else ranks.all_sum))
        metrics["epoch_time"] = time.perf_counter() - start
        metrics["elapsed_s"] = time.perf_counter() - loop_start
        loop.reporter.epoch(epoch, metrics)
        result.epochs.append(metrics)
    return result


def _train_epoch(loop: _Loop, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                 epoch: int, epochs: int, result: LoopResult) -> _EpochSums | None:
    """One pass of updates; None when the run stopped in it (result says why and where)."""
    loop.model.train()
    sums = _EpochSums(torch.zeros(()), torch.zeros((), dtype=torch.int64,
                                                    device=_device_of(loop.params)))
    for x, y in batches:
        step = result.steps_done
        if loop.reporter.should_stop():
            result.stopped, result.stop_reason = Stop.CANCELLED, f"cancelled before step {step}"
            return None
        if not _update_step(loop, x, y, epoch, sums, result):
            return None
        if loop.total:
            loop.reporter.progress(result.steps_done / loop.total,
                                   f"epoch {epoch + 1}/{epochs}, "
                                   f"step {result.steps_done}/{loop.total}")
    return sums


def _update_step(loop: _Loop, x: torch.Tensor, y: torch.Tensor, epoch: int, sums: _EpochSums,
                 result: LoopResult) -> bool:
    """One update and its report; False when the loss was not finite (result says so)."""
    step, optimizer = result.steps_done, loop.optimizer
    t0 = time.perf_counter()
    lr = optimizer.param_groups[0]["lr"]
    momentum = current_momentum(optimizer)
    decay = current_decay(optimizer)
    with loop.precision.autocast():
        loss, hits = loop.objective(loop.model, x.contiguous(memory_format=loop.memory_format),
                                    y)
    loss_value = loss.item() if loop.ranks is None else loop.ranks.mean(loss.item())
    if not math.isfinite(loss_value):
        result.stopped = Stop.NON_FINITE
        result.stop_reason = (f"non-finite loss ({loss_value}) at step {step} "
                              f"(epoch {epoch + 1}, lr {lr:.3g})")
        return False
    grad_norm = _update(loss, optimizer, loop.scaler, loop.params, loop.grad_clip)
    chosen = step_size(optimizer)
    if loop.feeds_metric:  # the schedule advances on every update, a skipped fp16 one too
        loop.scheduler.step(loss_value)
    else:
        loop.scheduler.step()
    sums.loss += loss_value * y.shape[0]
    sums.hits += hits
    sums.seen += y.shape[0]
    elapsed = time.perf_counter() - t0
    result.train_seconds += elapsed
    loop.reporter.step(step, {"loss": loss_value, "lr": lr, "momentum": momentum,
                              "weight_decay": decay, "batch": float(y.shape[0]),
                              "grad_norm": float(grad_norm),
                              "images_per_s": y.shape[0] / max(elapsed, 1e-9),
                              **({} if chosen is None else {"step_size": chosen})})
    result.steps_done = step + 1
    return True


def _epoch_metrics(loop: _Loop, sums: _EpochSums, result: LoopResult) -> dict[str, float]:
    """The epoch's training loss and accuracy, summed over the ranks of a data-parallel run."""
    loss_sum, hits_sum, seen = sums.loss, sums.hits, sums.seen
    if loop.ranks is not None:
        totals = loop.ranks.all_sum(torch.tensor([float(loss_sum), float(hits_sum), float(seen)],
                                                 dtype=torch.float64))
        loss_sum, hits_sum, seen = totals[0], totals[1], int(totals[2])
    result.train_images += seen
    return {"train_loss": float(loss_sum) / max(seen, 1),
            "train_acc": float(hits_sum) / max(seen, 1)}
