"""Importing the trackers stays light: a worker's child imports them beside its warm-up thread
importing torch, and a second thread importing numpy or torch at the same moment can see them
half made (the ladder test on a worker failed so)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_trackers_imports_neither_numpy_nor_torch() -> None:
    code = ("import sys, lrlab.trackers; "
            "print(sorted(m for m in ('numpy', 'torch', 'mlflow', 'tensorboard') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]"
