"""Which function runs each job kind.

The table names functions as "module:function" strings and imports them only when asked, so the
store, the CLI and the app can list and validate kinds without importing torch; the worker's child
process is the one that pays for the import.

A runner is `run_from_config(config: dict, reporter) -> dict` (JSON-able result); kinds that save
files also take `out_dir`. A runner module may offer `validate_config(config) -> dict | None`, which
raises `LrlabError` for bad input; it is called before a job is queued. It may also offer
`warm_up(device)`, which a worker's waiting child calls before any job is handed to it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrlab.errors import LrlabError
from lrlab.reporting import Reporter


@dataclass(frozen=True)
class RunnerSpec:
    kind: str
    module: str
    takes_out_dir: bool
    summary: str
    function: str = "run_from_config"
    validator: str = "validate_config"
    warm_up: str = "warm_up"


RUNNERS: dict[str, RunnerSpec] = {
    spec.kind: spec
    for spec in (
        RunnerSpec("find", "lrlab.finder.job", False, "LR range test"),
        RunnerSpec("train", "lrlab.train.job", True, "short training run"),
        RunnerSpec("selftest", "lrlab.jobs.selftest", False, "worker self-test"),
    )
}
KINDS = tuple(RUNNERS)


def runner_spec(kind: str) -> RunnerSpec:
    try:
        return RUNNERS[kind]
    except KeyError:
        raise LrlabError(f"job kind: expected one of {', '.join(KINDS)}, got {kind!r}") from None


def _module(spec: RunnerSpec) -> Any:
    try:
        return importlib.import_module(spec.module)
    except ModuleNotFoundError as exc:
        if exc.name and spec.module.startswith(exc.name):
            raise LrlabError(
                f"job kind {spec.kind!r}: its runner module {spec.module} is missing ({exc})"
            ) from exc
        raise


def validate(kind: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """Check a job's config with its runner's own validator; returns the config to queue."""
    spec = runner_spec(kind)
    if not isinstance(config, Mapping):
        raise LrlabError(f"{kind} config: expected a mapping, got {type(config).__name__}")
    validator = getattr(_module(spec), spec.validator, None)
    if validator is None:
        return dict(config)
    checked = validator(dict(config))
    return dict(config) if checked is None else dict(checked)


def warm_up(device: str) -> None:
    """Import every runner and let each pay its job-independent start-up costs (optional
    `warm_up(device)` in its module), so a job handed to a warm process starts at once."""
    for spec in RUNNERS.values():
        function = getattr(_module(spec), spec.warm_up, None)
        if function is not None:
            function(device)


def load(kind: str) -> Callable[..., Mapping[str, Any]]:
    spec = runner_spec(kind)
    function = getattr(_module(spec), spec.function, None)
    if function is None:
        raise LrlabError(f"job kind {kind!r}: {spec.module} has no {spec.function}()")
    return function


def run(
    kind: str, config: Mapping[str, Any], reporter: Reporter, out_dir: Path | None = None
) -> dict[str, Any]:
    """Run one job in this process and return its result."""
    spec = runner_spec(kind)
    function = load(kind)
    if spec.takes_out_dir:
        result = function(dict(config), reporter, out_dir=out_dir)
    else:
        result = function(dict(config), reporter)
    if result is None:
        return {}
    if not isinstance(result, Mapping):
        raise TypeError(f"{spec.module}.{spec.function} returned {type(result).__name__}, not dict")
    return dict(result)
