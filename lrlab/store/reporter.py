"""The Reporter a job's runner talks to inside the worker's child process.

Writing every metric in its own transaction would make a fast range test wait on the database, so
`step`/`epoch`/`progress` only append to a buffer and a background thread writes the buffer in one
transaction every `flush_interval_s` (0.25 s by default). A metric therefore reaches the store
within about that interval even when the runner then computes for a long time without reporting.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping
from typing import Protocol

from lrlab.store import MetricPoint, Store

FLUSH_INTERVAL_S = 0.25


class StopFlag(Protocol):
    """A threading.Event or a multiprocessing Event: the worker sets it to ask for a stop."""

    def is_set(self) -> bool: ...


class StoreReporter:
    """Buffers a job's metrics and progress and writes them to the store in batches.

    Use as a context manager: entering starts the flushing thread, leaving writes what is left.
    """

    def __init__(
        self,
        store: Store,
        job_id: int,
        stop_flag: StopFlag | None = None,
        flush_interval_s: float = FLUSH_INTERVAL_S,
    ) -> None:
        self._store = store
        self._job_id = job_id
        self._stop_flag = stop_flag
        self._interval = flush_interval_s
        self._lock = threading.Lock()
        self._points: list[MetricPoint] = []
        self._progress: tuple[float, str] | None = None
        self._closing = threading.Event()
        # the first metric is written at once: it is what a page watching the job waits for
        self._wake = threading.Event()
        self._reported = False
        self._thread: threading.Thread | None = None

    # -- Reporter ----------------------------------------------------------------------------

    def step(self, step: int, metrics: Mapping[str, float]) -> None:
        self._add("step", step, metrics)

    def epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        self._add("epoch", epoch, metrics)

    def progress(self, fraction: float, message: str = "") -> None:
        with self._lock:
            self._progress = (float(fraction), message)

    def should_stop(self) -> bool:
        return self._stop_flag is not None and self._stop_flag.is_set()

    # -- batching ----------------------------------------------------------------------------

    def _add(self, scope: str, index: int, metrics: Mapping[str, float]) -> None:
        now = time.time()
        points = [MetricPoint(scope, int(index), key, float(v), now) for key, v in metrics.items()]
        with self._lock:
            self._points.extend(points)
            first, self._reported = not self._reported, True
        if first:
            self._wake.set()

    def flush(self) -> None:
        """Write everything buffered so far in one transaction."""
        with self._lock:
            points, progress = self._points, self._progress
            self._points, self._progress = [], None
        if not points and progress is None:
            return
        try:
            self._store.append_metrics(self._job_id, points, progress=progress)
        except Exception:
            # Keep the batch for the next attempt (e.g. the database was locked for too long).
            with self._lock:
                self._points[:0] = points
                if self._progress is None:
                    self._progress = progress
            raise

    def _flush_loop(self) -> None:
        while not self._closing.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._closing.is_set():
                break
            try:
                self.flush()
            except Exception as exc:
                print(f"lrlab: metrics flush failed, will retry: {exc}", file=sys.stderr)

    def __enter__(self) -> StoreReporter:
        self._thread = threading.Thread(
            target=self._flush_loop, name=f"lrlab-metrics-{self._job_id}", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._closing.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        self.flush()
