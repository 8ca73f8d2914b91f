"""The training run's inner loop: one optimizer update per batch, the schedule stepped per update,
metrics to a reporter, cooperative cancel between steps and a clear stop on a non-finite loss.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

from lrlab.reporting import NullReporter, Reporter

LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class LoopResult:
    """What a run ended with: per-epoch metrics and why it stopped."""

    epochs: list[dict[str, float]] = field(default_factory=list)
    steps_done: int = 0
    stop_reason: str = "completed"


def cross_entropy_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The baseline loss: plain cross-entropy of the model's logits."""
    return nn.functional.cross_entropy(model(x), y)


@torch.no_grad()
def evaluate(
    model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]
) -> dict[str, float]:
    """Validation loss, top-1 and top-5 accuracy (fractions), one pass, no grad."""
    model.eval()
    loss_sum = torch.zeros(())
    top1 = torch.zeros(())
    top5 = torch.zeros(())
    count = 0
    for x, y in batches:
        logits = model(x).float()
        loss_sum = loss_sum + nn.functional.cross_entropy(logits, y, reduction="sum").cpu()
        k = min(5, logits.shape[1])
        topk = logits.topk(k, dim=1).indices
        hits = topk == y[:, None]
        top1 = top1 + hits[:, 0].sum().cpu()
        top5 = top5 + hits.any(dim=1).sum().cpu()
        count += y.shape[0]
    n = max(count, 1)
    return {
        "val_loss": loss_sum.item() / n,
        "val_top1": top1.item() / n,
        "val_top5": top5.item() / n,
    }


def run_epochs(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    train_batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    val_batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    epochs: int,
    *,
    loss_fn: LossFn = cross_entropy_step,
    reporter: Reporter | None = None,
    grad_clip: float | None = None,
) -> LoopResult:
    """Train for `epochs` passes over `train_batches` (re-iterable), evaluating after each."""
    reporter = reporter or NullReporter()
    result = LoopResult()
    step = 0
    for epoch in range(epochs):
        model.train()
        start = time.perf_counter()
        loss_sum = torch.zeros(())
        seen = 0
        for x, y in train_batches:
            if reporter.should_stop():
                result.stop_reason = f"cancelled before step {step}"
                result.steps_done = step
                return result
            t0 = time.perf_counter()
            lr = optimizer.param_groups[0]["lr"]
            loss = loss_fn(model, x, y)
            if not torch.isfinite(loss):
                result.stop_reason = f"non-finite loss ({loss.item()}) at step {step}"
                result.steps_done = step
                return result
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            params = [p for g in optimizer.param_groups for p in g["params"]]
            max_norm = grad_clip if grad_clip is not None else math.inf
            grad_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
            optimizer.step()
            scheduler.step()
            loss_value = loss.item()
            loss_sum += loss_value * y.shape[0]
            seen += y.shape[0]
            reporter.step(
                step,
                {
                    "loss": loss_value,
                    "lr": lr,
                    "grad_norm": float(grad_norm),
                    "images_per_s": y.shape[0] / max(time.perf_counter() - t0, 1e-9),
                },
            )
            step += 1
        metrics = {"train_loss": loss_sum.item() / max(seen, 1)}
        metrics.update(evaluate(model, val_batches))
        metrics["epoch_time"] = time.perf_counter() - start
        reporter.epoch(epoch, metrics)
        result.epochs.append(metrics)
    result.steps_done = step
    return result
