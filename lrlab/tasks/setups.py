"""A setup is what a job trains or sweeps: the built-in image classification (an `lrlab.train`
config without a task) or a task (with one). Everything that takes a setup asks here which it
is, so neither form's code needs to know the other's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrlab.tasks import task_config
from lrlab.tasks.task_config import is_task

__all__ = ["is_task", "planned_updates", "validate_setup"]


def validate_setup(config: Mapping[str, Any]) -> dict[str, Any]:
    """The setup checked and completed by its form's own rules (a task is never imported)."""
    if is_task(config):
        return task_config.validate_config(config)
    from lrlab.tasks.image.config import validate_config

    return validate_config(config)


def planned_updates(setup: Mapping[str, Any], batches: int | None = None) -> int:
    """The optimizer updates a validated setup's run makes (a task's from `batches`, its
    loader's length, unless the config says it)."""
    if is_task(setup):
        return task_config.planned_updates(setup, batches)
    from lrlab.tasks.image.planned_run import planned_updates as image_updates

    return image_updates(setup)
