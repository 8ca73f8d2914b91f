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
from lrlab.web.formats import formatted, status_line


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
    what = setup_words(job)
    return f"#{job.id} {job.kind}{' ' + what if what else ''}"


def setup_words(job: Job) -> str:
    """'resnet18 on digits': what a run trains, in words ("curve lr.csv" for an imported
    curve); "" where its config names neither."""
    if job.config.get("imported"):
        return f"curve {job.config['imported'].get('file', '')}".strip()
    config = kinds.setup_of(job)
    if isinstance(config.get("task"), dict):
        return f"task {config['task'].get('spec', '')}"
    model, dataset = config.get("model"), config.get("dataset")
    return f"{model} on {dataset}" if model and dataset else model or dataset or ""


def headline(job: Job) -> dict[str, Any]:
    """What a run is compared by: its kind's headline figures (top-1 for training, the
    consensus LR and trust for a range test; None where not yet known), and how long it took."""
    end = job.finished if job.finished is not None else (job.heartbeat if job.started else None)
    duration = end - job.started if job.started is not None and end is not None else None
    return {**kinds.headlines(job), "duration (s)": duration}


OBJECTIVE = ("objective", "final objective")  # the headlines of a task's own metric


def result_words(job: Job) -> str:
    """A run's headline in a few words: a task's objective ("val_loss 1.234"), else its kind's
    first figure in its one format and its words ("top-1 97.00 %", "LR 0.0387 · trust
    medium"); "" until known."""
    values = kinds.headlines(job)
    name, final = (values.get(label) for label in OBJECTIVE)
    if name not in (None, "val_top1") and final is not None:
        return f"{name} {final:.4g}"
    declared = [h for h in kinds.kind_of(job.kind).headlines if h.label not in OBJECTIVE]
    return " · ".join(f"{h.words or h.label} {formatted(h.label, values[h.label])}"
                      for i, h in enumerate(declared)
                      if (i == 0 or h.text) and values[h.label] is not None)


def jobs_table(jobs: Sequence[Job], kind: str | None = None) -> list[dict[str, Any]]:
    """The Runs page's table: one row per job, an LR check's points right under it, narrow
    enough for a laptop's screen. Listing every kind, a run's headline is one "result" cell in
    words; listing one kind, its figures get a column each, numbers kept as numbers so they
    sort."""
    def row(job: Job) -> dict[str, Any]:
        what = {"kind": job.kind} if kind is None else {}
        figures = {"result": result_words(job)} if kind is None else headline(job)
        return {"id": job.id, "status": status_line(job.status, job.progress), **what,
                "setup": setup_words(job), "peak LR": peak_lr_of(job), "schedule": schedule_of(job),
                "from": origin_of(job), **figures}

    return [row(j) for j in grouped(jobs)]


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
    """What a run came from: "range test #3", or "↳ LR check #5" for a point of that ladder."""
    origin = job.config.get("origin") or {}
    if origin.get("check") is not None:
        return f"↳ LR check #{origin['check']}"
    if origin.get("range_test") is not None:
        return f"range test #{origin['range_test']}"
    return f"range test #{job.config['range_test']}" if job.config.get("range_test") else ""


VERDICT = "verdict"  # the figure that is a sentence, shown under the table rather than in it


def results_table(jobs: Sequence[Job]) -> list[dict[str, str]]:
    """The selected runs side by side: one row per figure their kinds produce (accuracy for
    training, the LR for tests), one column per run ("#6 train"), each figure in its one
    format and an empty cell where a run has none. Verdicts and errors are sentences: see
    run_notes."""
    per_run = {job.id: {"status": job.status,
                        **{k: v for k, v in kinds.figures(job).items() if k != VERDICT},
                        "created": format_time(job.created),
                        "duration (s)": headline(job)["duration (s)"]} for job in jobs}
    labels = dict.fromkeys(label for figures in per_run.values() for label in figures)
    return [{"figure": label, **{f"#{job.id} {job.kind}": formatted(label, figures.get(label))
                                 for job, figures in zip(jobs, per_run.values(), strict=True)}}
            for label in labels]


def run_notes(jobs: Sequence[Job]) -> list[tuple[str, str, bool]]:
    """(run, sentence, is an error) for each selected run's verdict or error."""
    notes = []
    for job in jobs:
        verdict = kinds.figures(job).get(VERDICT)
        if verdict:
            notes.append((run_label(job), str(verdict), False))
        if job.error:
            notes.append((run_label(job), job.error, True))
    return notes
