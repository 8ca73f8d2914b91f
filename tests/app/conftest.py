"""Reading Plotly figures out of AppTest (Plotly 6+ ships arrays as base64 typed arrays)."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "bdata" in value and "dtype" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        if "shape" in value:
            array = array.reshape([int(n) for n in str(value["shape"]).split(",")])
        return array.tolist()
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _figure(at: AppTest, index: int = 0) -> dict[str, Any]:
    charts = at.get("plotly_chart")
    assert len(charts) > index, f"expected at least {index + 1} chart(s), found {len(charts)}"
    return _decode(json.loads(charts[index].proto.spec))


@pytest.fixture
def figure():
    """figure(at, index=0): the index-th Plotly chart on the page as plain JSON."""
    return _figure
