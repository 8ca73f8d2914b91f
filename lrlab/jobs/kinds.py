"""Which function runs each job kind.

The table names functions as "module:function" strings and imports them only when asked, so the
store, the CLI and the app can list and validate kinds without importing torch; the worker's child
process is the one that pays for the import.

A runner is `run(config: dict, reporter) -> dict` (JSON-able result); kinds that save files also
take `out_dir`. A kind's validator, `validate(config) -> dict | None`, raises `LrlabError` for bad
input; it is called before a job is queued and must import no torch. A kind's `warm_up(device)` is
what a worker's waiting child calls before any job is handed to it.

A kind with no runner but an `expand(config, group_id) -> [(kind, config), ...]` groups other
jobs: the store queues those as its children and no worker ever claims the group itself (the LR
check ladder, lrlab.lr_check, which finishes it once its children end).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrlab.core.errors import LrlabError
from lrlab.core.reporting import Reporter


@dataclass(frozen=True)
class RunnerSpec:
    """A job kind and its functions, as "module:function" (imported only when called).

    The validator lives where it can be imported without torch, so a page or the CLI refuses a
    bad config at once; the runner and its warm-up may import whatever they need.
    """

    kind: str
    summary: str
    run: str | None
    validate: str | None = None
    warm_up: str | None = None
    takes_out_dir: bool = False
    expand: str | None = None  # a group kind: the jobs it queues instead of running
    refresh: str | None = None  # a group kind: refresh(store) ends groups whose children ended


RUNNERS: dict[str, RunnerSpec] = {
    spec.kind: spec
    for spec in (
        RunnerSpec("find", "LR range test", run="lrlab.finder.job:run_from_config",
                   validate="lrlab.finder.job:validate_config",
                   warm_up="lrlab.finder.job:warm_up"),
        RunnerSpec("train", "short training run", run="lrlab.training.job:run_from_config",
                   validate="lrlab.tasks.image.config:validate_config",
                   warm_up="lrlab.training.job:warm_up", takes_out_dir=True),
        RunnerSpec("check", "LR check ladder", run=None, validate="lrlab.lr_check:validate_config",
                   expand="lrlab.lr_check:children", refresh="lrlab.lr_check:refresh_running"),
        RunnerSpec("selftest", "worker self-test", run="lrlab.jobs.selftest:run_from_config",
                   validate="lrlab.jobs.selftest:validate_config"),
    )
}
KINDS = tuple(RUNNERS)


def runner_spec(kind: str) -> RunnerSpec:
    try:
        return RUNNERS[kind]
    except KeyError:
        raise LrlabError(f"job kind: expected one of {', '.join(KINDS)}, got {kind!r}") from None


def _function(spec: RunnerSpec, reference: str) -> Callable[..., Any]:
    module_name, _, name = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise LrlabError(
                f"job kind {spec.kind!r}: its module {module_name} is missing ({exc})"
            ) from exc
        raise
    function = getattr(module, name, None)
    if function is None:
        raise LrlabError(f"job kind {spec.kind!r}: {module_name} has no {name}()")
    return function


def validate(kind: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """Check a job's config with its runner's own validator; returns the config to queue."""
    spec = runner_spec(kind)
    if not isinstance(config, Mapping):
        raise LrlabError(f"{kind} config: expected a mapping, got {type(config).__name__}")
    if spec.validate is None:
        return dict(config)
    checked = _function(spec, spec.validate)(dict(config))
    return dict(config) if checked is None else dict(checked)


def is_group(kind: str) -> bool:
    """Whether a kind groups other jobs (and is never run by a worker itself)."""
    return runner_spec(kind).expand is not None


def expand(kind: str, config: Mapping[str, Any], group_id: int) -> list[tuple[str, dict[str, Any]]]:
    """The jobs group `group_id` of a group kind queues for its (validated) config."""
    spec = runner_spec(kind)
    if spec.expand is None:
        raise LrlabError(f"job kind {kind!r} runs on a worker; it queues no other jobs")
    return list(_function(spec, spec.expand)(dict(config), group_id))


def refresh_groups(store: Any) -> None:
    """Bring every running group job up to date from its children (Store.fail_stale calls it)."""
    for spec in RUNNERS.values():
        if spec.refresh is not None:
            _function(spec, spec.refresh)(store)


def warm_up(device: str) -> None:
    """Let each runner pay its job-independent start-up costs (imports, lazily loaded libraries,
    CUDA context), so a job handed to a warm process starts at once."""
    for spec in RUNNERS.values():
        if spec.warm_up is not None:
            _function(spec, spec.warm_up)(device)


def run(
    kind: str, config: Mapping[str, Any], reporter: Reporter, out_dir: Path | None = None
) -> dict[str, Any]:
    """Run one job in this process and return its result."""
    spec = runner_spec(kind)
    if spec.run is None:
        raise LrlabError(f"job kind {kind!r} groups other jobs; no worker runs it")
    function = _function(spec, spec.run)
    if spec.takes_out_dir:
        result = function(dict(config), reporter, out_dir=out_dir)
    else:
        result = function(dict(config), reporter)
    if result is None:
        return {}
    if not isinstance(result, Mapping):
        raise TypeError(f"{spec.run} returned {type(result).__name__}, not dict")
    return dict(result)
