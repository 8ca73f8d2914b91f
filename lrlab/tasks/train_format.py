"""The version of the training config (``lrlab.train``), one for both of its forms, and the
``origin`` both record.

- /1: model, dataset, batch size, epochs, optimizer, schedule, tricks, seed, device.
- /2: /1 plus augment as a choice, norm, schedule_fit, nproc, sync_bn and ``origin`` (the range
  test and LR check a run came from).
- /3: /2 plus the task form: ``task: {spec, args}`` (your own model, data, loss and metric; see
  lrlab.tasks.task_config) in place of model, dataset and tricks. A config without ``task`` is
  the built-in image classification, as in /2.
- /4: /3 plus ``log_to``: where the run is logged besides the store (TensorBoard, MLflow; see
  lrlab.core.tracking_targets). Unset, the job runs with ``LRLAB_LOG_TO`` where it runs.

Every version reads; what is written is the newest.
"""

from __future__ import annotations

from typing import Any

from lrlab.core.errors import LrlabError
from lrlab.core.validation import refuse_unknown, require_mapping

FORMAT = "lrlab.train/4"
READS = ("lrlab.train/1", "lrlab.train/2", "lrlab.train/3", FORMAT)
TASK_READS = READS[2:]  # the task form came with /3
ORIGIN_KEYS = ("range_test", "check")


def validate_origin(value: Any) -> dict[str, int | None] | None:
    """{"range_test": job id, "check": job id}: where a run's setup and LR came from."""
    if value is None:
        return None
    origin = {**dict.fromkeys(ORIGIN_KEYS), **require_mapping(value, "origin")}
    refuse_unknown(origin, dict.fromkeys(ORIGIN_KEYS), "origin")
    for key in ORIGIN_KEYS:
        if origin[key] is not None and (isinstance(origin[key], bool)
                                        or not isinstance(origin[key], int)):
            raise LrlabError(f"origin.{key}: expected a job id, got {origin[key]!r}")
    return origin
