"""Reading and writing schedule files (JSON or YAML, safe loader only)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import yaml

from lrlab.core.config_files import load_yaml
from lrlab.schedules.config import ScheduleError
from lrlab.schedules.schedule import Schedule


def parse_schedule(text: str, source: str = "<text>") -> Schedule:
    """A schedule from JSON or YAML text; errors start with `source` (a file name)."""
    try:
        data = json.loads(text)
    except ValueError:
        try:
            data = load_yaml(text)
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            line = f" (line {where.line + 1})" if where is not None else ""
            raise ScheduleError(f"{source}: not valid JSON or YAML{line}") from None
    if not isinstance(data, dict):
        raise ScheduleError(f"{source}: expected a JSON/YAML mapping with format "
                            f"'lrlab.schedule/1', got {type(data).__name__}")
    try:
        return Schedule.from_dict(data)
    except ScheduleError as exc:
        raise ScheduleError(f"{source}: {exc}") from None


def load_schedule(path: str | Path) -> Schedule:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScheduleError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScheduleError(f"{path}: cannot read ({exc})") from None
    return parse_schedule(text, source=str(path))


def dump_schedule(schedule: Schedule, fmt: str = "json") -> str:
    config = schedule.to_dict()
    if fmt == "json":
        return json.dumps(config, indent=2) + "\n"
    if fmt == "yaml":
        return yaml.safe_dump(config, sort_keys=False, default_flow_style=None)
    raise ScheduleError(f"format: expected 'json' or 'yaml', got {fmt!r}")


def save_schedule(schedule: Schedule, path: str | Path) -> None:
    """Write as JSON or YAML according to the file's suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise ScheduleError(f"{path}: expected a .json, .yaml or .yml file name")
    path.write_text(dump_schedule(schedule, "json" if suffix == ".json" else "yaml"),
                    encoding="utf-8")


def parse_metric_series(text: str, source: str = "metric file") -> np.ndarray:
    """One metric value per scheduler step, from a CSV/text file (last column of each row).

    A header row is allowed; every other row must end in a finite number.
    """
    values: list[float] = []
    for number, line in enumerate(text.splitlines(), start=1):
        cell = line.strip().split(",")[-1].strip()
        if not cell:
            continue
        try:
            value = float(cell)
        except ValueError:
            if number == 1 and not values:
                continue  # header
            raise ScheduleError(f"{source}: line {number}: {cell!r} is not a number") from None
        if not math.isfinite(value):
            raise ScheduleError(f"{source}: line {number}: expected a finite number, got {cell!r}")
        values.append(value)
    if not values:
        raise ScheduleError(f"{source}: no metric values found (expected one number per line)")
    return np.asarray(values, dtype=np.float64)

