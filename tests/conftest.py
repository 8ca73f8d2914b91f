"""Fixtures shared by every test area."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MNIST_T10K = REPO.parent / "shared" / "data" / "mnist-t10k"


@pytest.fixture
def lrlab_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty LRLAB_HOME so no test touches the user's store or runs."""
    home = tmp_path / "lrlab-home"
    home.mkdir()
    monkeypatch.setenv("LRLAB_HOME", str(home))
    monkeypatch.delenv("LRLAB_DB", raising=False)
    return home


@pytest.fixture
def mnist_t10k() -> Path:
    """The shared MNIST test set (tests and benchmarks only; the product never needs it)."""
    if not (MNIST_T10K / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST test set not found at {MNIST_T10K}")
    return MNIST_T10K
