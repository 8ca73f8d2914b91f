"""Every job kind, declared once, and the calls everything else makes about a kind.

A kind's declaration (a `JobKind` in its own module beside this one) says how its config is
checked and run, where its setup and device sit in the config, which figures of its result a
list shows, and which page shows it. The worker, the store's callers, the Runs table, comparison,
the CLI and the pages read these declarations and nothing else, so a new kind is one new module
plus one line in `KINDS` below.

Functions are named as "module:function" strings and imported only when called: listing and
validating kinds imports no torch; the worker's child process pays for the runner's imports. A
runner is `run(config, reporter) -> dict` (JSON-able), plus `out_dir` for kinds that keep a run
folder. A validator, `validate(config) -> dict`, raises LrlabError for bad input and imports no
torch before its cheap checks pass. A group kind has no runner: `expand(config, group_id)` gives
the jobs it queues (the store queues them with it, in one transaction) and `refresh(store, job)`
ends it once they have ended; no worker ever claims it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrlab.core.errors import LrlabError
from lrlab.core.reporting import Reporter
from lrlab.core.validation import require_mapping
from lrlab.jobs.kinds import check, find, selftest, train
from lrlab.jobs.kinds.declaration import JobKind

if TYPE_CHECKING:  # the kinds are read by `lrlab --help` and the pages: no SQLAlchemy for that
    from lrlab.store import Job, Store

KINDS: dict[str, JobKind] = {k.name: k for k in (find.KIND, train.KIND, check.KIND,
                                                  selftest.KIND)}
NAMES = tuple(KINDS)


def kind_of(name: str) -> JobKind:
    """A kind's declaration, or one sentence naming the kinds there are."""
    try:
        return KINDS[name]
    except KeyError:
        raise LrlabError(f"job kind: expected one of {', '.join(NAMES)}, got {name!r}") from None


def _function(kind: JobKind, reference: str) -> Callable[..., Any]:
    module_name, _, name = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise LrlabError(
                f"job kind {kind.name!r}: its module {module_name} is missing ({exc})"
            ) from exc
        raise
    function = getattr(module, name, None)
    if function is None:
        raise LrlabError(f"job kind {kind.name!r}: {module_name} has no {name}()")
    return function


def validate(name: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """Check a job's config with its kind's own validator; returns the config to queue."""
    kind = kind_of(name)
    require_mapping(config, f"{name} config")
    checked = _function(kind, kind.validate)(dict(config))
    return dict(config) if checked is None else dict(checked)


def submit(store: Store, name: str, config: Mapping[str, Any]) -> int:
    """Validate and queue a job; a group kind queues its jobs with it. Returns its id."""
    kind = kind_of(name)
    checked = validate(name, config)
    if not kind.is_group:
        return store.submit(name, checked)
    expand = _function(kind, kind.expand or "")
    return store.submit_group(name, checked, lambda group_id: list(expand(checked, group_id)))


def reap(store: Store, timeout_s: float | None = None) -> list[int]:
    """Fail running jobs whose worker went silent, then end every group whose jobs have all
    ended (the worker's poll, the CLI and the app's sidebar call this); the failed ids."""
    failed = store.fail_stale() if timeout_s is None else store.fail_stale(timeout_s)
    for kind in KINDS.values():
        if kind.refresh is not None:
            for job in store.list_jobs(None, kind=kind.name, status="running"):
                refresh(store, job)
    return failed


def refresh(store: Store, job: Job) -> Job:
    """A group job brought up to date from its jobs (others are returned as they are). The
    process that ends it logs it to its trackers (lrlab.trackers), its points nested under it."""
    kind = kind_of(job.kind)
    if kind.refresh is None or job.status != "running":
        return job
    from lrlab.trackers import log_ended_ladder

    return _function(kind, kind.refresh)(store, job, on_end=log_ended_ladder)


def warm_up(device: str) -> None:
    """Let each kind pay its job-independent start-up costs (imports, lazily loaded libraries,
    the CUDA context), so a job handed to a warm process starts at once."""
    for kind in KINDS.values():
        if kind.warm_up is not None:
            _function(kind, kind.warm_up)(device)


def run(name: str, config: Mapping[str, Any], reporter: Reporter,
        out_dir: Path | None = None) -> dict[str, Any]:
    """Run one job in this process and return its result."""
    kind = kind_of(name)
    if kind.run is None:
        raise LrlabError(f"job kind {name!r} groups other jobs; no worker runs it")
    function = _function(kind, kind.run)
    extra = {"out_dir": out_dir} if kind.takes_out_dir else {}
    result = function(dict(config), reporter, **extra)
    if result is None:
        return {}
    if not isinstance(result, Mapping):
        raise TypeError(f"{kind.run} returned {type(result).__name__}, not dict")
    return dict(result)


def setup_of(job: Job) -> Mapping[str, Any]:
    """The setup a job trains or tests (model, data, device), wherever its kind keeps it."""
    at = kind_of(job.kind).setup_at if job.kind in KINDS else ""
    if at is None:
        return {}
    return job.config.get(at) or job.config if at else job.config


def task_spec(job: Job) -> str | None:
    """The spec of the task a job would build (its code), or None for the built-in setups."""
    task = setup_of(job).get("task") if job.kind in KINDS else None
    return task.get("spec") if isinstance(task, Mapping) else None


def refusal(job: Job, trusted: Iterable[str]) -> str | None:
    """Why a worker must not run this job (a task spec it was not told to trust), in one
    sentence; None when it may. Nothing of the task is imported to find out."""
    from lrlab.tasks.loading import require_registered

    spec = task_spec(job)
    if spec is None:
        return None
    try:
        require_registered(spec, trusted)
    except LrlabError as exc:
        return str(exc)
    return None


def on_device(name: str, config: Mapping[str, Any], device: str) -> dict[str, Any]:
    """The config with a setup's device "auto" made `device` (a worker's own)."""
    at = kind_of(name).setup_at
    out = dict(config)
    if at is None:
        return out
    setup = dict(out[at]) if at and isinstance(out.get(at), Mapping) else out
    if setup.get("device", "auto") == "auto":
        setup["device"] = device
    if at and isinstance(out.get(at), Mapping):
        out[at] = setup
    return out


def headline_paths() -> list[tuple[tuple[str, str], bool]]:
    """Every kind's headline (path, is text), for the store's summary reads."""
    seen: dict[tuple[str, str], bool] = {}
    for kind in KINDS.values():
        for headline in kind.headlines:
            seen[headline.path] = headline.text
    return list(seen.items())


def headlines(job: Job) -> dict[str, Any]:
    """{label: value} of the job's kind's headline figures (None where not yet known)."""
    result = job.result or {}
    out: dict[str, Any] = {}
    for headline in kind_of(job.kind).headlines:
        section, key = headline.path
        out[headline.label] = (result.get(section) or {}).get(key)
    return out


def figures(job: Job) -> dict[str, Any]:
    """{label: value} of the figures its kind compares finished runs by (None where absent)."""
    out: dict[str, Any] = {}
    for figure in kind_of(job.kind).figures:
        value: Any = job.result or {}
        for key in figure.path:
            value = value.get(key) if isinstance(value, Mapping) else None
        out[figure.label] = value
    return out


def listed(names: Sequence[str] | None = None) -> list[str]:
    """The kinds a person compares (of `names`, when given)."""
    return [k.name for k in KINDS.values() if k.listed and (names is None or k.name in names)]
