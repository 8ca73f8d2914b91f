"""Comparing finished jobs: which settings differ, and what each run achieved.

Pure functions over job records, so the Runs page only lays their output out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from lrlab.core.errors import LrlabError
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
    """The Runs page's table: one row per job, numbers kept as numbers so columns sort, text
    cells empty rather than None; an LR check's points right under it."""
    return [
        {"id": j.id, "status": j.status, "kind": j.kind,
         "model": kinds.setup_of(j).get("model") or "",
         "dataset": kinds.setup_of(j).get("dataset") or "",
         "peak LR": peak_lr_of(j), "schedule": schedule_of(j), "from": origin_of(j),
         "progress": j.progress, **headline(j), "created": format_time(j.created)}
        for j in grouped(jobs)
    ]


def grouped(jobs: Sequence[Job]) -> list[Job]:
    """Jobs in the order given, each LR check's points moved right under it."""
    by_id = {j.id: j for j in jobs}
    points = {c for j in jobs if j.kind == "check" for c in j.config.get("children") or ()}
    out: list[Job] = []
    for job in jobs:
        if job.id in points:
            continue
        out.append(job)
        out += [by_id[c] for c in job.config.get("children") or () if c in by_id]
    return out + [j for j in jobs if j.id in points and j not in out]


def peak_lr_of(job: Job) -> float | None:
    """The LR a run peaks at (a training run's schedule), or a check is centred on."""
    setup = kinds.setup_of(job)
    if job.kind == "check":
        return job.config.get("lr") or _peak(setup)
    return _peak(setup) if job.kind == "train" else None


def _peak(setup: Mapping[str, Any]) -> float | None:
    from lrlab.lr_check import peak_lr

    try:
        return peak_lr(setup)
    except (KeyError, TypeError, LrlabError):  # a config from before these fields
        return None


def schedule_of(job: Job) -> str:
    """A run's schedule in a word: its kind, or the tricks' when it names none."""
    setup = kinds.setup_of(job)
    if job.kind not in ("train", "check") or "optimizer" not in setup:
        return ""
    schedule = setup.get("schedule")
    if schedule:
        return (schedule.get("main") or {}).get("kind", "")
    return "warmup + cosine" if (setup.get("tricks") or {}).get("cosine", True) else "step"


def origin_of(job: Job) -> str:
    """What a run came from: "range test #3", "LR check #5 (a point)"."""
    origin = job.config.get("origin") or {}
    if origin.get("check") is not None:
        return f"LR check #{origin['check']} (a point)"
    if origin.get("range_test") is not None:
        return f"range test #{origin['range_test']}"
    return f"range test #{job.config['range_test']}" if job.config.get("range_test") else ""


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
