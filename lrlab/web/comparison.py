"""Comparing finished jobs: which settings differ, and what each run achieved.

Pure functions over job records, so the Runs page only lays their output out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from lrlab.jobs import kinds
from lrlab.store import Job, Store, format_time


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"optimizer": {"lr": 0.1}} -> {"optimizer.lr": 0.1}; lists stay whole values."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def config_diff(configs: Mapping[str, Mapping[str, Any]]) -> list[dict[str, str]]:
    """One row per setting whose value is not the same in every run (absent counts as differing)."""
    flats = {name: flatten(c) for name, c in configs.items()}
    keys = sorted({k for flat in flats.values() for k in flat})
    rows = []
    for key in keys:
        values = [flat.get(key, _MISSING) for flat in flats.values()]
        if all(v == values[0] for v in values[1:]):
            continue
        rows.append({"setting": key, **{name: _cell(flats[name].get(key)) for name in flats}})
    return rows


_MISSING = object()


def listed_jobs(store: Store, kind: str | None = None, limit: int = 300) -> list[Job]:
    """The runs a person compares (not the worker self-tests), newest first, with headline
    results only (no curves)."""
    plumbing = [k for k in kinds.NAMES if k not in kinds.listed()]
    return store.list_jobs(limit, kind=kind, exclude_kinds=plumbing,
                           headlines=kinds.headline_paths())


def range_test_overlays(
    jobs: Sequence[Job],
) -> list[tuple[str, Sequence[float], Sequence[float]]]:
    """(label, LRs, smoothed loss) of finished range tests, to draw over another test's curve."""
    return [(run_label(j), j.result["lr"], j.result.get("smoothed") or j.result["loss"])
            for j in jobs if j.kind == "find" and j.result and "lr" in j.result]


def run_label(job: Job) -> str:
    """'#12 train resnet18 on digits' — what a person recognises a run by."""
    config = kinds.setup_of(job)
    model, dataset = config.get("model"), config.get("dataset")
    what = f" {model} on {dataset}" if model and dataset else ""
    return f"#{job.id} {job.kind}{what}"


def headline(job: Job) -> dict[str, Any]:
    """What a run is compared by: top-1 for training, the consensus LR and trust for a range
    test, and how long it took (None where the run has no such figure yet)."""
    end = job.finished if job.finished is not None else (job.heartbeat if job.started else None)
    duration = end - job.started if job.started is not None and end is not None else None
    columns = dict.fromkeys(h.label for name in kinds.listed() for h in kinds.KINDS[name].headlines)
    return {**columns, **kinds.headlines(job), "duration (s)": duration}


def jobs_table(jobs: Sequence[Job]) -> list[dict[str, Any]]:
    """The Runs page's table: one row per job, numbers kept as numbers so columns sort."""
    return [
        {"id": j.id, "status": j.status, "kind": j.kind,
         "model": kinds.setup_of(j).get("model"), "dataset": kinds.setup_of(j).get("dataset"),
         "progress": j.progress, **headline(j),
         "created": format_time(j.created)}
        for j in jobs
    ]


def results_table(jobs: Sequence[Job]) -> list[dict[str, Any]]:
    """One row per job with the figures its kind produces (accuracy for training, LR for tests)."""
    rows = []
    for job in jobs:
        row: dict[str, Any] = {"run": run_label(job), "status": job.status,
                               **kinds.figures(job)}
        if job.error:
            row["error"] = job.error
        rows.append(row)
    return rows
