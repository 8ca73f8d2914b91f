"""Naming, registering and building a task: a spec ``package.module:function`` (the entry-point
value syntax) names a factory that returns a `Task`.

A spec is code. The caller's own commands (`lrlab find|check|train --task`, the Python API) run
it as the caller, so they build any spec. A worker runs other people's jobs, so it builds only
the specs registered with it: an entry point in the ``lrlab.tasks`` group, a spec in its
``LRLAB_TASKS`` (comma-separated), or one given as ``lrlab worker --task SPEC``. Any other spec
is refused before its module is imported.

Every mistake is one sentence naming the spec: an unknown module or function, a factory that
raises, a return value that is not a Task.
"""

from __future__ import annotations

import importlib
import inspect
import os
import random
import re
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata
from typing import Any

from lrlab.core.errors import LrlabError

ENTRY_POINT_GROUP = "lrlab.tasks"
ENV_VAR = "LRLAB_TASKS"
_SPEC = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_NAME = re.compile(r"^[A-Za-z_][\w-]*$")  # an installed task's entry-point name


def check_spec(spec: Any, where: str = "task.spec") -> str:
    """The spec, stripped, if it reads ``package.module:function`` (or is the name of an
    installed task); else one sentence."""
    if not isinstance(spec, str) or not (_SPEC.match(spec.strip()) or _NAME.match(spec.strip())):
        raise LrlabError(f"{where}: expected package.module:function (a factory returning an "
                         f"lrlab.Task) or an installed task's name, got {spec!r}")
    return spec.strip()


def entry_point_specs() -> dict[str, str]:
    """{name: spec} of the tasks installed packages register in the ``lrlab.tasks`` group."""
    return {ep.name: ep.value for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def registered_specs(extra: Iterable[str] = ()) -> set[str]:
    """Every spec a worker may build: entry points (by name and by spec), ``LRLAB_TASKS`` and
    `extra` (its --task)."""
    installed = entry_point_specs()
    return {*installed, *installed.values(), *listed_specs(), *(s.strip() for s in extra)}


def listed_specs() -> list[str]:
    """The specs ``LRLAB_TASKS`` lists (comma-separated), in its order."""
    return [s.strip() for s in os.environ.get(ENV_VAR, "").split(",") if s.strip()]


def resolve_spec(spec: str) -> str:
    """An entry point's name stands for its spec; a spec stands for itself."""
    if ":" not in spec:
        found = entry_point_specs().get(spec)
        if found is None:
            raise LrlabError(f"task {spec!r}: not package.module:function, and no installed "
                             f"package names a task so (entry point group "
                             f"{ENTRY_POINT_GROUP!r})")
        return found
    return check_spec(spec)


def require_registered(spec: str, allowed: Iterable[str]) -> None:
    """Refuse a spec this worker was not told to trust, before anything of it is imported."""
    if spec not in set(allowed):
        raise LrlabError(
            f"task {spec!r} is not registered with this worker, so it was not imported: "
            f"register it as an entry point in the {ENTRY_POINT_GROUP!r} group of an installed "
            f"package, add it to {ENV_VAR}, or start the worker with --task {spec}")


def load_factory(spec: str) -> Callable[..., Any]:
    """The callable a spec (or an installed task's name) names, its module imported."""
    module_name, _, attribute = resolve_spec(check_spec(spec)).partition(":")
    try:
        target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise LrlabError(f"task {spec!r}: no module named {exc.name!r} (install the package "
                         "that holds it, or put its folder on PYTHONPATH)") from None
    except Exception as exc:  # the user's module failed while importing
        raise LrlabError(f"task {spec!r}: importing {module_name} raised "
                         f"{type(exc).__name__}: {exc}") from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise LrlabError(f"task {spec!r}: {module_name} has no {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise LrlabError(f"task {spec!r}: {attribute} is not a function (got "
                         f"{type(target).__name__})")
    return target


def seed_everything(seed: int) -> None:
    """torch, numpy and random seeded alike, before a factory builds its model and data."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_task(spec: str, args: Mapping[str, Any] | None = None, seed: int = 0) -> Any:
    """The Task a spec's factory returns for `args`, after seeding the run; the factory gets
    `seed` too when it takes one."""
    from lrlab.tasks.protocol import MODES, Task

    factory = load_factory(spec)
    kwargs = dict(args or {})
    if _takes(factory, "seed") and "seed" not in kwargs:
        kwargs["seed"] = seed
    seed_everything(seed)
    try:
        task = factory(**kwargs)
    except TypeError as exc:
        why = _bad_arguments(factory, kwargs) or f"the factory raised TypeError: {exc}"
        raise LrlabError(f"task {spec!r}: {why}") from None
    except LrlabError as exc:
        raise LrlabError(f"task {spec!r}: {exc}") from None
    except Exception as exc:  # the user's factory failed
        raise LrlabError(f"task {spec!r}: the factory raised {type(exc).__name__}: "
                         f"{exc}") from None
    if not isinstance(task, Task):
        raise LrlabError(f"task {spec!r}: the factory returned {type(task).__name__}, not an "
                         "lrlab.Task")
    import torch

    if not isinstance(task.model, torch.nn.Module):
        raise LrlabError(f"task {spec!r}: model is {type(task.model).__name__}, not a "
                         "torch.nn.Module")
    if task.mode not in MODES:
        raise LrlabError(f"task {spec!r}: mode is {task.mode!r}; expected min or max")
    return task


def _takes(factory: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _bad_arguments(factory: Callable[..., Any], kwargs: Mapping[str, Any]) -> str | None:
    """What is wrong with the arguments for the factory, in words; None if they bind."""
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError as exc:
        return f"its arguments do not fit the factory ({exc}); check --task-arg / task.args"
    except ValueError:
        return None
    return None


def parse_task_args(pairs: Iterable[str]) -> dict[str, Any]:
    """``["hidden=128", "name=gru"]`` -> ``{"hidden": 128, "name": "gru"}``: each value read as
    YAML (numbers, true/false, lists), never as code."""
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip().isidentifier():
            raise LrlabError(f"--task-arg: expected key=value with a Python name as key, got "
                             f"{pair!r}")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            out[key.strip()] = value
    return out
