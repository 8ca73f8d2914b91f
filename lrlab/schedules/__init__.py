"""Learning-rate schedules in the `lrlab.schedule/1` format: pure functions of the step."""

from lrlab.schedules.config import ScheduleError
from lrlab.schedules.io import dump_schedule, load_schedule, parse_schedule, save_schedule
from lrlab.schedules.schedule import Schedule
from lrlab.schedules.targets.pytorch import to_pytorch

__all__ = [
    "Schedule",
    "ScheduleError",
    "dump_schedule",
    "load_schedule",
    "parse_schedule",
    "save_schedule",
    "to_pytorch",
]
