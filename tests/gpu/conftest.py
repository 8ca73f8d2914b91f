"""The GPU checks: every CUDA-only line of lrlab run for real. Without a CUDA device each test is
skipped with the reason, so CI on CPU stays green; `benchmarks/gpu_check.py` runs them on a GPU."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

# The real worker processes of the integration tests (jobs_helpers) serve here too.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

NO_CUDA = "no CUDA device here: the GPU checks run where one is (benchmarks/gpu_check.py)"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.gpu)
            if not torch.cuda.is_available():
                item.add_marker(pytest.mark.skip(reason=NO_CUDA))


@pytest.fixture
def cuda() -> torch.device:
    return torch.device("cuda")
