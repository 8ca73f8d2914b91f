"""What runs one job wherever it is placed (a worker's warm child process or a Ray task): open the
store, report through it, run the job's kind, keep its run folder where its URL says, and hand
back ("ok", result) or ("error", one line). The executor that placed it records that outcome."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrlab.core.artifacts import local_path, upload
from lrlab.core.errors import LrlabError
from lrlab.jobs import kinds
from lrlab.store import Store, strict_json
from lrlab.store.reporter import StoreReporter


@dataclass(frozen=True)
class ChildTask:
    """Everything the child needs to run its job; sent through the child's task pipe."""

    db_url: str
    job_id: int
    kind: str
    config: dict[str, Any]
    out_dir: str | None
    artifacts_url: str | None = None  # where the run folder is kept (see lrlab.core.artifacts)


def run_with_artifacts(task: ChildTask, reporter: Any) -> dict[str, Any]:
    """Run the task's job; a run folder is written where its URL says (or staged, then
    uploaded), and the result names that URL so any host can read it."""
    from lrlab.trackers import tracking

    out_dir = Path(task.out_dir) if task.out_dir else None
    with tracking(task.kind, task.config, reporter, task.job_id) as run:
        result = kinds.run(task.kind, task.config, run.reporter, out_dir)
        run.ended(result, "cancelled" if reporter.should_stop() else "succeeded")
    if task.artifacts_url and out_dir is not None:
        if local_path(task.artifacts_url) is None:
            upload(out_dir, task.artifacts_url)
        result = {**result, "artifacts": task.artifacts_url}
    return result


def run_child_task(task: ChildTask, stop_flag: Callable[[Store], Any],
                   note: str | None = None) -> tuple[str, Any]:
    """Run the task with its metrics going to the store; ("ok", result) or ("error", text).
    `stop_flag(store)` is what the job's runner polls to stop (a cancel)."""
    store = Store(task.db_url)
    try:
        with StoreReporter(store, task.job_id, stop_flag(store)) as reporter:
            if note:
                reporter.progress(0.0, note)
            result = run_with_artifacts(task, reporter)
        strict_json(result)  # fail here, with the runner's name, rather than in the parent
        return ("ok", result)
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        return ("error", describe_error(exc))
    finally:
        store.close()


def describe_error(exc: BaseException) -> str:
    """A job's error text: an LrlabError verbatim, else type, message and where it was raised."""
    if isinstance(exc, LrlabError):
        return str(exc)
    text = f"{type(exc).__name__}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        text += f" (at {Path(last.filename).name}:{last.lineno} in {last.name})"
    return text
