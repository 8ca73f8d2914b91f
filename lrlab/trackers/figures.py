"""The range test's figure as a file for the trackers: loss against LR (log axis), every
rule's suggestion marked, drawn with matplotlib's non-interactive backend."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import Any


def range_test_png(result: Mapping[str, Any]) -> bytes:
    """A PNG of a range test result's curve and suggestions."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), dpi=100)
    ax = fig.add_subplot()
    lrs = result.get("lr") or []
    loss = [math.nan if v is None else v for v in result.get("loss") or []]
    ax.plot(lrs, loss, color="#1f77b4", alpha=0.45, label="loss")
    smoothed = [math.nan if v is None else v for v in result.get("smoothed") or []]
    if smoothed:
        ax.plot(lrs[:len(smoothed)], smoothed, color="#1f77b4", label="smoothed")
    for name, value in (result.get("suggestions") or {}).items():
        if value:
            ax.axvline(value, linestyle="-" if name == "consensus" else ":",
                       color="#d62728" if name == "consensus" else "#7f7f7f", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    consensus = (result.get("suggestions") or {}).get("consensus")
    ax.set_title("LR range test" + (f": suggested LR {consensus:.3g}" if consensus else ""))
    ax.legend(loc="upper left")
    out = io.BytesIO()
    fig.savefig(out, format="png", bbox_inches="tight")
    return out.getvalue()
