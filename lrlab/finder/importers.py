"""Curves from other tools (or earlier runs) analysed exactly like a fresh range test: the same
suggestions, trust verdict and schedule advice, in the same `lrlab.range_test/2` shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from lrlab.core.errors import LrlabError
from lrlab.core.options import CURVE_SOURCES, FIELDS
from lrlab.finder.advice import advise
from lrlab.finder.analysis import analyze
from lrlab.finder.curves import RANGE_TEST_FORMAT, Curve
from lrlab.finder.smoothing import TOOL_SMOOTHING, recover_raw

SOURCES = CURVE_SOURCES


def read_as(curve: Curve, source: str = "auto",
            factor: float | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """The raw losses behind the curve, and what was assumed to get them: the tool named by
    `source`, else the one the file's shape shows, else raw (said so)."""
    if source not in SOURCES:
        raise LrlabError(f"source: expected one of {', '.join(SOURCES)}, got {source!r}")
    tool = curve.tool if source == "auto" else source
    assumed = tool is None
    tool = tool or "raw"
    used = TOOL_SMOOTHING[tool] if factor is None else factor
    if tool == "raw":
        note = ("read as raw losses" + (": torch-lr-finder's history and Lightning's results "
                "are EMA-smoothed; if the curve came from one, say so (--source "
                "torch-lr-finder or lightning)" if assumed else ""))
    else:
        how = "detected from the file's shape" if source == "auto" else "as given"
        note = (f"{tool}'s smoothed losses ({how}), EMA factor {used:g}, inverted to the raw "
                "losses")
    return recover_raw(curve.losses, tool, factor), {
        "source": tool, "smoothing_factor": used if tool != "raw" else None,
        "assumed": assumed, "note": note}


def analyze_imported(
    curve: Curve, *, optimizer: str = "sgd", batch_size: int | None = None,
    total_steps: int = FIELDS["imported.total_steps"].default, source: str = "auto",
    factor: float | None = None,
) -> dict[str, Any]:
    """The analysis as a range-test result; advice needs the batch the curve was measured with
    (the advised LRs transfer to other batch sizes from it). Another tool's smoothed curve is
    first turned back into raw losses (`read_as`), since every method smooths its own way."""
    raw, reading = read_as(curve, source, factor)
    analysis = analyze(curve.lrs, raw, optimizer=optimizer)
    result: dict[str, Any] = {"format": RANGE_TEST_FORMAT, "source": curve.source,
                              "import": reading, **analysis.to_dict()}
    if batch_size and analysis.consensus is not None:
        result["advice"] = advise(analysis, total_steps=total_steps, batch_size=batch_size,
                                  optimizer=optimizer)
    return result


def imported_config(file: str, result: Mapping[str, Any], *, optimizer: str,
                    batch_size: int | None, total_steps: int) -> dict[str, Any]:
    """The config an imported curve is kept under in the store: where it came from and how it
    was read, in place of the setup a range test run here records."""
    return {"imported": {"file": file, "source": result["import"]["source"],
                         "optimizer": optimizer, "batch_size": batch_size,
                         "total_steps": total_steps}}


def is_imported(config: Mapping[str, Any]) -> bool:
    """Whether a stored range test is an imported curve (it has no setup to rerun or train)."""
    return "imported" in config
