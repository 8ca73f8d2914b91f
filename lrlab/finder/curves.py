"""LR range-test curves from any tool: validation and import from JSON or CSV files.

Accepted shapes, all read the same way: a mapping of columns (torch-lr-finder's ``history``
``{"lr": [...], "loss": [...]}``, Lightning's ``results``, fastai's Recorder ``{"lrs": [...],
"losses": [...]}``, an ``lrlab.range_test/1`` file), such a mapping nested one level down
(``{"history": {...}}``), or a list of rows ``[{"lr": ..., "loss": ...}, ...]``; CSV files with a
header. Column names are matched case-insensitively against common aliases. Pickle files are not
read: unpickling runs code from the file.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lrlab.core.errors import LrlabError

LR_ALIASES = ("lr", "lrs", "learning_rate", "learning_rates", "learning rate", "learningrate")
# Raw losses first: an lrlab.range_test file has both "loss" (raw) and "smoothed".
LOSS_ALIASES = (
    "loss",
    "losses",
    "raw_loss",
    "train_loss",
    "training_loss",
    "smooth_loss",
    "smoothed_loss",
    "smoothed",
)
# /2 embeds the setup (an lrlab.train/2 config) in its config; the curve fields are /1's.
RANGE_TEST_FORMAT = "lrlab.range_test/2"
RANGE_TEST_FORMATS = ("lrlab.range_test/1", RANGE_TEST_FORMAT)


@dataclass(frozen=True)
class Curve:
    """A validated curve: strictly increasing positive LRs and their losses (NaN allowed)."""

    lrs: np.ndarray
    losses: np.ndarray
    source: str
    tool: str | None = None  # who wrote it, where the file's shape tells (see curve_from_mapping)


def validate_curve(lrs: Any, losses: Any, *, where: str = "curve") -> tuple[np.ndarray, np.ndarray]:
    """Check a curve and return it as float arrays; ``where`` names it in error messages.

    Needs at least one point, equal lengths, finite, positive and strictly increasing LRs, and at
    least one finite loss. Non-finite losses are allowed: a test that stopped on NaN ends with one.
    """
    try:
        x = np.asarray(lrs, dtype=float)
        y = np.asarray(losses, dtype=float)
    except (TypeError, ValueError) as exc:
        raise LrlabError(f"{where}: lr and loss must be lists of numbers ({exc})") from None
    if x.ndim != 1 or y.ndim != 1:
        raise LrlabError(f"{where}: lr and loss must be flat lists of numbers")
    if len(x) == 0:
        raise LrlabError(f"{where}: the curve is empty (no lr/loss points)")
    if len(x) != len(y):
        raise LrlabError(f"{where}: lr has {len(x)} values but loss has {len(y)}; they must match")
    if not np.all(np.isfinite(x)) or np.any(x <= 0):
        bad = int(np.flatnonzero(~np.isfinite(x) | (x <= 0))[0])
        raise LrlabError(f"{where}: learning rates must be finite and > 0 (lr[{bad}] = {x[bad]})")
    if np.any(np.diff(x) <= 0):
        bad = int(np.flatnonzero(np.diff(x) <= 0)[0]) + 1
        raise LrlabError(
            f"{where}: learning rates must be strictly increasing "
            f"(lr[{bad - 1}] = {x[bad - 1]:g}, lr[{bad}] = {x[bad]:g})"
        )
    if not np.any(np.isfinite(y)):
        raise LrlabError(f"{where}: every loss is NaN or infinite; nothing to analyse")
    return x, y


def _pick(columns: Mapping[str, Any], aliases: Sequence[str]) -> str | None:
    lowered = {str(k).strip().lower(): k for k in columns}
    for alias in aliases:
        if alias in lowered:
            return lowered[alias]
    return None


def _columns_of(obj: Any) -> Mapping[str, Any] | None:
    """The column mapping inside ``obj``: itself, a nested mapping, or rows turned into columns."""
    if isinstance(obj, Mapping):
        if _pick(obj, LR_ALIASES) is not None and _pick(obj, LOSS_ALIASES) is not None:
            return obj
        for value in obj.values():
            nested = _columns_of(value) if isinstance(value, Mapping | list) else None
            if nested is not None:
                return nested
        return None
    if isinstance(obj, list) and obj and all(isinstance(r, Mapping) for r in obj):
        keys = list(obj[0])
        return {k: [row.get(k, math.nan) for row in obj] for k in keys}
    return None


def _found(obj: Any) -> str:
    if isinstance(obj, Mapping):
        return ", ".join(repr(str(k)) for k in obj) or "none"
    if isinstance(obj, list) and obj and isinstance(obj[0], Mapping):
        return ", ".join(repr(str(k)) for k in obj[0]) or "none"
    return f"a {type(obj).__name__}, not a mapping of columns"


def curve_from_mapping(obj: Any, *, where: str = "curve", source: str | None = None) -> Curve:
    """A curve from an in-memory object (a tool's ``history``/``results``/recorder dict, rows)."""
    columns = _columns_of(obj)
    if columns is None and isinstance(obj, Mapping):
        columns = obj
    lr_key = _pick(columns, LR_ALIASES) if columns is not None else None
    loss_key = _pick(columns, LOSS_ALIASES) if columns is not None else None
    if columns is None or lr_key is None or loss_key is None:
        raise LrlabError(
            f"{where}: expected an lr column ({'/'.join(LR_ALIASES[:3])}) and a loss column "
            f"({'/'.join(LOSS_ALIASES[:2])}); found {_found(obj if columns is None else columns)}"
        )
    lrs, losses = validate_curve(
        [_number(v) for v in _as_list(columns[lr_key], where, lr_key)],
        [_number(v) for v in _as_list(columns[loss_key], where, loss_key)],
        where=where,
    )
    fmt = obj.get("format") if isinstance(obj, Mapping) else None
    if source is None:
        source = fmt if fmt in RANGE_TEST_FORMATS else f"columns {lr_key!r}/{loss_key!r}"
    # lrlab's own files hold raw losses; "lrs"/"losses" are the names of fastai's Recorder
    # attributes (smoothed). torch-lr-finder's history and Lightning's results share
    # "lr"/"loss", so those the user must name (--source).
    tool = "raw" if fmt in RANGE_TEST_FORMATS else (
        "fastai" if (lr_key, loss_key) == ("lrs", "losses") else None)
    return Curve(lrs, losses, source, tool)


def _as_list(value: Any, where: str, key: str) -> list[Any]:
    if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray):
        raise LrlabError(f"{where}: column {key!r} must be a list of numbers")
    return list(value)


def _number(value: Any) -> float:
    """JSON has no NaN: writers store it as null (or the strings "nan"/"inf")."""
    if value is None or value == "":
        return math.nan
    return float(value)


def load_curve(path: str | Path) -> Curve:
    """Read a curve from a JSON or CSV file (by content: JSON if it parses, else CSV)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LrlabError(f"{p}: cannot read the curve file ({exc})") from None
    return parse_curve(text, str(p))


def parse_curve(text: str, name: str) -> Curve:
    """A curve from the text of a JSON or CSV file called `name` (for messages and the source)."""
    label = Path(name).name
    if not text.strip():
        raise LrlabError(f"{name}: the file is empty")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        obj = None
    try:
        if obj is not None:
            curve = curve_from_mapping(obj, where=name)
            return Curve(curve.lrs, curve.losses, f"{label} ({curve.source})", curve.tool)
        rows = list(csv.DictReader(text.splitlines()))
        if not rows:
            raise LrlabError(f"{name}: not JSON, and no CSV rows below a header")
        curve = curve_from_mapping(rows, where=name)
        return Curve(curve.lrs, curve.losses, f"{label} (CSV {curve.source})")
    except ValueError as exc:
        if isinstance(exc, LrlabError):
            raise
        raise LrlabError(f"{name}: a value is not a number ({exc})") from None
