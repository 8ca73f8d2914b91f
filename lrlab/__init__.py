"""lrlab: choose learning rates and schedules, then check them with a short training run.

`lrlab.Task` is the protocol your own model, data, loss and metric enter through (see
docs/tasks.md); importing it costs nothing until a task is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from lrlab.tasks.protocol import Task

__all__ = ["Task", "__version__"]


def __getattr__(name: str) -> Any:
    """`lrlab.Task` on first use: `import lrlab` stays light (no torch for `lrlab --help`)."""
    if name == "Task":
        from lrlab.tasks.protocol import Task

        return Task
    raise AttributeError(f"module 'lrlab' has no attribute {name!r}")
