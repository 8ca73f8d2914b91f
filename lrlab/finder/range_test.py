"""The LR range test engine (Smith 2015/2017): sweep the LR up, one optimizer step per point, and
record the raw loss. Reads top to bottom: sweep grid, state snapshot, one optimizer step, the loop.

Choices that differ from other finders, and why:

- The sweep is inclusive of both ends: ``lr_i = start·(end/start)^(i/(N−1))`` (exp) or
  ``start + (end−start)·i/(N−1)`` (linear), and ``lr_i`` is the LR of the step whose loss is
  recorded at point i (the loss is measured in that step's forward pass, before its update).
- Several param groups: the sweep moves one multiplier, so group g gets
  ``lr_i · lr_g / lr_0`` (its initial LR relative to the first group's). The swept value is the
  first group's LR and every group's LR is recorded per point.
- Raw losses are kept. A causal, debiased EMA is used only to decide when to stop, so the curve
  that is analysed carries no EMA lag.
- Divergence: ``smoothed − best > threshold · max(|best|, drop)``, where ``drop`` is how far the
  smoothed loss fell from its first value to its best. It needs no sign assumption, unlike
  "loss > 4·best", which never fires (or fires at once) for negative losses.
- fp16: the LR advances only on optimizer steps that really happened. A step GradScaler skipped
  (its scale went down) is counted and redone at the same LR on the next batch.
- The model, optimizer, GradScaler and RNG states are copied to CPU before the sweep and restored
  afterwards in a ``finally``, also on error or cancel: no ``reset()`` call, no doubled GPU memory.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from lrlab.core.errors import LrlabError
from lrlab.core.options import SWEEP_MODES
from lrlab.core.precision import Precision, resolve_precision
from lrlab.core.reporting import NullReporter, Reporter
from lrlab.finder.stop_reason import StopReason
from lrlab.tasks.protocol import to_device

# A step GradScaler skips is redone at the same LR; this many skips in a row means the gradients
# are not finite at this LR at any scale, which is a NaN stop, not something to retry forever.
MAX_CONSECUTIVE_SKIPS = 16

StepFn = Callable[[nn.Module, Any], torch.Tensor]


@dataclass
class RangeTestCurve:
    """What one sweep measured. ``lrs``/``losses`` are per point (a point's loss is the mean of
    its ``batches_per_point`` steps); ``group_lrs[i][g]`` is group g's LR at point i."""

    lrs: list[float]
    losses: list[float]
    group_lrs: list[list[float]]
    stop_reason: StopReason
    planned_points: int
    effective_batch: int | None
    skipped_steps: int
    seconds: float
    val_lrs: list[float] = field(default_factory=list)
    val_losses: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (non-finite losses become None)."""
        return {
            "lr": list(self.lrs),
            "loss": [_finite_or_none(v) for v in self.losses],
            "group_lrs": [list(g) for g in self.group_lrs],
            "stop_reason": self.stop_reason,
            "planned_points": self.planned_points,
            "effective_batch": self.effective_batch,
            "skipped_steps": self.skipped_steps,
            "seconds": self.seconds,
            "val_lr": list(self.val_lrs),
            "val_loss": [_finite_or_none(v) for v in self.val_losses],
        }


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def sweep_lrs(start_lr: float, end_lr: float, num_points: int, mode: str = "exp") -> np.ndarray:
    """The N LRs of the sweep, both ends included."""
    if not (math.isfinite(start_lr) and start_lr > 0):
        raise LrlabError(f"start_lr: expected a positive number, got {start_lr!r}")
    if not (math.isfinite(end_lr) and end_lr > start_lr):
        raise LrlabError(f"end_lr: expected a number above start_lr={start_lr:g}, got {end_lr!r}")
    if isinstance(num_points, bool) or not isinstance(num_points, int) or num_points < 5:
        raise LrlabError(f"num_points: expected an integer >= 5, got {num_points!r}")
    if mode not in SWEEP_MODES:
        raise LrlabError(f"mode: expected one of {', '.join(SWEEP_MODES)}, got {mode!r}")
    r = np.arange(num_points) / (num_points - 1)
    if mode == "exp":
        return start_lr * (end_lr / start_lr) ** r
    return start_lr + (end_lr - start_lr) * r


# --- state snapshot: everything the sweep changes, on CPU --------------------------------------


def _to_cpu(obj: Any) -> Any:
    """A deep copy with every tensor copied to CPU (GPU memory is not doubled)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return copy.deepcopy(obj)


@dataclass
class _Snapshot:
    model: dict[str, Any]
    training: dict[str, bool]
    optimizer: dict[str, Any]
    scaler: dict[str, Any]
    torch_rng: torch.Tensor
    cuda_rng: list[torch.Tensor] | None
    numpy_rng: Any
    python_rng: Any

    @classmethod
    def take(cls, model: nn.Module, optimizer: torch.optim.Optimizer,
             scaler: torch.amp.GradScaler) -> _Snapshot:
        return cls(
            model=_to_cpu(model.state_dict()),
            training={name: m.training for name, m in model.named_modules()},
            optimizer=_to_cpu(optimizer.state_dict()),
            scaler=copy.deepcopy(scaler.state_dict()),
            torch_rng=torch.get_rng_state(),
            cuda_rng=torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            numpy_rng=np.random.get_state(),
            python_rng=random.getstate(),
        )

    def restore(self, model: nn.Module, optimizer: torch.optim.Optimizer,
                scaler: torch.amp.GradScaler) -> None:
        # load_state_dict copies into the existing tensors, so references the caller holds (and
        # the optimizer's param list) stay valid.
        model.load_state_dict(self.model)
        for name, module in model.named_modules():
            module.training = self.training[name]
        optimizer.load_state_dict(self.optimizer)
        optimizer.zero_grad(set_to_none=True)
        if self.scaler:
            scaler.load_state_dict(self.scaler)
        torch.set_rng_state(self.torch_rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(self.cuda_rng)
        np.random.set_state(self.numpy_rng)
        random.setstate(self.python_rng)


# --- batches and one step ----------------------------------------------------------------------


def _cycle(batches: Iterable[Any]) -> Iterator[Any]:
    """Re-iterate ``batches`` whenever it is exhausted (a loader's new pass = a new order)."""
    while True:
        empty = True
        for batch in batches:
            empty = False
            yield batch
        if empty:
            raise LrlabError("batches: the iterable yielded no batch")


def _batch_size(batch: Any) -> int | None:
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.dim() else None
    if isinstance(batch, (list, tuple)) and batch:
        return _batch_size(batch[0])
    if isinstance(batch, dict) and batch:
        return _batch_size(next(iter(batch.values())))
    return None


def _move(batch: Any, device: torch.device | None) -> Any:
    """The batch on the sweep's device, whatever its nesting (namedtuples and mappings too)."""
    return to_device(batch, device, non_blocking=True)


def _criterion_step(criterion: nn.Module | Callable[..., torch.Tensor]) -> StepFn:
    def step(model: nn.Module, batch: Any) -> torch.Tensor:
        x, y = batch
        return criterion(model(x), y)

    return step


@dataclass
class _Stepper:
    """One optimizer step of ``accumulation_steps`` micro-batches under autocast and GradScaler."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    step_fn: StepFn
    batches: Iterator[Any]
    accumulation_steps: int
    precision: Precision
    scaler: torch.amp.GradScaler
    device: torch.device | None

    def step(self) -> tuple[float, bool, int | None]:
        """Returns (mean loss over the micro-batches, whether the update happened, batch size)."""
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        total = 0.0
        size: int | None = 0
        for _ in range(self.accumulation_steps):
            batch = _move(next(self.batches), self.device)
            n = _batch_size(batch)
            size = None if n is None or size is None else size + n
            with self.precision.autocast():
                loss = self.step_fn(self.model, batch)
            value = float(loss.detach().float())
            total += value
            if not math.isfinite(value):
                return math.nan, False, size
            self.scaler.scale(loss / self.accumulation_steps).backward()
        scale_before = self.scaler.get_scale() if self.scaler.is_enabled() else None
        self.scaler.step(self.optimizer)
        self.scaler.update()
        happened = scale_before is None or self.scaler.get_scale() >= scale_before
        return total / self.accumulation_steps, happened, size

    @torch.no_grad()
    def validate(self, val_batches: Sequence[Any]) -> float:
        self.model.eval()
        total, count = 0.0, 0
        for batch in val_batches:
            with self.precision.autocast():
                total += float(self.step_fn(self.model, _move(batch, self.device)).float())
            count += 1
        self.model.train()
        return total / count


def _set_lr(optimizer: torch.optim.Optimizer, lr: float, ratios: list[float]) -> list[float]:
    lrs = [lr * r for r in ratios]
    for group, value in zip(optimizer.param_groups, lrs, strict=True):
        group["lr"] = value
    return lrs


def _diverged(smoothed: float, best: float, first: float, threshold: float) -> bool:
    scale = max(abs(best), first - best)
    return smoothed - best > threshold * scale


# --- the sweep ---------------------------------------------------------------------------------


def range_test(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterable[Any],
    *,
    criterion: nn.Module | Callable[..., torch.Tensor] | None = None,
    step_fn: StepFn | None = None,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_points: int = 100,
    mode: str = "exp",
    batches_per_point: int = 1,
    accumulation_steps: int = 1,
    precision: str | Precision = "fp32",
    val_batches: Sequence[Any] | None = None,
    val_every: int = 0,
    diverge_threshold: float = 1.0,
    ema_beta: float = 0.98,
    grad_scaler: torch.amp.GradScaler | None = None,
    reporter: Reporter | None = None,
    device: torch.device | str | None = None,
) -> RangeTestCurve:
    """Sweep the LR from ``start_lr`` to ``end_lr`` and record the loss at every point.

    ``batches`` yields training batches and is re-iterated when exhausted. The loss of a batch is
    ``step_fn(model, batch)``, or ``criterion(model(x), y)`` for ``(x, y)`` batches. With
    ``device``, batches are moved there. ``val_batches`` (a fixed, small list) is evaluated every
    ``val_every`` points and at the last one. ``grad_scaler`` lets a caller use its own scaler
    (by default fp16 gets a fresh one); its state is restored afterwards like everything else.
    """
    if (step_fn is None) == (criterion is None):
        raise LrlabError("range_test: pass exactly one of criterion or step_fn")
    _check_settings(batches_per_point, accumulation_steps, val_every, val_batches,
                    diverge_threshold, ema_beta)
    lrs = sweep_lrs(start_lr, end_lr, num_points, mode)
    reporter = reporter or NullReporter()
    device = torch.device(device) if isinstance(device, str) else device
    if isinstance(precision, str):
        param = next(model.parameters(), None)
        where = device or (param.device if param is not None else torch.device("cpu"))
        precision = resolve_precision(precision, where)
    scaler = grad_scaler if grad_scaler is not None else precision.grad_scaler()
    ratios = _group_ratios(optimizer)

    stepper = _Stepper(model, optimizer, step_fn or _criterion_step(criterion), _cycle(batches),
                       accumulation_steps, precision, scaler, device)
    curve = RangeTestCurve(lrs=[], losses=[], group_lrs=[], stop_reason=StopReason.COMPLETED,
                           planned_points=num_points, effective_batch=None, skipped_steps=0,
                           seconds=0.0)
    started = time.perf_counter()
    snapshot = _Snapshot.take(model, optimizer, scaler)
    try:
        curve.stop_reason = _sweep(curve, stepper, lrs, ratios, batches_per_point,
                                   val_batches, val_every, diverge_threshold, ema_beta, reporter)
    finally:
        snapshot.restore(model, optimizer, scaler)
        curve.seconds = time.perf_counter() - started
    return curve


def _check_settings(batches_per_point: int, accumulation_steps: int, val_every: int,
                    val_batches: Sequence[Any] | None, diverge_threshold: float,
                    ema_beta: float) -> None:
    """Refuse a bad setting by name before anything is touched."""
    for name, value in (("batches_per_point", batches_per_point),
                        ("accumulation_steps", accumulation_steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise LrlabError(f"{name}: expected a positive integer, got {value!r}")
    if isinstance(val_every, bool) or not isinstance(val_every, int) or val_every < 0:
        raise LrlabError(f"val_every: expected an integer >= 0, got {val_every!r}")
    if val_every and not val_batches:
        raise LrlabError("val_every: validation needs val_batches")
    if not (math.isfinite(diverge_threshold) and diverge_threshold > 0):
        raise LrlabError(f"diverge_threshold: expected a positive number, got {diverge_threshold}")
    if not 0.0 <= ema_beta < 1.0:
        raise LrlabError(f"ema_beta: expected a number in [0, 1), got {ema_beta}")


def _group_ratios(optimizer: torch.optim.Optimizer) -> list[float]:
    """Each param group's LR over the first's: the sweep keeps these ratios (per-layer LRs)."""
    initial = [float(g["lr"]) for g in optimizer.param_groups]
    if initial[0] <= 0:
        raise LrlabError("optimizer: the first param group needs a positive lr (it sets the "
                         "other groups' ratios)")
    return [lr / initial[0] for lr in initial]


def _sweep(curve: RangeTestCurve, stepper: _Stepper, lrs: np.ndarray, ratios: list[float],
           batches_per_point: int, val_batches: Sequence[Any] | None, val_every: int,
           threshold: float, beta: float, reporter: Reporter) -> StopReason:
    avg, first, best = 0.0, math.nan, math.inf
    n = len(lrs)
    for i, lr in enumerate(lrs.tolist()):
        if reporter.should_stop():
            return StopReason.CANCELLED
        group_lrs = _set_lr(stepper.optimizer, lr, ratios)
        losses: list[float] = []
        skips = 0
        while len(losses) < batches_per_point:
            loss, happened, size = stepper.step()
            if curve.effective_batch is None:
                curve.effective_batch = size
            if not math.isfinite(loss):
                losses.append(loss)
                break
            if happened:
                losses.append(loss)
                skips = 0
                continue
            curve.skipped_steps += 1
            skips += 1
            if skips >= MAX_CONSECUTIVE_SKIPS:
                losses.append(math.nan)
                break
        point = sum(losses) / len(losses)
        curve.lrs.append(lr)
        curve.losses.append(point)
        curve.group_lrs.append(group_lrs)
        metrics = {"lr": lr, "loss": point}
        if not math.isfinite(point):
            reporter.step(i, metrics)
            return StopReason.NAN
        avg = beta * avg + (1 - beta) * point
        smoothed = avg / (1 - beta ** (i + 1))
        first = smoothed if i == 0 else first
        best = min(best, smoothed)
        metrics["smoothed"] = smoothed
        if val_batches and val_every and (i % val_every == 0 or i == n - 1):
            curve.val_lrs.append(lr)
            curve.val_losses.append(stepper.validate(val_batches))
            metrics["val_loss"] = curve.val_losses[-1]
        reporter.step(i, metrics)
        reporter.progress((i + 1) / n, f"LR {lr:.3g}")
        if _diverged(smoothed, best, first, threshold):
            return StopReason.DIVERGED
    return StopReason.COMPLETED
