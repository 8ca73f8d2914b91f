"""What one job logs to its trackers, as it reports: opened with its kind and config, fed its
steps and epochs, ended with its result. Live logging and `lrlab export-run` both go through
here, so an exported job reads back as a live one did. Every run gets the job's config as
params (nested sections joined by dots) and its job id as the tag ``lrlab.job``.

- Range test: ``range_test/lr``, ``range_test/loss``, ``range_test/smoothed`` (and
  ``range_test/val_loss``) at each point's index; every rule's suggestion, the consensus and the
  trust as tags; ``range_test.png`` and ``result.json``.
- Training: ``train/<key>`` per update (loss, lr, momentum, batch...), ``eval/<key>`` per
  evaluation (its epoch, or a task's evaluation index); ``summary/<key>``; ``config.json``,
  ``schedule.json`` and ``summary.json``.
- LR check: its points are training runs nested under its run (MLflow's parentRunId,
  TensorBoard's ``check-<id>/`` folder, each point's peak LR against its objective in
  HParams); ``ladder/best_lr``, ``ladder/best_objective``, ``baseline/<name>`` and
  ``baseline/gap`` (its LR-free baselines, nested too), the verdict as a tag, ``ladder.json``.

Writes go through one background thread, so a slow or unreachable tracker never slows the
job; a tracker that fails is named in one warning and dropped, and the store keeps everything.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from lrlab.core.errors import LrlabError
from lrlab.core.tracking_targets import Target
from lrlab.trackers.writers import (
    JOB_TAG,
    MlflowWriter,
    TensorBoardWriter,
    as_text,
    ladder_run,
    load_library,
)

LOGGED_KINDS = ("find", "train", "check")  # the job kinds a tracker takes
PREFIXES = {("find", "step"): "range_test/", ("train", "step"): "train/",
            ("train", "epoch"): "eval/", ("find", "epoch"): "range_test_epoch/"}
FLUSH_S = 30.0  # how long a job's end waits for its trackers before moving on
BATCH_S = 1.0  # metrics reach the trackers in batches at most this old (as the store's do)
HIDDEN = ("schedule", "log_to", "origin", "children")  # not params: files, tags or noise


class TrackerWarning(UserWarning):
    """A tracker could not be written; the job ran on."""


def metric_name(kind: str, scope: str, key: str) -> str:
    """The name a job's metric has in the trackers (see the module's table)."""
    return PREFIXES.get((kind, scope), f"{scope}/") + key


def flat_params(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """A config as tracker params: nested sections joined by dots, values as text."""
    out: dict[str, str] = {}
    for key, value in config.items():
        if (key in HIDDEN and not prefix) or value is None:
            continue
        if isinstance(value, Mapping):
            out.update(flat_params(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = as_text(value)
    return out


def run_name(kind: str, job_id: int | None) -> str:
    """A job's run name: its kind and store id, or its kind and start time when not kept."""
    return f"{kind}-{job_id}" if job_id is not None else f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}"


class JobLog:
    """One job's runs in its trackers, fed as a reporter (a job's reporter and its log are
    joined by lrlab.core.reporting.Tee). `background=False` writes in the caller's thread (an
    export, where nothing waits on it). A `parent`'s child is nested under its runs and
    written by its thread (a point of a ladder run in one process)."""

    def __init__(self, kind: str, config: Mapping[str, Any], job_id: int | None,
                 targets: list[Target], *, background: bool = True,
                 parent: JobLog | None = None, name: str | None = None) -> None:
        self.kind, self.config, self.job_id = kind, dict(config), job_id
        self.targets, self.parent = list(targets), parent
        self.name = name or run_name(kind, job_id)
        self.writers: dict[Target, Any] = {}
        self.pending: list[tuple[int, dict[str, float], float]] = []
        self.sent = time.monotonic()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        if parent is not None:
            self.failed, self.queue, self.queued = parent.failed, parent.queue, parent.queued
        else:
            self.failed: dict[Target, str] = {}
            self.queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
            self.queued = background
            if background:
                self.thread = threading.Thread(target=self._drain, daemon=True,
                                               name=f"lrlab-trackers-{self.name}")
                self.thread.start()
        for target in self.targets:
            try:
                load_library(target.tracker)
            except Exception as exc:  # not installed, or broken: the job runs on
                self._drop(target, exc)
                continue
            self._do(lambda t=target: self._open_or_warn(t))

    def child(self, kind: str, config: Mapping[str, Any], name: str) -> JobLog:
        """The log of a run nested under this one's."""
        return JobLog(kind, config, None, self.targets, parent=self, name=name)

    def step(self, step: int, metrics: Mapping[str, float], when: float | None = None) -> None:
        self._scalars("step", step, metrics, when)

    def epoch(self, epoch: int, metrics: Mapping[str, float], when: float | None = None) -> None:
        self._scalars("epoch", epoch, metrics, when)

    def progress(self, fraction: float, message: str = "") -> None:
        """A reporter's progress: the trackers keep metrics only."""

    def should_stop(self) -> bool:
        """A tracker never stops a job."""
        return False

    def finish(self, result: Mapping[str, Any] | None, status: str) -> None:
        """Log the result as the kind says and end every run; the job's own log then waits
        (at most FLUSH_S) for its writes to reach the trackers."""
        self._send()
        self._each(lambda w: self._end(w, dict(result or {}), status))
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join(FLUSH_S)
            if self.thread.is_alive():
                for target in self.writers:
                    self._warn(target, f"still writing after {FLUSH_S:.0f} s; left behind")

    def _scalars(self, scope: str, index: int, metrics: Mapping[str, float],
                 when: float | None) -> None:
        values = {metric_name(self.kind, scope, k): float(v) for k, v in metrics.items()
                  if isinstance(v, (int, float)) and math.isfinite(v)}
        if not values:
            return
        with self.lock:
            self.pending.append((int(index), values, time.time() if when is None else when))
        if self.queued and time.monotonic() - self.sent >= BATCH_S:
            self._send()

    def _send(self) -> None:
        """Hand the metrics gathered so far to the trackers, as one batch each."""
        with self.lock:
            rows, self.pending = self.pending, []
            self.sent = time.monotonic()
        if rows:
            self._each(lambda w: w.scalars(rows))

    def _open_or_warn(self, target: Target) -> None:
        try:
            self._open(target)
        except Exception as exc:  # an unreachable or misconfigured tracker: the job runs on
            self._drop(target, exc)

    def _open(self, target: Target) -> None:
        params = flat_params(self.config)
        tags = {JOB_TAG: str(self.job_id), "lrlab.kind": self.kind}
        ladder = (self.config.get("origin") or {}).get("check") if self.kind == "train" else None
        above = None
        if self.parent is not None:
            above = self.parent.writers.get(target)
            if above is None:
                return  # the parent's tracker failed, and said so
        if target.tracker == "tensorboard":
            folder = (f"{self.parent.name}/{self.name}" if self.parent is not None else
                      f"check-{ladder}/{self.name}" if ladder is not None else self.name)
            self.writers[target] = TensorBoardWriter(target, folder, params)
        elif self.kind == "check" and self.job_id is not None:  # its points may have made it
            self.writers[target] = MlflowWriter.attach(target, ladder_run(target, self.job_id),
                                                       params)
        else:
            parent_run = (ladder_run(target, ladder) if ladder is not None else
                          above.run_id if above is not None else None)
            self.writers[target] = MlflowWriter.start(target, self.name, params, tags,
                                                      parent_run)

    def _end(self, writer: Any, result: dict[str, Any], status: str) -> None:
        if status == "succeeded" and result:
            if self.kind == "find":
                _end_range_test(writer, result)
            elif self.kind == "check":
                _end_ladder(writer, result)
            else:
                point = self.parent is not None or bool(
                    (self.config.get("origin") or {}).get("check"))
                _end_training(writer, self.config, result, point)
        writer.close(status)

    def _each(self, action: Callable[[Any], None]) -> None:
        def apply() -> None:
            for target, writer in list(self.writers.items()):
                try:
                    action(writer)
                except Exception as exc:  # the tracker's failure never reaches the job
                    self._drop(target, exc)
        self._do(apply)

    def _do(self, action: Callable[[], None]) -> None:
        if self.queued:
            self.queue.put(action)
        else:
            action()

    def _drain(self) -> None:
        # Linux schedules threads on their own: the training comes first
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        while (action := self.queue.get()) is not None:
            action()

    def _drop(self, target: Target, exc: BaseException) -> None:
        self.writers.pop(target, None)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self._warn(target, f"{type(exc).__name__}: {reason[:300]}")

    def _warn(self, target: Target, reason: str) -> None:
        if target in self.failed:
            return
        self.failed[target] = reason
        job = f"job #{self.job_id}" if self.job_id is not None else "this run"
        catch_up = (f"; `lrlab export-run {self.job_id} --to {target}` catches up later"
                    if self.job_id is not None else "")
        warnings.warn(TrackerWarning(f"lrlab: not logging {job} to {target} "
                                     f"({target.location()}): {reason}. The job runs on and "
                                     f"the store keeps everything{catch_up}."), stacklevel=2)


def _end_range_test(writer: Any, result: Mapping[str, Any]) -> None:
    from lrlab.trackers.figures import range_test_png

    suggestions = result.get("suggestions") or {}
    trust = result.get("trust") or {}
    tags = {f"suggestion.{k}": f"{v:.6g}" for k, v in suggestions.items() if v is not None}
    tags.update({"trust.level": str(trust.get("level")), "trust.verdict": str(
        trust.get("verdict", "")), "stop_reason": str(result.get("stop_reason"))})
    writer.tags(tags)
    writer.file("range_test.png", range_test_png(result))
    writer.file("result.json", _json(result))


def _end_training(writer: Any, config: Mapping[str, Any], result: Mapping[str, Any],
                  point: bool) -> None:
    summary = result.get("summary") or {}
    numbers = {f"summary/{k}": float(v) for k, v in summary.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
    writer.scalars([(0, numbers, time.time())])
    writer.tags({"stop_reason": str(summary.get("stop_reason"))})
    writer.file("config.json", _json(result.get("config") or config))
    if result.get("schedule") is not None:
        writer.file("schedule.json", _json(result["schedule"]))
    writer.file("summary.json", _json(summary))
    if point:  # a point of a ladder: its peak LR against its objective
        from lrlab.lr_check.plan import peak_lr

        final = summary.get("final_objective", summary.get("final_val_top1"))
        if final is not None:
            writer.hparams({"peak_lr": peak_lr(config), "seed": config.get("seed", 0)},
                           {"objective": float(final)})


def _end_ladder(writer: Any, result: Mapping[str, Any]) -> None:
    best = result.get("best") or {}
    numbers = {"ladder/best_lr": best.get("lr"),
               "ladder/best_objective": best.get("final_objective",
                                                 best.get("final_val_top1")),
               # each LR-free baseline's final objective, and the best point's lead on them
               **{f"baseline/{b['baseline']}": b.get("final_objective")
                  for b in result.get("baselines") or ()},
               "baseline/gap": (result.get("versus") or {}).get("gap")}
    writer.scalars([(0, {k: float(v) for k, v in numbers.items() if v is not None},
                     time.time())])
    writer.tags({"verdict": str(result.get("verdict", "")),
                 "objective": str(result.get("objective", "val_top1"))})
    writer.file("ladder.json", _json(result))


def _json(value: Any) -> bytes:
    try:
        return json.dumps(value, indent=2, sort_keys=True, default=str).encode()
    except (TypeError, ValueError) as exc:
        raise LrlabError(f"result: not JSON ({exc})") from None
