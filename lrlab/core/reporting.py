"""The reporter interface every long-running piece (range test, training) talks to.

Runners never know where their metrics go: a terminal progress bar, a list in a test, or the job
store that the web app polls. They call `step`/`epoch`/`progress` and check `should_stop()` between
optimizer steps, which is how a job is cancelled cooperatively.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, TextIO, runtime_checkable


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


class Tee:
    """Two reporters as one: each hears everything; either may ask to stop (the store's
    reporter and a caller's own, for a call run in the caller's process)."""

    def __init__(self, first: Reporter, second: Reporter) -> None:
        self.first, self.second = first, second

    def step(self, step: int, metrics: Mapping[str, float]) -> None:
        self.first.step(step, metrics)
        self.second.step(step, metrics)

    def epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        self.first.epoch(epoch, metrics)
        self.second.epoch(epoch, metrics)

    def progress(self, fraction: float, message: str = "") -> None:
        self.first.progress(fraction, message)
        self.second.progress(fraction, message)

    def should_stop(self) -> bool:
        return self.first.should_stop() or self.second.should_stop()


class TerminalReporter:
    """A progress bar on a terminal (redrawn in place), plain epoch lines otherwise.

    Epoch lines are printed in both cases, so a log file of a run still shows how it went.
    """

    def __init__(self, stream: TextIO | None = None, prefix: str = "", width: int = 28) -> None:
        self.stream = stream or sys.stderr
        self.prefix = prefix
        self.width = width
        self.interactive = self.stream.isatty()
        self._last_loss = math.nan
        self._last_draw = 0.0

    def step(self, step: int, metrics: Mapping[str, float]) -> None:
        self._last_loss = float(metrics.get("loss", math.nan))

    def epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """An epoch's line; a task's evaluation (it carries its update) is named by that."""
        where = (f"update {metrics['step']:.0f}" if "step" in metrics
                 else f"epoch {epoch + 1}")
        parts = [f"{k} {v:.4g}" for k, v in metrics.items() if k not in ("elapsed_s", "step")]
        self._clear()
        print(f"{self.prefix}{where}: " + ", ".join(parts), file=self.stream)

    def progress(self, fraction: float, message: str = "") -> None:
        now = time.monotonic()
        if not self.interactive or (now - self._last_draw < 0.1 and fraction < 1.0):
            return
        self._last_draw = now
        filled = round(self.width * min(max(fraction, 0.0), 1.0))
        bar = "#" * filled + "." * (self.width - filled)
        loss = f" loss {self._last_loss:.4g}" if math.isfinite(self._last_loss) else ""
        self.stream.write(f"\r{self.prefix}[{bar}] {fraction:4.0%} {message}{loss}\x1b[K")
        self.stream.flush()

    def should_stop(self) -> bool:
        return False

    def _clear(self) -> None:
        if self.interactive:
            self.stream.write("\r\x1b[K")
