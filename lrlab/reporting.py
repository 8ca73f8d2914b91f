"""The reporter interface every long-running piece (range test, training) talks to.

Runners never know where their metrics go: a terminal progress bar, a list in a test, or the job
store that the web app polls. They call `step`/`epoch`/`progress` and check `should_stop()` between
optimizer steps, which is how a job is cancelled cooperatively.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@runtime_checkable
class Reporter(Protocol):
    """Receives metrics while a run is going and tells it when to stop."""

    def step(self, step: int, metrics: Mapping[str, float]) -> None:
        """Per optimizer step: loss, lr, momentum, grad_norm, images_per_s, ..."""

    def epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """Per epoch: train_loss, train_acc, val_loss, val_top1, val_top5, epoch_time, ..."""

    def progress(self, fraction: float, message: str = "") -> None:
        """Overall progress in [0, 1] with a short human message."""

    def should_stop(self) -> bool:
        """True once the run has been asked to stop (cancel)."""


class NullReporter:
    """Discards everything; never asks to stop."""

    def step(self, step: int, metrics: Mapping[str, float]) -> None:
        pass

    def epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        pass

    def progress(self, fraction: float, message: str = "") -> None:
        pass

    def should_stop(self) -> bool:
        return False


@dataclass
class MemoryReporter:
    """Keeps every record in lists, for tests and for runs driven from Python.

    `stop_after_steps` asks the run to stop once that many steps were reported, which lets tests
    exercise cancellation deterministically. `stop_event` can be set from another thread.
    """

    steps: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    epochs: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    last_progress: tuple[float, str] = (0.0, "")
    stop_after_steps: int | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)

    def step(self, step: int, metrics: Mapping[str, float]) -> None:
        self.steps.append((step, dict(metrics)))
        if self.stop_after_steps is not None and len(self.steps) >= self.stop_after_steps:
            self.stop_event.set()

    def epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        self.epochs.append((epoch, dict(metrics)))

    def progress(self, fraction: float, message: str = "") -> None:
        self.last_progress = (fraction, message)

    def should_stop(self) -> bool:
        return self.stop_event.is_set()

    def series(self, key: str) -> list[float]:
        """Values of one per-step metric, in order (NaN where a step did not report it)."""
        return [m.get(key, math.nan) for _, m in self.steps]
