"""What every AppTest of a page needs: a real store under an empty LRLAB_HOME, and Plotly figures
read back (Plotly 6+ ships arrays as base64 typed arrays). Running a page: app_helpers.run_page."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lrlab.store import Store


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


@pytest.fixture
def store(lrlab_home: Path) -> Iterator[Store]:
    """The store the pages use (the default URL under the test's LRLAB_HOME)."""
    with Store() as s:
        yield s


