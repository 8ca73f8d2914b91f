"""Where a job is logged besides lrlab's own store: ``tensorboard[:DIR]`` and ``mlflow[:URI]``,
from the ``--log-to`` flag, a training config's ``log_to`` or ``LRLAB_LOG_TO``. Read here, below
every config that names them, without importing either library (lrlab.trackers writes).

A config's ``log_to`` left unset means "whatever ``LRLAB_LOG_TO`` says where the job runs" (a
worker's default); an empty list means nowhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from lrlab.core.errors import LrlabError

TRACKERS = ("tensorboard", "mlflow")
ENV_VAR = "LRLAB_LOG_TO"
MLFLOW_ENV = "MLFLOW_TRACKING_URI"  # MLflow's own default, honoured as theirs is


@dataclass(frozen=True)
class Target:
    """One destination: the tracker and its folder or URI (None: its default)."""

    tracker: str
    where: str | None = None

    def __str__(self) -> str:
        return self.tracker if self.where is None else f"{self.tracker}:{self.where}"

    def location(self) -> str:
        """The folder (TensorBoard) or tracking URI (MLflow) written to: the given one, else
        TensorBoard's ``$LRLAB_HOME/tensorboard`` and MLflow's ``MLFLOW_TRACKING_URI`` or an
        SQLite file ``$LRLAB_HOME/mlflow.db``."""
        if self.where is not None:
            return self.where
        from lrlab.core.paths import lrlab_home

        if self.tracker == "tensorboard":
            return str(lrlab_home() / "tensorboard")
        return os.environ.get(MLFLOW_ENV) or f"sqlite:///{lrlab_home() / 'mlflow.db'}"


def parse_target(text: Any, field: str = "log_to") -> Target:
    """``tensorboard``, ``tensorboard:DIR``, ``mlflow`` or ``mlflow:URI``; else one sentence."""
    if not isinstance(text, str) or not text.strip():
        raise LrlabError(f"{field}: expected tensorboard[:DIR] or mlflow[:URI], got {text!r}")
    tracker, sep, where = text.strip().partition(":")
    if tracker not in TRACKERS:
        raise LrlabError(f"{field}: expected tensorboard[:DIR] or mlflow[:URI], got {text!r} "
                         f"(no tracker {tracker!r})")
    if sep and not where.strip():
        noun = "folder" if tracker == "tensorboard" else "URI"
        raise LrlabError(f"{field}: {text!r} names no {noun} after the colon; leave the colon "
                         "out for the default")
    return Target(tracker, where.strip() if sep else None)


def validate_targets(value: Any, field: str = "log_to") -> list[str] | None:
    """A config's ``log_to`` checked: None stays None (the default where the job runs); one
    string or a list of them becomes the list of targets, each written once."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise LrlabError(f"{field}: expected a list of tensorboard[:DIR] / mlflow[:URI], got "
                         f"{value!r}")
    return list(dict.fromkeys(str(parse_target(item, field)) for item in items))


def default_targets() -> list[str]:
    """``LRLAB_LOG_TO`` (comma-separated), checked, naming the variable in a mistake."""
    listed = [s for s in os.environ.get(ENV_VAR, "").split(",") if s.strip()]
    return validate_targets(listed, ENV_VAR) or []


def resolve_targets(value: Any) -> list[Target]:
    """The targets a job logs to: its ``log_to``, or ``LRLAB_LOG_TO`` where that is unset."""
    listed = default_targets() if value is None else validate_targets(value) or []
    return [parse_target(text) for text in listed]
