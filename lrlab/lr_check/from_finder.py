"""A ladder's config from a range test's result: what "Check this advice" and `lrlab check
--from` start from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrlab.core.errors import LrlabError
from lrlab.finder.job import finder_setup
from lrlab.lr_check.budget import pace_of, whole_run_if_cheap
from lrlab.tasks.setups import is_task, validate_setup


def from_range_test(result: Mapping[str, Any], *, setup: Mapping[str, Any] | None = None,
                    advice: str = "onecycle", job: int | None = None) -> dict[str, Any]:
    """A ladder's config from a range test's result: its setup (unless another is given) with
    its advised schedule of kind `advice` (sized to the planned run), every method's suggestion
    to mark, and the range test's `job` id when it ran as one."""
    config = result.get("config") or {}
    if setup is None:
        if not config:
            raise LrlabError("the range-test result has no config (an imported curve?); give "
                             "the setup with --config")
        setup = finder_setup(config)
    schedules = result.get("advice") or {}
    if advice not in schedules:
        raise LrlabError(f"advice: the range test advised {', '.join(schedules) or 'nothing'}; "
                         f"got {advice!r}")
    suggestions = {k: v for k, v in (result.get("suggestions") or {}).items()
                   if isinstance(v, int | float) and v > 0}
    setup = {**setup, "schedule": schedules[advice], "schedule_fit": "stretch"}
    batches = (result.get("planned_run") or {}).get("batches_per_epoch")
    if is_task(setup) and not setup.get("batches_per_epoch") and batches:
        setup["batches_per_epoch"] = batches  # counted by the range test: the budget needs it
    ladder = {"setup": setup, "suggestions": suggestions, "range_test": job}
    epochs = whole_run_if_cheap(validate_setup(ladder["setup"]), pace_of(result))
    return ladder if epochs is None else {**ladder, "epochs": epochs}
