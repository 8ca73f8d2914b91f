"""The LR check ladder: short training runs of one setup at LRs around a suggestion, to see which
LR trains best and how far the advice was from it.

Every finder (fastai, torch-lr-finder, Lightning, lrlab's own) reads a number off a loss curve;
none trains at it. A ladder does: the setup's schedule (its own, the paper's from
``optimizer.lr``, or an advised one) is moved to each LR of a log-spaced ladder around its peak
(``schedules.fit.scale_lr``: the same shape in proportion) and trained for a short budget, the
schedule stretched to it. Each point is an ordinary training job, so several workers run a
ladder in parallel; the ladder itself (an ``lrlab.check/1`` job) is never claimed by a worker:
it is finished, with the aggregate below, by whoever sees its last point end (``refresh``).

With ``seeds`` > 1 each point is trained that many times (seed, seed+1, ...) and its figures are
the mean: one short run's accuracy moves by a point or two between neighbouring LRs, enough to
crown the wrong one.

Config: ``{"setup": <lrlab.train/2>, "lr": peak or null (the setup's), "points", "span",
"epochs" or "fraction" (the budget), "seeds", "suggestions": {method: LR} to mark,
"range_test": job id or null}``; the store adds ``children``, the ids of the runs' jobs, point
by point (a point's seeds next to each other). Configs without ``seeds`` read as one seed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from lrlab.core import options
from lrlab.core.errors import LrlabError

FORMAT = "lrlab.check/1"
LADDER_FIELDS = ("lr", "points", "span", "epochs", "fraction", "seeds")
LADDER_DEFAULTS: dict[str, Any] = options.defaults("check", LADDER_FIELDS)
# A point's accuracy this close to the best counts as a tie (one image in a thousand).
TIE = 1e-3
DEFAULT_FRACTION = 0.2  # of the setup's epochs, when the budget is not given


def validate_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The ladder's config with defaults filled in; bad fields raise LrlabError naming them."""
    from lrlab.tasks.image.config import validate_config as validate_setup

    if not isinstance(config, Mapping):
        raise LrlabError(f"check config: expected a mapping, got {type(config).__name__}")
    known = {*LADDER_FIELDS, "setup", "suggestions", "range_test", "children"}
    unknown = set(config) - known
    if unknown:
        raise LrlabError(f"check config: unknown field(s) {', '.join(sorted(unknown))}; "
                         f"expected some of {', '.join(sorted(known))}")
    if not isinstance(config.get("setup"), Mapping):
        raise LrlabError("setup: expected an lrlab.train/2 config (a mapping), got "
                         f"{config.get('setup')!r}")
    cfg = options.check({**LADDER_DEFAULTS, **{k: config[k] for k in LADDER_FIELDS
                                               if k in config}}, LADDER_FIELDS, "check")
    if cfg["epochs"] is not None and cfg["fraction"] is not None:
        raise LrlabError("check: give the budget as epochs or as fraction, not both")
    suggestions = config.get("suggestions") or {}
    if not isinstance(suggestions, Mapping) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v > 0
            for v in suggestions.values()):
        raise LrlabError(f"suggestions: expected {{method: LR > 0}}, got {suggestions!r}")
    range_test = config.get("range_test")
    if range_test is not None and (isinstance(range_test, bool)
                                   or not isinstance(range_test, int)):
        raise LrlabError(f"range_test: expected a job id, got {range_test!r}")
    setup = validate_setup(config["setup"])
    out = {"setup": setup, **cfg, "suggestions": {str(k): float(v)
                                                  for k, v in suggestions.items()},
           "range_test": range_test}
    if "children" in config:
        out["children"] = list(config["children"])
    return out


def budget_epochs(cfg: Mapping[str, Any]) -> int:
    """Epochs each point trains: ``epochs``, or ``fraction`` of the setup's (at least one)."""
    if cfg["epochs"] is not None:
        return cfg["epochs"]
    fraction = cfg["fraction"] if cfg["fraction"] is not None else DEFAULT_FRACTION
    return max(1, round(fraction * cfg["setup"]["epochs"]))


def _clean(value: float) -> float:
    """12 significant digits: 0.1 x 0.1 reads 0.01 in a config, not 0.010000000000000002."""
    return float(f"{value:.12g}")


def factors(points: int, span: float) -> list[float]:
    """``points`` log-spaced factors from 1/span to span, plus 1 (the advice itself)."""
    if points == 1:
        return [1.0]
    exponents = [-1 + 2 * i / (points - 1) for i in range(points)]
    found = sorted({round(span ** e, 12) for e in exponents} | {1.0})
    return found


def peak_lr(setup: Mapping[str, Any]) -> float:
    """The LR the setup's schedule peaks at (its effective base LR): the given schedule's, or
    the paper's from optimizer.lr (linear scaling to the batch when that trick is on)."""
    from lrlab.schedules import Schedule

    if setup["schedule"] is not None:
        return Schedule.from_dict(setup["schedule"]).effective_base_lr
    lr = setup["optimizer"]["lr"]
    tricks = setup["tricks"]
    return lr * setup["batch_size"] / tricks["reference_batch"] if tricks[
        "linear_scaling"] else lr


def points(cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each point's factor, peak LR and ``lrlab.train/2`` config: the setup at that peak, for
    the budget, its schedule stretched to the budget's updates."""
    from lrlab.schedules import Schedule
    from lrlab.schedules.fit import scale_lr

    setup = cfg["setup"]
    base = peak_lr(setup)
    center = cfg["lr"] if cfg["lr"] is not None else base
    epochs = budget_epochs(cfg)
    out = []
    for factor in factors(cfg["points"], cfg["span"]):
        ratio = _clean(center / base * factor)  # this point's peak over the setup's
        lr = _clean(base * ratio)
        train = {**setup, "epochs": epochs}
        if setup["schedule"] is not None:
            schedule = scale_lr(Schedule.from_dict(setup["schedule"]), ratio)
            train.update(schedule=schedule.to_dict(), schedule_fit="stretch")
        else:
            train["optimizer"] = {**setup["optimizer"],
                                  "lr": _clean(setup["optimizer"]["lr"] * ratio)}
        out.append({"factor": factor, "lr": lr, "config": train})
    return out


def seeds_of(cfg: Mapping[str, Any]) -> int:
    """Runs per point (ladders stored before seeds were added ran one)."""
    return int(cfg.get("seeds") or 1)


def runs(cfg: Mapping[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(point, training config) of every run, point by point: each point's seeds in turn."""
    return [(point, {**point["config"], "seed": point["config"]["seed"] + k})
            for point in points(cfg) for k in range(seeds_of(cfg))]


def children(cfg: Mapping[str, Any], ladder_id: int) -> list[tuple[str, dict[str, Any]]]:
    """The jobs a ladder queues: one training run per point and seed (the store's group
    submit), each naming the ladder it belongs to (and the range test the ladder came from)
    in its origin."""
    origin = {**(cfg["setup"].get("origin") or {"range_test": None}), "check": ladder_id}
    return [("train", {**config, "origin": origin}) for _, config in runs(cfg)]


def point_row(point: Mapping[str, Any], status: str, *, result: Mapping[str, Any] | None = None,
              error: str | None = None, progress: float = 0.0,
              job: int | None = None) -> dict[str, Any]:
    """One point's figures: its LR and how its run ended."""
    summary = (result or {}).get("summary") or {}
    row: dict[str, Any] = {"factor": point["factor"], "lr": point["lr"], "job": job,
                           "status": status, "progress": progress, "error": error}
    for key in ("best_val_top1", "final_val_top1", "final_val_loss", "final_train_loss"):
        row[key] = summary.get(key)
    return row


def combine(point: Mapping[str, Any], seeds: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A point's row from its seeds' rows: the mean of each figure over the seeds that
    finished, every seed's final top-1 (``seed_final_val_top1``), and a status that is
    "succeeded" only once all seeds have (else the first seed's that has not, with its error)."""
    if len(seeds) == 1:
        return {**seeds[0], "seed_final_val_top1": [seeds[0]["final_val_top1"]]}
    row = point_row(point, "succeeded", progress=sum(r["progress"] for r in seeds) / len(seeds),
                    job=seeds[0]["job"])
    done = [r for r in seeds if r["status"] == "succeeded"]
    for key in ("best_val_top1", "final_val_top1", "final_val_loss", "final_train_loss"):
        values = [r[key] for r in done if r[key] is not None]
        row[key] = sum(values) / len(values) if values else None
    row["seed_final_val_top1"] = [r["final_val_top1"] for r in seeds]
    waiting = [r for r in seeds if r["status"] in ("queued", "running")]
    if waiting:
        row["status"] = "running" if any(r["status"] == "running" for r in waiting) else "queued"
    elif len(done) < len(seeds):
        bad = next(k for k, r in enumerate(seeds) if r["status"] != "succeeded")
        row["status"] = seeds[bad]["status"]
        row["error"] = f"seed {bad + 1} of {len(seeds)}: {seeds[bad]['error'] or row['status']}"
    return row


def seed_spread(row: Mapping[str, Any]) -> float | None:
    """How far a point's seeds' final top-1 spread (max - min), None for one seed."""
    values = [v for v in row.get("seed_final_val_top1") or [] if v is not None]
    return max(values) - min(values) if len(values) > 1 else None


def _decades(a: float, b: float) -> float:
    return abs(math.log10(a / b))


def aggregate(cfg: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The ladder's result: every point, the best, the advice's own point and a verdict."""
    done = [r for r in rows if r["status"] == "succeeded" and r["final_val_top1"] is not None]
    best = None
    if done:
        top = max(r["final_val_top1"] for r in done)
        tied = [r for r in done if r["final_val_top1"] >= top - TIE]
        best = min(tied, key=lambda r: (r["final_val_loss"]
                                        if r["final_val_loss"] is not None else math.inf))
    advice = next((r for r in rows if r["factor"] == 1.0), None)
    return {"format": FORMAT, "lr": rows[0]["lr"] / rows[0]["factor"] if rows else None,
            "epochs": budget_epochs(cfg), "seeds": seeds_of(cfg), "points": list(rows),
            "best": best, "advice": advice, "suggestions": dict(cfg.get("suggestions") or {}),
            "range_test": cfg.get("range_test"),
            "verdict": verdict(rows, best, advice, seeds_of(cfg))}


def verdict(rows: Sequence[Mapping[str, Any]], best: Mapping[str, Any] | None,
            advice: Mapping[str, Any] | None, seeds: int = 1) -> str:
    """The ladder's answer in words: how far the advice is from the best point, in LR and in
    accuracy, how far each point's seeds spread, and what the ladder cannot tell (a best at its
    end, failed points)."""
    n = len(rows)
    failed = [r for r in rows if r["status"] != "succeeded"]
    tail = (f" {len(failed)} of {n} points did not finish ("
            + ", ".join(f"LR {r['lr']:.3g}: {r['status']}" for r in failed) + ")."
            if failed else "")
    if best is None:
        return f"No point of the ladder finished, so it cannot judge the advice.{tail}"
    if advice is None or advice["status"] != "succeeded" or advice["final_val_top1"] is None:
        return (f"The advice's own run did not finish; the best of {n} points is LR "
                f"{best['lr']:.3g} at {100 * best['final_val_top1']:.1f} % top-1.{tail}")
    gap = 100 * (best["final_val_top1"] - advice["final_val_top1"])
    if best is advice or gap <= 100 * TIE:
        text = (f"The advice (LR {advice['lr']:.3g}) is the best of {n} points: "
                f"{100 * advice['final_val_top1']:.1f} % top-1.")
    else:
        direction = "below" if advice["lr"] < best["lr"] else "above"
        text = (f"The advice (LR {advice['lr']:.3g}) is {_decades(advice['lr'], best['lr']):.2f}"
                f" decade {direction} the best of {n} points (LR {best['lr']:.3g}) and "
                f"{gap:.1f} points of accuracy below it ({100 * advice['final_val_top1']:.1f} % "
                f"vs {100 * best['final_val_top1']:.1f} %).")
    lrs = sorted(r["lr"] for r in rows)
    if len(lrs) > 2 and best["lr"] in (lrs[0], lrs[-1]):
        end = "top" if best["lr"] == lrs[-1] else "bottom"
        text += (f" The best is at the ladder's {end} end: a better LR may lie beyond it "
                 "(widen the span).")
    spreads = [x for r in rows if r["status"] == "succeeded" and (x := seed_spread(r)) is not None]
    if seeds > 1 and spreads:
        text += (f" Each point is the mean of {seeds} seeds, whose final top-1 spread by up to "
                 f"{100 * max(spreads):.1f} points.")
    elif seeds == 1 and best is not advice:
        text += (" One seed per point: a gap of a point or two may be noise; more seeds per "
                 "point would tell.")
    return text + tail


def best_training_config(cfg: Mapping[str, Any], result: Mapping[str, Any]) -> dict[str, Any]:
    """The setup at the ladder's best peak LR, for the planned run (its epochs, and its schedule
    before it was stretched to the budget): what "train with the best LR" trains."""
    point = next(p for p in points(cfg) if p["factor"] == result["best"]["factor"])
    return {**point["config"], "epochs": cfg["setup"]["epochs"],
            "schedule_fit": cfg["setup"]["schedule_fit"]}


def table(result: Mapping[str, Any]) -> str:
    """The ladder as text: one line per point, the advice and the best marked."""
    best = (result.get("best") or {}).get("lr")
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.2f} %"

    several = (result.get("seeds") or 1) > 1
    lines = ["  peak LR     factor  final top-1  best top-1  final val loss"
             + ("  seed spread" if several else "") + "  status"]
    for r in result["points"]:
        mark = (" <- advice" if r["factor"] == 1.0 else "") + (" <- best" if r["lr"] == best
                                                               else "")
        loss = "-" if r["final_val_loss"] is None else f"{r['final_val_loss']:.4f}"
        spread = (f"  {pct(seed_spread(r)):>11}" if seed_spread(r) is not None
                  else f"  {'-':>11}") if several else ""
        lines.append(f"  {r['lr']:<10.4g}  {r['factor']:<6.3g}  {pct(r['final_val_top1']):>11}"
                     f"  {pct(r['best_val_top1']):>10}  {loss:>14}{spread}  {r['status']}{mark}")
    return "\n".join(lines)


def rows_of(store: Any, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each point's row, read from its seeds' jobs in the store."""
    seeds = seeds_of(cfg)
    ids = list(cfg.get("children") or [])
    rows = []
    for i, point in enumerate(points(cfg)):
        seed_rows = []
        for job_id in ids[i * seeds:(i + 1) * seeds]:
            try:
                job = store.get(job_id)
            except LrlabError:
                seed_rows.append(point_row(point, "deleted", error="the run's job was deleted",
                                       job=job_id))
                continue
            seed_rows.append(point_row(point, job.status, result=job.result, error=job.error,
                                   progress=job.progress, job=job.id))
        if seed_rows:
            rows.append(combine(point, seed_rows))
    return rows


def refresh(store: Any, job: Any) -> Any:
    """Bring a running ladder job up to date from its points: progress while they run, the
    aggregate and a final status once all have ended. Any process may call it (the worker
    after each job, the pages, the CLI); the store's conditional finish lets one of them win.
    Returns the job as it now stands."""
    if job.kind != "check" or job.status != "running":
        return job
    cfg = job.config
    rows = rows_of(store, cfg)
    ended = [r["status"] not in ("queued", "running") for r in rows]
    if not all(ended):
        progress = sum(1.0 if done else r["progress"]
                       for r, done in zip(rows, ended, strict=True)) / max(1, len(rows))
        message = f"{sum(ended)} of {len(rows)} points done"
        if (progress, message) == (job.progress, job.message):
            return job  # workers refresh every poll: write only what changed
        store.set_progress(job.id, progress, message)
        return store.get(job.id)
    result = aggregate(cfg, rows)
    if job.cancel_requested:
        status = "cancelled"
    elif result["best"] is None:
        status = "failed"
    else:
        status = "succeeded"
    store.finish(job.id, status, result=result,
                 error=None if status == "succeeded" else result["verdict"])
    return store.get(job.id)


def refresh_running(store: Any) -> None:
    """Refresh every running ladder (cheap: ladders are few, and each reads its points)."""
    for job in store.list_jobs(None, kind="check", status="running"):
        refresh(store, job)


def from_range_test(result: Mapping[str, Any], *, setup: Mapping[str, Any] | None = None,
                    advice: str = "onecycle", job: int | None = None) -> dict[str, Any]:
    """A ladder's config from a range test's result: its setup (unless another is given) with
    its advised schedule of kind `advice` (sized to the planned run), every method's suggestion
    to mark, and the range test's `job` id when it ran as one."""
    from lrlab.finder.job import finder_setup

    config = result.get("config") or {}
    if setup is None:
        if not config:
            raise LrlabError("the range-test result has no config (an imported curve?); give "
                             "the setup with --config")
        setup = finder_setup(config)
    schedules = result.get("advice") or {}
    if advice not in schedules:
        raise LrlabError(f"advice: the range test advised {', '.join(schedules) or 'nothing'}; "
                         f"got {advice!r}")
    suggestions = {k: v for k, v in (result.get("suggestions") or {}).items()
                   if isinstance(v, int | float) and v > 0}
    return {"setup": {**setup, "schedule": schedules[advice], "schedule_fit": "stretch"},
            "suggestions": suggestions, "range_test": job}


def run_locally(cfg: Mapping[str, Any], reporter: Any = None) -> dict[str, Any]:
    """Train every point in this process, one after another (``lrlab check``); a point that
    fails (a diverged run) is a row with its reason, not the end of the ladder."""
    from lrlab.core.reporting import NullReporter
    from lrlab.training.job import train

    reporter = reporter or NullReporter()
    seeds = seeds_of(cfg)
    plan = runs(cfg)
    done: list[dict[str, Any]] = []
    for i, (point, config) in enumerate(plan):
        which = f", seed {config['seed']}" if seeds > 1 else ""
        reporter.progress(i / len(plan), f"run {i + 1}/{len(plan)}: LR {point['lr']:.3g}{which}")
        try:
            result = train(config)
        except LrlabError as exc:
            done.append(point_row(point, "failed", error=str(exc)))
            continue
        done.append(point_row(point, "succeeded", result=result, progress=1.0))
    reporter.progress(1.0, "done")
    rows = [combine(point, done[i * seeds:(i + 1) * seeds])
            for i, point in enumerate(points(cfg))]
    return aggregate(cfg, rows)
