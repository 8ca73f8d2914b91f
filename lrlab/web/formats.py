"""One unit and format per quantity, wherever a table or a sentence shows it.

A quantity is found by its name in the column ("final val top-1", "peak LR", "wall time (s)").
Top-1 is shown as a percent, an LR with three significant digits. The formats are printf
formats, read by Streamlit's number columns and by Python alike, so a figure reads the same in
a sortable number column and in text.
"""

from __future__ import annotations

from typing import Any

# (quantity in the column's name, printf format, scale of the stored value)
QUANTITY_FORMATS = (("top-1", "%.2f %%", 100.0), ("spread", "%.2f %%", 100.0),
                    ("LR", "%.3g", 1.0), ("(s)", "%.1f", 1.0), ("images/s", "%.0f", 1.0),
                    ("loss", "%.4f", 1.0))


def quantity_format(column: str) -> tuple[str, float] | None:
    """(printf format, scale) of the quantity a column holds, or None for other columns."""
    return next(((f, s) for quantity, f, s in QUANTITY_FORMATS if quantity in column), None)


def formatted(column: str, value: Any) -> str:
    """`value` as text in its quantity's format; "" for a missing value."""
    if value is None:
        return ""
    fmt = quantity_format(column)
    if fmt is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return fmt[0] % (value * fmt[1])


STATUS_ICONS = {"queued": "🕒", "running": "⏳", "succeeded": "✅", "failed": "❌",
                "cancelled": "⏹️"}


def status_line(status: str, progress: float | None = None) -> str:
    """"⏳ running 78 %": a job's status with its icon, and how far a running one is."""
    done = f" {100 * progress:.0f} %" if status == "running" and progress is not None else ""
    return f"{STATUS_ICONS.get(status, '')} {status}{done}"
