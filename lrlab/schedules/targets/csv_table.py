"""The csv target: lrlab's values at every step, for any tool that reads a table."""

from __future__ import annotations

from lrlab.schedules.schedule import Schedule
from lrlab.schedules.targets import Export
from lrlab.schedules.targets.exactness import measure
from lrlab.schedules.targets.table import to_csv


def export_table(schedule: Schedule, target: str) -> Export:
    text = to_csv(schedule)
    values = [float(line.split(",")[1]) for line in text.splitlines()[1:]]
    return Export(target, text, "schedule.csv", "text/csv",
                  measure(schedule, values, table=True),
                  momentum="carried" if "momentum" in text.partition("\n")[0] else "")
