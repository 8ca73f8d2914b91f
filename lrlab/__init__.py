"""lrlab: choose learning rates and schedules, then check them with a short training run.

`lrlab.Task` is the protocol your own model, data, loss and metric enter through;
`lrlab.find`, `lrlab.check`, `lrlab.train` run the three steps on it from Python, and
`lrlab.task_form` says how the app's form shows a registered task (see docs/tasks.md).
Importing them costs nothing until they are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from lrlab.api import check, find, train
    from lrlab.tasks.catalog import task_form
    from lrlab.tasks.protocol import Task

__all__ = ["Task", "__version__", "check", "find", "task_form", "train"]


def __getattr__(name: str) -> Any:
    """`lrlab.Task`, `lrlab.task_form`, `lrlab.find`, `lrlab.check` and `lrlab.train` on first
    use: `import lrlab` stays light (no torch for `lrlab --help`)."""
    if name == "Task":
        from lrlab.tasks.protocol import Task

        return Task
    if name == "task_form":
        from lrlab.tasks.catalog import task_form

        return task_form
    if name in ("find", "check", "train"):
        import lrlab.api

        return getattr(lrlab.api, name)
    raise AttributeError(f"module 'lrlab' has no attribute {name!r}")
