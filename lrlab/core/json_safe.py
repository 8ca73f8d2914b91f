"""Values as JSON can hold them: a diverged loss is NaN or infinite, which JSON (and PostgreSQL's
JSON) cannot store, so every file and row lrlab writes turns those into null."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def json_safe(value: Any) -> Any:
    """`value` with non-finite floats as None, numpy arrays and scalars as plain lists and
    numbers, tuples as lists and mapping keys as text."""
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        value = value.tolist()  # a numpy array or scalar
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
