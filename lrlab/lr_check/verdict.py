"""The ladder's answer: each point's figures (the mean of its seeds), the best point, the advice's
own, and a verdict in words; the same as a text table.

Points are ranked by their run's objective in its direction: top-1 (higher is better) for the
built-in image classification, a task's own `objective` and `mode` otherwise.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from lrlab.lr_check.config import FORMAT, budget_epochs, seeds_of

# Two points whose objective differs by less than this (times the objective's size, at least 1)
# tie: one image in a thousand, for top-1.
TIE = 1e-3
# A point "learned" once its top-1 is at least this share of the way from chance to perfect; a
# ladder whose best point did not cannot rank LRs (it measured the budget, not the LR).
LEARNED_SHARE = 0.5
# A task's point learned once its objective moved from its start, the right way, by at least
# this share of the start's size.
TASK_LEARNED_SHARE = 0.01
FIGURES = ("best_val_top1", "final_val_top1", "final_val_loss", "final_train_loss",
           "final_objective", "best_objective", "initial_objective")


def point_row(point: Mapping[str, Any], status: str, *, result: Mapping[str, Any] | None = None,
              error: str | None = None, progress: float = 0.0,
              job: int | None = None) -> dict[str, Any]:
    """One point's figures: its LR, how its run ended and the objective it reached."""
    summary = (result or {}).get("summary") or {}
    row: dict[str, Any] = {"factor": point["factor"], "lr": point["lr"], "job": job,
                           "baseline": point.get("baseline"), "title": point.get("title"),
                           "status": status, "progress": progress, "error": error,
                           "num_classes": ((result or {}).get("data") or {}).get("num_classes")}
    for key in FIGURES[:4]:
        row[key] = summary.get(key)
    if "objective" in summary:  # a task's run
        row.update(objective=summary["objective"], mode=summary["mode"],
                   final_objective=summary.get("final_objective"),
                   best_objective=summary.get("best_objective"),
                   initial_objective=summary.get("initial_objective"))
        row["final_val_loss"] = (summary.get("final_metrics") or {}).get("val_loss")
    else:
        row.update(objective="val_top1", mode="max", final_objective=row["final_val_top1"],
                   best_objective=row["best_val_top1"], initial_objective=None)
    return row


def combine(point: Mapping[str, Any], seeds: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A point's row from its seeds' rows: the mean of each figure over the seeds that
    finished, every seed's final objective (``seed_final_objective``), and a status that is
    "succeeded" only once all seeds have (else the first seed's that has not, with its error)."""
    with_objective(seeds)  # type: ignore[arg-type]
    if len(seeds) == 1:
        return {**seeds[0], "seed_final_objective": [seeds[0]["final_objective"]],
                "seed_final_val_top1": [seeds[0]["final_val_top1"]]}
    row = point_row(point, "succeeded", progress=sum(r["progress"] for r in seeds) / len(seeds),
                    job=seeds[0]["job"])
    row["num_classes"] = next((r["num_classes"] for r in seeds if r.get("num_classes")), None)
    named = next((r for r in seeds if r["final_objective"] is not None), seeds[0])
    row["objective"], row["mode"] = named["objective"], named["mode"]
    done = [r for r in seeds if r["status"] == "succeeded"]
    for key in FIGURES:
        values = [r[key] for r in done if r.get(key) is not None]
        row[key] = sum(values) / len(values) if values else None
    row["seed_final_objective"] = [r["final_objective"] for r in seeds]
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
    """How far a point's seeds' final objective spread (max - min), None for one seed."""
    values = [v for v in (row.get("seed_final_objective") or row.get("seed_final_val_top1")
                          or []) if v is not None]
    return max(values) - min(values) if len(values) > 1 else None


def with_objective(rows: Sequence[dict[str, Any]]) -> Sequence[dict[str, Any]]:
    """Rows from before objectives (top-1 only) given theirs, in place: top-1, higher better."""
    for row in rows:
        row.setdefault("objective", "val_top1")
        row.setdefault("mode", "max")
        row.setdefault("final_objective", row.get("final_val_top1"))
        row.setdefault("best_objective", row.get("best_val_top1"))
        row.setdefault("initial_objective", None)
        if "seed_final_val_top1" in row:
            row.setdefault("seed_final_objective", row["seed_final_val_top1"])
    return rows


def score(row: Mapping[str, Any]) -> float:
    """A point's final objective, signed so that higher is better."""
    value = row["final_objective"]
    return value if row.get("mode", "max") == "max" else -value


def shown(row: Mapping[str, Any], value: float | None = None) -> str:
    """A point's objective in words: "98.3 % top-1", "val_loss 1.234"."""
    value = row["final_objective"] if value is None else value
    if row.get("objective", "val_top1") == "val_top1":
        return f"{100 * value:.1f} % top-1"
    return f"{row['objective']} {value:.4g}"


def _decades(a: float, b: float) -> float:
    return abs(math.log10(a / b))


def aggregate(cfg: Mapping[str, Any], rows: Sequence[Mapping[str, Any]],
              baselines: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The ladder's result: every point, the best, the advice's own point, each LR-free
    baseline, and a verdict that ends with how the best point compares with the baselines."""
    with_objective(rows)  # type: ignore[arg-type]
    done = [r for r in rows if r["status"] == "succeeded" and r["final_objective"] is not None
            and math.isfinite(r["final_objective"])]
    best = None
    if done:
        top = max(score(r) for r in done)
        tied = [r for r in done if score(r) >= top - TIE * max(1.0, abs(top))]
        best = min(tied, key=lambda r: (r["final_val_loss"]
                                        if r["final_val_loss"] is not None else math.inf))
    advice = next((r for r in rows if r["factor"] == 1.0), None)
    judgement = judge(rows, best, seeds_of(cfg))
    text = verdict(rows, best, advice, seeds_of(cfg))
    if not judgement["clear"] and best is not None:
        text = (f"Cannot tell which LR is best: {'; '.join(judgement['reasons'])}. "
                f"To tell: {'; '.join(judgement['fixes'])}. {text}")
    with_objective(baselines)  # type: ignore[arg-type]
    against = versus(best, baselines)
    if baselines:
        text += " " + baseline_verdict(best, baselines, against,
                                       schedule_words(cfg["setup"]))
    return {"format": FORMAT, "lr": rows[0]["lr"] / rows[0]["factor"] if rows else None,
            "epochs": budget_epochs(cfg), "seeds": seeds_of(cfg), "points": list(rows),
            "baselines": list(baselines), "versus": against,
            "best": best, "advice": advice, "suggestions": dict(cfg.get("suggestions") or {}),
            "range_test": cfg.get("range_test"), "judgement": judgement, "verdict": text,
            "objective": (best or advice or {}).get("objective", "val_top1"),
            "mode": (best or advice or {}).get("mode", "max")}


def can_tell(result: Mapping[str, Any]) -> bool:
    """Whether a finished ladder's result names a clear best (lrlab.check/1 results, from
    before the judgement, are taken as they were shown)."""
    return bool((result.get("judgement") or {"clear": result.get("best") is not None})["clear"])


def judge(rows: Sequence[Mapping[str, Any]], best: Mapping[str, Any] | None,
          seeds: int = 1) -> dict[str, Any]:
    """Whether the ladder can tell which LR is best, and if not, why and what to change: a
    ladder cannot tell when no point learned (the best stayed near chance, or near where a
    task's objective started), when the best is at its end (a better LR may lie beyond), or
    when the best's neighbours are within its seeds' spread (the ranking is noise)."""
    with_objective([*rows, *([best] if best else [])])  # type: ignore[list-item]
    reasons: list[str] = []
    fixes: list[str] = []
    if best is None:
        return {"clear": False, "reasons": ["no point finished"],
                "fixes": ["see each point's error; a lower LR range or gradient clipping"]}
    unlearned = _not_learned(best)
    if unlearned:
        reasons.append(unlearned)
        fixes.append("train each point longer (Epochs per point, --epochs)")
    ranked = sorted((r for r in rows if r["status"] == "succeeded"), key=lambda r: r["lr"])
    if len(rows) > 2 and ranked and best in (ranked[0], ranked[-1]):
        end = "top" if best is ranked[-1] else "bottom"
        reasons.append(f"the best is at the ladder's {end} end")
        fixes.append("widen the span")
    spread = seed_spread(best)
    at = next((i for i, r in enumerate(ranked) if r is best), None)
    if seeds > 1 and spread is not None and at is not None:
        near = [r for r in ranked[max(0, at - 1):at + 2]
                if r is not best and r["final_objective"] is not None]
        if any(score(best) - score(r) < spread for r in near):
            amount = (f"{100 * spread:.1f} points" if best["objective"] == "val_top1"
                      else f"{spread:.3g}")
            reasons.append(f"its neighbours are within its seeds' spread ({amount})")
            fixes.append("more seeds per point")
    return {"clear": not reasons, "reasons": reasons, "fixes": fixes}


def _not_learned(best: Mapping[str, Any]) -> str | None:
    """Why the best point learned nothing worth ranking by, or None when it did."""
    if best["objective"] == "val_top1":
        chance = 1.0 / best["num_classes"] if best.get("num_classes") else None
        if chance is not None and best["final_objective"] < chance + LEARNED_SHARE * (
                1 - chance):
            return (f"no point learned much in its budget (the best reached "
                    f"{100 * best['final_objective']:.1f} % top-1; chance is "
                    f"{100 * chance:.0f} %)")
        return None
    start = best.get("initial_objective")
    if start is None or not math.isfinite(start):
        return None
    moved = (best["final_objective"] - start) * (1 if best["mode"] == "max" else -1)
    if moved < TASK_LEARNED_SHARE * max(abs(start), 1e-12):
        return (f"no point learned much in its budget (the best moved {best['objective']} from "
                f"{start:.4g} to {best['final_objective']:.4g})")
    return None


def verdict(rows: Sequence[Mapping[str, Any]], best: Mapping[str, Any] | None,
            advice: Mapping[str, Any] | None, seeds: int = 1) -> str:
    """The ladder's answer in words: how far the advice is from the best point, in LR and in
    the objective, how far each point's seeds spread, and what the ladder cannot tell (a best
    at its end, failed points)."""
    with_objective([*rows, *(r for r in (best, advice) if r)])  # type: ignore[misc]
    n = len(rows)
    failed = [r for r in rows if r["status"] != "succeeded"]
    tail = (f" {len(failed)} of {n} points did not finish ("
            + ", ".join(f"LR {r['lr']:.3g}: {r['status']}" for r in failed) + ")."
            if failed else "")
    if best is None:
        return f"No point of the ladder finished, so it cannot judge the advice.{tail}"
    if advice is None or advice["status"] != "succeeded" or advice["final_objective"] is None:
        return (f"The advice's own run did not finish; the best of {n} points is LR "
                f"{best['lr']:.3g} at {shown(best)}.{tail}")
    gap = score(best) - score(advice)
    if best is advice or gap <= TIE * max(1.0, abs(score(best))):
        text = f"The advice (LR {advice['lr']:.3g}) is the best of {n} points: {shown(advice)}."
    else:
        direction = "below" if advice["lr"] < best["lr"] else "above"
        worse = (f"{100 * gap:.1f} points of accuracy below it" if best["objective"] == "val_top1"
                 else f"{gap:.3g} worse in {best['objective']}")
        text = (f"The advice (LR {advice['lr']:.3g}) is {_decades(advice['lr'], best['lr']):.2f}"
                f" decade {direction} the best of {n} points (LR {best['lr']:.3g}) and "
                f"{worse} ({_bare(advice)} vs {_bare(best)}).")
    lrs = sorted(r["lr"] for r in rows)
    if len(lrs) > 2 and best["lr"] in (lrs[0], lrs[-1]):
        end = "top" if best["lr"] == lrs[-1] else "bottom"
        text += (f" The best is at the ladder's {end} end: a better LR may lie beyond it "
                 "(widen the span).")
    spreads = [x for r in rows if r["status"] == "succeeded" and (x := seed_spread(r)) is not None]
    if seeds > 1 and spreads:
        amount = (f"{100 * max(spreads):.1f} points" if best["objective"] == "val_top1"
                  else f"{max(spreads):.3g}")
        what = "final top-1" if best["objective"] == "val_top1" else best["objective"]
        text += f" Each point is the mean of {seeds} seeds, whose {what} spread by up to {amount}."
    elif seeds == 1 and best is not advice:
        text += (" One seed per point: a gap of a point or two may be noise; more seeds per "
                 "point would tell.")
    return text + tail


def _bare(row: Mapping[str, Any]) -> str:
    """The objective's value alone: "98.3 %" for top-1, else the number."""
    if row["objective"] == "val_top1":
        return f"{100 * row['final_objective']:.1f} %"
    return f"{row['final_objective']:.4g}"


# What a ladder's schedule is called in its verdict ("the tuned 1cycle at LR 0.3").
SCHEDULE_WORDS = {"onecycle": "1cycle", "cosine": "cosine schedule", "cyclic": "cyclic schedule",
                  "constant": "constant LR", "linear": "linear decay", "wsd": "WSD schedule"}


def schedule_words(setup: Mapping[str, Any]) -> str:
    """The ladder's schedule in a few words: its main kind, or the one the image
    classification builds from its tricks (He et al.'s warmup and decay)."""
    schedule = setup.get("schedule")
    if schedule is None:
        return "Bag-of-Tricks schedule" if setup.get("tricks") is not None else "constant LR"
    kind = schedule["main"]["kind"]
    return SCHEDULE_WORDS.get(kind, f"{kind} schedule")


def _seed_values(row: Mapping[str, Any]) -> list[float]:
    return [v for v in (row.get("seed_final_objective") or [row.get("final_objective")])
            if v is not None and math.isfinite(v)]


def versus(best: Mapping[str, Any] | None,
           baselines: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The best tuned point against the best LR-free baseline that finished: the gap in the
    objective (positive when the tuned point is better), its standard error from the seeds of
    both (None with one seed: no spread to measure), and whether the gap exceeds twice that."""
    finished = [b for b in baselines if b["status"] == "succeeded"
                and b["final_objective"] is not None and math.isfinite(b["final_objective"])]
    if best is None or not finished:
        return None
    top = max(finished, key=score)
    gap = score(best) - score(top)
    ours, theirs = _seed_values(best), _seed_values(top)
    error = None
    if len(ours) > 1 and len(theirs) > 1:
        error = math.sqrt(statistics.variance(ours) / len(ours)
                          + statistics.variance(theirs) / len(theirs))
    return {"baseline": top["baseline"], "title": top["title"], "gap": gap, "error": error,
            "beyond": None if error is None else abs(gap) > 2 * error,
            "seeds": min(len(ours), len(theirs))}


def baseline_verdict(best: Mapping[str, Any] | None, baselines: Sequence[Mapping[str, Any]],
                     against: Mapping[str, Any] | None, schedule: str) -> str:
    """One sentence on the tuned ladder against its LR-free baselines: "The tuned 1cycle at LR
    0.3 is 1.4 ± 0.3 points above Schedule-Free AdamW (97.1 %), the best LR-free baseline;
    beyond the seeds' spread.", then how the other baselines ended."""
    others = [b for b in baselines if against is None or b["baseline"] != against["baseline"]]
    tail = ""
    if others:
        tail = " Other baselines: " + ", ".join(
            f"{b['title']} {_bare(b)}" if b["status"] == "succeeded"
            and b["final_objective"] is not None
            else f"{b['title']} {b['status']}" + (f" ({b['error']})" if b.get("error") else "")
            for b in others) + "."
    if against is None:
        if best is None:
            return "No tuned point finished, so the LR-free baselines have nothing to beat." + tail
        return "No LR-free baseline finished, so none can be compared." + tail
    top = next(b for b in baselines if b["baseline"] == against["baseline"])
    top1 = best["objective"] == "val_top1"

    def amount(value: float) -> str:
        if top1:
            text = f"{100 * value:.1f}"
            return text + ("" if against["error"] is None
                           else f" ± {100 * against['error']:.1f}") + " points"
        text = f"{value:.3g}"
        return text + ("" if against["error"] is None else f" ± {against['error']:.2g}")

    tuned = f"the tuned {schedule} at LR {best['lr']:.3g}"
    name = f"{top['title']} ({_bare(top)})"
    where = "above" if top1 else f"better in {best['objective']} than"
    opening = tuned[0].upper() + tuned[1:]  # (str.capitalize would lower "Bag-of-Tricks")
    gap = against["gap"]
    if abs(gap) <= TIE * max(1.0, abs(score(best))):
        text = f"{opening} ({_bare(best)}) ties with {name}, the best LR-free baseline"
    elif gap > 0:
        text = f"{opening} is {amount(gap)} {where} {name}, the best LR-free baseline"
    else:
        text = f"{name}, an LR-free baseline, is {amount(-gap)} {where} {tuned} ({_bare(best)})"
    if against["beyond"] is None:
        text += ("; one seed each, so whether that is beyond the noise is unknown (more seeds "
                 "would tell).")
    elif against["beyond"]:
        text += f"; beyond the seeds' spread (the mean of {against['seeds']} seeds each)."
    else:
        text += (f"; within the seeds' spread (the mean of {against['seeds']} seeds each), so "
                 "no clear difference.")
    return text + tail


def table(result: Mapping[str, Any]) -> str:
    """The ladder as text: one line per point, the advice and the best marked."""
    best = (result.get("best") or {}).get("lr")
    top1 = result.get("objective", "val_top1") == "val_top1"

    def fig(v: float | None) -> str:
        return "-" if v is None else (f"{100 * v:.2f} %" if top1 else f"{v:.4g}")

    name = "top-1" if top1 else result["objective"]
    several = (result.get("seeds") or 1) > 1
    lines = [f"  peak LR     factor  {'final ' + name:>11}  {'best ' + name:>10}  final val loss"
             + ("  seed spread" if several else "") + "  status"]
    for r in result["points"]:
        mark = (" <- advice" if r["factor"] == 1.0 else "") + (" <- best" if r["lr"] == best
                                                               else "")
        loss = "-" if r["final_val_loss"] is None else f"{r['final_val_loss']:.4f}"
        spread = (f"  {fig(seed_spread(r)):>11}" if seed_spread(r) is not None
                  else f"  {'-':>11}") if several else ""
        final = r.get("final_objective", r.get("final_val_top1"))
        best_value = r.get("best_objective", r.get("best_val_top1"))
        lines.append(f"  {r['lr']:<10.4g}  {r['factor']:<6.3g}  {fig(final):>11}"
                     f"  {fig(best_value):>10}  {loss:>14}{spread}  {r['status']}{mark}")
    for r in with_objective(list(result.get("baselines") or [])):
        loss = "-" if r["final_val_loss"] is None else f"{r['final_val_loss']:.4f}"
        spread = (f"  {fig(seed_spread(r)):>11}" if seed_spread(r) is not None
                  else f"  {'-':>11}") if several else ""
        lines.append(f"  {r['lr']:<10.4g}  {'-':<6}  {fig(r['final_objective']):>11}"
                     f"  {fig(r['best_objective']):>10}  {loss:>14}{spread}  {r['status']}"
                     f" <- LR-free baseline: {r['title']}")
    return "\n".join(lines)


def shown_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The points (and then any LR-free baselines, named in the "run" column) as a page's table
    shows them: each figure in its one format (top-1 as a percent, a task's objective to four
    digits, the LR to three), named by its metric, an empty cell where a point has no figure
    yet."""
    with_objective(rows)  # type: ignore[arg-type]
    objective = next((r["objective"] for r in rows), "val_top1")
    top1 = objective == "val_top1"

    def fig(value: float | None) -> str:
        return "" if value is None else (f"{100 * value:.2f} %" if top1 else f"{value:.4g}")

    name = "top-1" if top1 else objective
    named = any(r.get("baseline") for r in rows)  # a "run" column only beside baselines
    return [{**({"run": r.get("title") or "ladder point"} if named else {}),
             "peak LR": f"{r['lr']:.3g}",
             "x advice": "" if r["factor"] is None else f"{r['factor']:.3g}",
             "status": r["status"], "progress": r["progress"],
             f"final {name}": fig(r["final_objective"]), "seed spread": fig(seed_spread(r)),
             "final val loss": "" if r["final_val_loss"] is None
             else f"{r['final_val_loss']:.4f}", "job": "" if r["job"] is None else r["job"]}
            for r in rows]
