"""A run's folder: config.json, metrics.jsonl, summary.json and checkpoint.pt.

Metrics go to disk as they arrive (one JSON object per line, flushed every epoch), so a run that
is cancelled or dies keeps everything it measured so far.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from lrlab.core.errors import LrlabError
from lrlab.core.json_safe import json_safe
from lrlab.core.reporting import Reporter

CONFIG = "config.json"
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"


def prepare(out_dir: Path, config: Mapping[str, Any]) -> None:
    """Create the folder and write the config, refusing to overwrite another run's results."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LrlabError(f"out: cannot create run folder {str(out_dir)!r} ({exc})") from exc
    if (out_dir / SUMMARY).exists():
        raise LrlabError(f"out: {str(out_dir)!r} already holds a finished run; "
                         "choose a new folder")
    write_json(out_dir / CONFIG, config)


def write_json(path: Path, payload: Mapping[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Every record of a metrics.jsonl file, in order."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class MetricsFileReporter:
    """Writes every record to metrics.jsonl and passes everything on to `inner`."""

    def __init__(self, path: Path, inner: Reporter) -> None:
        self.inner = inner
        self._file: IO[str] = path.open("a", encoding="utf-8")

    def _write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record) + "\n")

    def step(self, step: int, metrics: Mapping[str, float]) -> None:
        self._write({"scope": "step", "index": step,
                     **{k: json_safe(float(v)) for k, v in metrics.items()}})
        self.inner.step(step, metrics)

    def epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        self._write({"scope": "epoch", "index": epoch,
                     **{k: json_safe(float(v)) for k, v in metrics.items()}})
        self._file.flush()
        self.inner.epoch(epoch, metrics)

    def progress(self, fraction: float, message: str = "") -> None:
        self.inner.progress(fraction, message)

    def should_stop(self) -> bool:
        return self.inner.should_stop()

    def close(self) -> None:
        self._file.close()


@contextmanager
def metrics_reporter(out_dir: Path | None, inner: Reporter) -> Iterator[Reporter]:
    """`inner`, teed to the run folder's metrics.jsonl when there is a folder; the file is
    closed however the run ends, so a stopped run keeps what it measured."""
    if out_dir is None:
        yield inner
        return
    reporter = MetricsFileReporter(out_dir / METRICS, inner)
    try:
        yield reporter
    finally:
        reporter.close()
