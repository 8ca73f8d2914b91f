"""How exactly an export reproduces lrlab's schedule, measured at every step of the run.

A target's values are what its own code computes from the exported arguments (mirrored in each
target module, and checked against the real library in the tests). The label follows from the
largest deviation; it is never assumed from the kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrlab.schedules.schedule import Schedule

EXACT_TOL = 1e-9  # relative, at every step of the run
EXACT = "exact"
APPROXIMATE = "approximate"
TABLE = "via table"


@dataclass(frozen=True)
class Exactness:
    """The label, the largest relative deviation from lrlab and the first step it occurs at."""

    label: str
    max_rel_dev: float
    at_step: int
    note: str = ""  # what else the user must know (a dtype, a stepping convention)

    def sentence(self) -> str:
        """One line for the Designer and the CLI."""
        if self.label == APPROXIMATE:
            text = (f"approximate: up to {self.max_rel_dev:.3g} relative deviation from lrlab "
                    f"(first at step {self.at_step})")
        elif self.label == TABLE:
            text = ("via table: the target's own table form, fed lrlab's value at every step "
                    f"(largest deviation {self.max_rel_dev:.1g})")
        else:
            text = (f"exact: equal to lrlab at every step (largest relative deviation "
                    f"{self.max_rel_dev:.1g})")
        return f"{text}. {self.note}".strip() if self.note else text


def deviation(schedule: Schedule, values: np.ndarray) -> tuple[float, int]:
    """Largest relative deviation of `values` (one per step of the run) from lrlab, and where.
    Relative to lrlab's value, or to 1e-12 × the peak where lrlab's value is 0."""
    steps = np.arange(schedule.total_steps)
    reference = schedule.lr(steps)
    scale = np.maximum(np.abs(reference), 1e-12 * float(np.abs(reference).max()))
    rel = np.abs(np.asarray(values, dtype=np.float64) - reference) / scale
    at = int(np.argmax(rel))
    return float(rel[at]), at


def measure(schedule: Schedule, values: np.ndarray, *, table: bool = False,
            note: str = "") -> Exactness:
    """The label for a target that computes `values` at steps 0..total_steps-1."""
    dev, at = deviation(schedule, values)
    if table and dev <= EXACT_TOL:
        return Exactness(TABLE, dev, at, note)
    return Exactness(EXACT if dev <= EXACT_TOL else APPROXIMATE, dev, at, note)
