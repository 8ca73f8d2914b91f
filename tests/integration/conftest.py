"""Fixtures the worker test modules share: one home and one SQLite store per module (a module
that needs its own, like the CLI tests, defines `store` itself and that one wins)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The helpers beside this file serve the test modules in every sub-folder.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lrlab.store import Store


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lrlab-home")


@pytest.fixture(scope="module")
def store(home: Path) -> Iterator[Store]:
    with Store(f"sqlite:///{home / 'jobs.db'}") as s:
        yield s
