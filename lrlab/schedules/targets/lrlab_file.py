"""lrlab's own files: the config itself, exact by construction."""

from __future__ import annotations

from lrlab.schedules.io import dump_schedule
from lrlab.schedules.schedule import Schedule
from lrlab.schedules.targets import Export
from lrlab.schedules.targets.exactness import EXACT, Exactness

MIME = {"json": "application/json", "yaml": "application/yaml"}


def export_native(schedule: Schedule, target: str) -> Export:
    return Export(target, dump_schedule(schedule, target), f"schedule.{target}", MIME[target],
                  Exactness(EXACT, 0.0, 0, "lrlab's own format: the schedule itself."),
                  momentum="carried" if schedule.momentum([0]) is not None else "")
