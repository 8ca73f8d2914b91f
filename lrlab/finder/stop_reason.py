"""Why a range-test sweep ended: compared by identity, stored as its plain string.

Kept apart from the engine (which imports torch) so the analysis can read it without torch.
"""

from __future__ import annotations

from enum import StrEnum


class StopReason(StrEnum):
    """The end of a sweep; a `lrlab.range_test` result holds its value ("diverged", ...)."""

    COMPLETED = "completed"
    DIVERGED = "diverged"
    NAN = "nan"
    CANCELLED = "cancelled"
