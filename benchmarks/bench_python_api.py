"""`lrlab.find` from Python against torch-lr-finder 0.2.2 on the same custom model: the character
GRU of examples/char_lm.py (its own loss over every position), the same optimizer (Adam), batches
and 100-point sweep from 1e-7 to 10.

lrlab's time is the whole call a notebook makes: building the task, the sweep, every rule's
analysis and the advice, with the model put back; once kept to this process (record=False) and
once kept in a fresh job store as it runs (record=True, live for the app). torch-lr-finder's is
its range_test and the reset() that puts the model back. Prints each median and the ratio
torch-lr-finder / lrlab (target >= 1.0: lrlab at least as fast).

Run: .venv/bin/python benchmarks/bench_python_api.py [--repeats 3] [--chars 50000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

import lrlab

REPO = Path(__file__).resolve().parents[1]
sys.path.append(str(REPO))  # examples/ beside lrlab

from examples import char_lm  # noqa: E402


def _lrlab(chars: int, record: bool, db: str | None) -> float:
    started = time.perf_counter()
    lrlab.find("examples.char_lm:build", args={"chars": chars}, optimizer="adam",
               weight_decay=0.0, epochs=2, num_points=100, start_lr=1e-7, end_lr=10.0,
               device="cpu", precision="fp32", record=record, db=db)
    return time.perf_counter() - started


def _torch_lr_finder(chars: int) -> float:
    from torch_lr_finder import LRFinder

    class Flat(nn.Module):
        """torch-lr-finder's criterion(outputs, labels): the same loss over every position."""

        def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(),
                                               targets.reshape(-1))

    started = time.perf_counter()
    torch.manual_seed(0)
    task = char_lm.build(chars=chars)
    optimizer = torch.optim.Adam(task.model.parameters(), lr=1e-7, weight_decay=0.0)
    finder = LRFinder(task.model, optimizer, Flat(), device="cpu")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        finder.range_test(task.train, start_lr=1e-7, end_lr=10.0, num_iter=100)
        finder.reset()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chars", type=int, default=50_000)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    with tempfile.TemporaryDirectory() as home:
        db = f"sqlite:///{home}/jobs.db"
        times: dict[str, list[float]] = {"lrlab.find": [], "lrlab.find, recorded": [],
                                         "torch-lr-finder": []}
        for _ in range(args.repeats):  # interleaved, so drift hits all three alike
            times["torch-lr-finder"].append(_torch_lr_finder(args.chars))
            times["lrlab.find"].append(_lrlab(args.chars, record=False, db=None))
            times["lrlab.find, recorded"].append(_lrlab(args.chars, record=True, db=db))
    theirs = statistics.median(times["torch-lr-finder"])
    for name, values in times.items():
        median = statistics.median(values)
        ratio = ("" if name == "torch-lr-finder"
                 else f"  ratio torch-lr-finder / lrlab {theirs / median:.2f}")
        print(f"{name:<22} median {median:6.2f} s over {len(values)}{ratio}")


if __name__ == "__main__":
    main()
