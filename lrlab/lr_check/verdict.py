"""The ladder's answer: each point's figures (the mean of its seeds), the best point, the advice's
own, and a verdict in words; the same as a text table."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from lrlab.lr_check.config import FORMAT, budget_epochs, seeds_of

# A point's accuracy this close to the best counts as a tie (one image in a thousand).
TIE = 1e-3
# A point "learned" once its top-1 is at least this share of the way from chance to perfect; a
# ladder whose best point did not cannot rank LRs (it measured the budget, not the LR).
LEARNED_SHARE = 0.5


def point_row(point: Mapping[str, Any], status: str, *, result: Mapping[str, Any] | None = None,
              error: str | None = None, progress: float = 0.0,
              job: int | None = None) -> dict[str, Any]:
    """One point's figures: its LR and how its run ended."""
    summary = (result or {}).get("summary") or {}
    row: dict[str, Any] = {"factor": point["factor"], "lr": point["lr"], "job": job,
                           "status": status, "progress": progress, "error": error,
                           "num_classes": ((result or {}).get("data") or {}).get("num_classes")}
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
    row["num_classes"] = next((r["num_classes"] for r in seeds if r.get("num_classes")), None)
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
    judgement = judge(rows, best, seeds_of(cfg))
    text = verdict(rows, best, advice, seeds_of(cfg))
    if not judgement["clear"] and best is not None:
        text = (f"Cannot tell which LR is best: {'; '.join(judgement['reasons'])}. "
                f"To tell: {'; '.join(judgement['fixes'])}. {text}")
    return {"format": FORMAT, "lr": rows[0]["lr"] / rows[0]["factor"] if rows else None,
            "epochs": budget_epochs(cfg), "seeds": seeds_of(cfg), "points": list(rows),
            "best": best, "advice": advice, "suggestions": dict(cfg.get("suggestions") or {}),
            "range_test": cfg.get("range_test"), "judgement": judgement, "verdict": text}


def can_tell(result: Mapping[str, Any]) -> bool:
    """Whether a finished ladder's result names a clear best (lrlab.check/1 results, from
    before the judgement, are taken as they were shown)."""
    return bool((result.get("judgement") or {"clear": result.get("best") is not None})["clear"])


def judge(rows: Sequence[Mapping[str, Any]], best: Mapping[str, Any] | None,
          seeds: int = 1) -> dict[str, Any]:
    """Whether the ladder can tell which LR is best, and if not, why and what to change: a
    ladder cannot tell when no point learned (the best stayed near chance), when the best is at
    its end (a better LR may lie beyond), or when the best's neighbours are within its seeds'
    spread (the ranking is noise)."""
    reasons: list[str] = []
    fixes: list[str] = []
    if best is None:
        return {"clear": False, "reasons": ["no point finished"],
                "fixes": ["see each point's error; a lower LR range or gradient clipping"]}
    chance = 1.0 / best["num_classes"] if best.get("num_classes") else None
    if chance is not None and best["final_val_top1"] < chance + LEARNED_SHARE * (1 - chance):
        reasons.append(f"no point learned much in its budget (the best reached "
                       f"{100 * best['final_val_top1']:.1f} % top-1; chance is "
                       f"{100 * chance:.0f} %)")
        fixes.append("train each point longer (Epochs per point, --epochs)")
    ranked = sorted((r for r in rows if r["status"] == "succeeded"), key=lambda r: r["lr"])
    if len(rows) > 2 and ranked and best in (ranked[0], ranked[-1]):
        end = "top" if best is ranked[-1] else "bottom"
        reasons.append(f"the best is at the ladder's {end} end")
        fixes.append("widen the span")
    spread = seed_spread(best)
    at = next((i for i, r in enumerate(ranked) if r is best), None)
    if seeds > 1 and spread is not None and at is not None:
        near = [r for r in ranked[max(0, at - 1):at + 2] if r is not best]
        if any(best["final_val_top1"] - r["final_val_top1"] < spread for r in near):
            reasons.append(f"its neighbours are within its seeds' spread "
                           f"({100 * spread:.1f} points)")
            fixes.append("more seeds per point")
    return {"clear": not reasons, "reasons": reasons, "fixes": fixes}


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


def shown_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The points as a page's table shows them: each figure in its one format (top-1 as a
    percent, the LR to three digits), an empty cell where a point has no figure yet."""
    def pct(value: float | None) -> str:
        return "" if value is None else f"{100 * value:.2f} %"

    return [{"peak LR": f"{r['lr']:.3g}", "x advice": f"{r['factor']:.3g}",
             "status": r["status"], "progress": r["progress"],
             "final top-1": pct(r["final_val_top1"]), "seed spread": pct(seed_spread(r)),
             "final val loss": "" if r["final_val_loss"] is None
             else f"{r['final_val_loss']:.4f}", "job": "" if r["job"] is None else r["job"]}
            for r in rows]
