"""Curves from other tools (or earlier runs) analysed exactly like a fresh range test: the same
suggestions, trust verdict and schedule advice, in the same `lrlab.range_test/1` shape."""

from __future__ import annotations

from typing import Any

from lrlab.finder.advice import advise
from lrlab.finder.analysis import analyze
from lrlab.finder.curves import RANGE_TEST_FORMAT, Curve


def analyze_imported(
    curve: Curve, *, optimizer: str = "sgd", batch_size: int | None = None,
    total_steps: int = 1000,
) -> dict[str, Any]:
    """The analysis as a range-test result; advice needs the batch the curve was measured with
    (the advised LRs transfer to other batch sizes from it)."""
    analysis = analyze(curve.lrs, curve.losses, optimizer=optimizer)
    result: dict[str, Any] = {"format": RANGE_TEST_FORMAT, "source": curve.source,
                              **analysis.to_dict()}
    if batch_size and analysis.consensus is not None:
        result["advice"] = advise(analysis, total_steps=total_steps, batch_size=batch_size,
                                  optimizer=optimizer)
    return result
