"""The registered tasks as a form offers them: each one's title, description and arguments,
with types and defaults read from its factory's signature and annotations, or from a
declaration beside the factory (`task_form`).

Only registered specs are read (lrlab.tasks.loading.registered_specs: their owner asked for
them to run), so the app lists what an administrator installed and never imports a name
typed into a page. Reading a task imports its module but does not call the factory: no data
is loaded until a job runs.

```python
@lrlab.task_form(title="Character GRU", description="Next-character prediction ...",
                 args={"hidden": {"help": "GRU width", "low": 8},
                       "cell": {"choices": ["gru", "lstm"]}})
def build(hidden: int = 128, cell: str = "gru", seed: int = 0) -> lrlab.Task: ...
```
"""

from __future__ import annotations

import inspect
import math
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from lrlab.core.errors import LrlabError
from lrlab.tasks.loading import (
    ENTRY_POINT_GROUP,
    ENV_VAR,
    entry_point_specs,
    listed_specs,
    load_factory,
)

ARG_KINDS = ("int", "float", "bool", "text", "choice", "yaml")
DECLARED = ("kind", "default", "choices", "low", "high", "help")  # what an arg may declare
FORM_ATTRIBUTE = "lrlab_form"  # where task_form keeps its declaration on the factory
RUN_ARGS = ("seed",)  # given by the run itself, never asked for in a form
_REQUIRED = inspect.Parameter.empty

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class TaskArg:
    """One argument of a task's factory, as a form asks for it."""

    name: str
    kind: str  # one of ARG_KINDS; "yaml": any other value, typed as YAML
    default: Any = _REQUIRED
    choices: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    help: str = ""

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def check(self, value: Any, spec: str) -> Any:
        """The value this argument takes (a YAML text read as data); else one sentence
        naming the task and the argument."""
        where = f"task {spec!r}, argument {self.name}"
        if value is None or (isinstance(value, str) and not value.strip()
                             and self.kind != "text"):
            if self.required:
                raise LrlabError(f"{where}: a value is required")
            return self.default
        if self.kind == "yaml" and isinstance(value, str):
            import yaml

            try:
                return yaml.safe_load(value)
            except yaml.YAMLError as exc:
                raise LrlabError(f"{where}: expected a YAML value, got {value!r} "
                                 f"({str(exc).splitlines()[0]})") from None
        if self.kind == "choice":
            if value not in self.choices:
                raise LrlabError(f"{where}: expected one of "
                                 f"{', '.join(map(str, self.choices))}, got {value!r}")
            return value
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise LrlabError(f"{where}: expected true or false, got {value!r}")
            return value
        if self.kind == "text":
            if not isinstance(value, str):
                raise LrlabError(f"{where}: expected text, got {value!r}")
            return value
        if self.kind in ("int", "float"):
            return self._number(value, where)
        return value

    def _number(self, value: Any, where: str) -> float | int:
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) \
            else None
        if self.kind == "int" and isinstance(number, float):
            number = int(number) if number.is_integer() else None
        if number is None or not math.isfinite(number):
            noun = "a whole number" if self.kind == "int" else "a number"
            raise LrlabError(f"{where}: expected {noun}, got {value!r}")
        if self.low is not None and number < self.low:
            raise LrlabError(f"{where}: expected at least {self.low:g}, got {number!r}")
        if self.high is not None and number > self.high:
            raise LrlabError(f"{where}: expected at most {self.high:g}, got {number!r}")
        return int(number) if self.kind == "int" else float(number)


@dataclass(frozen=True)
class TaskEntry:
    """A registered task: the spec jobs name it by, and what a form shows of it. `problem`
    says why it cannot be offered (its module failed to import)."""

    spec: str
    title: str
    description: str = ""
    args: tuple[TaskArg, ...] = ()
    problem: str | None = None

    def defaults(self) -> dict[str, Any]:
        """{argument: default} of the arguments that have one."""
        return {a.name: a.default for a in self.args if not a.required}

    def check_args(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The factory's arguments from a form's values, each checked; unknown names refused.
        Arguments left at their default are left out, so the job shows what was chosen."""
        known = {a.name: a for a in self.args}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise LrlabError(f"task {self.spec!r}: no argument {unknown[0]!r} (it takes "
                             f"{', '.join(known) or 'none'})")
        out = {}
        for arg in self.args:
            value = arg.check(values.get(arg.name), self.spec)
            if arg.required or value != arg.default:
                out[arg.name] = value
        return out


def task_form(title: str | None = None, description: str | None = None,
              args: Mapping[str, Mapping[str, Any]] | None = None) -> Callable[[F], F]:
    """Declare how a form shows a task factory: its title, description, and per argument any
    of kind, default, choices, low, high and help (what the signature cannot say). Checked
    here, so a mistake shows where the task is written, not in the app."""
    declared = {name: dict(fields) for name, fields in (args or {}).items()}
    for name, fields in declared.items():
        extra = sorted(set(fields) - set(DECLARED))
        if extra:
            raise LrlabError(f"task_form: argument {name!r} declares {extra[0]!r}; expected "
                             f"any of {', '.join(DECLARED)}")
        if "kind" in fields and fields["kind"] not in ARG_KINDS:
            raise LrlabError(f"task_form: argument {name!r} has kind {fields['kind']!r}; "
                             f"expected one of {', '.join(ARG_KINDS)}")

    def attach(factory: F) -> F:
        setattr(factory, FORM_ATTRIBUTE, {"title": title, "description": description,
                                          "args": declared})
        return factory

    return attach


def describe(spec: str) -> TaskEntry:
    """What a form shows of the task a spec names (its module imported, the factory not
    called)."""
    factory = load_factory(spec)
    form = getattr(factory, FORM_ATTRIBUTE, None) or {}
    declared = form.get("args") or {}
    doc = inspect.getdoc(factory) or inspect.getdoc(inspect.getmodule(factory)) or ""
    first = doc.split("\n\n")[0].replace("\n", " ").strip()
    return TaskEntry(spec=spec, title=form.get("title") or spec,
                     description=form.get("description") or first,
                     args=_arguments(factory, declared, spec))


def registered_tasks(extra: Iterable[str] = ()) -> list[TaskEntry]:
    """Every registered task, by title: entry points in the ``lrlab.tasks`` group (by name),
    then ``LRLAB_TASKS`` and `extra`. A task that cannot be read is listed with its problem."""
    installed = entry_point_specs()
    specs = list(dict.fromkeys([*installed, *(s for s in [*listed_specs(), *extra]
                                               if s not in installed.values())]))
    entries = []
    for spec in specs:
        try:
            entries.append(describe(spec))
        except LrlabError as exc:
            entries.append(TaskEntry(spec=spec, title=spec, problem=str(exc)))
    return sorted(entries, key=lambda e: (e.problem is not None, e.title.lower()))


def where_registered() -> str:
    """How to register a task, in one sentence (for a page that lists none)."""
    return (f"register a task as an entry point in the {ENTRY_POINT_GROUP!r} group of an "
            f"installed package, or list its spec in {ENV_VAR} where the app and its worker "
            "start")


def _arguments(factory: Callable[..., Any], declared: Mapping[str, Mapping[str, Any]],
               spec: str) -> tuple[TaskArg, ...]:
    """The factory's arguments from its signature and annotations, each completed (or, for a
    factory taking **kwargs, added) by its declaration."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        params = {}
    try:
        hints = typing.get_type_hints(factory)
    except Exception:  # an annotation that does not resolve: read the defaults instead
        hints = {}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    for name in declared:
        if name not in params and not takes_any:
            raise LrlabError(f"task {spec!r}: task_form declares {name!r}, which the factory "
                             "does not take")
    out = []
    names = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for name in [*names, *(n for n in declared if n not in params)]:
        if name in RUN_ARGS:
            continue
        param = params.get(name)
        default = declared.get(name, {}).get("default", param.default if param else _REQUIRED)
        kind, choices = _kind_of(hints.get(name), default)
        fields = declared.get(name, {})
        choices = tuple(fields.get("choices", choices))
        kind = fields.get("kind", "choice" if choices else kind)
        out.append(TaskArg(name=name, kind=kind, default=default, choices=choices,
                           low=fields.get("low"), high=fields.get("high"),
                           help=fields.get("help", "")))
    return tuple(out)


def _kind_of(annotation: Any, default: Any) -> tuple[str, tuple[Any, ...]]:
    """A form's kind for an annotation (Optional[X] read as X), else for the default's type."""
    if annotation is not None:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and typing.get_origin(annotation) is not typing.Literal:
            annotation = args[0]  # Optional[X], X | None
        if typing.get_origin(annotation) is typing.Literal:
            return "choice", tuple(typing.get_args(annotation))
        for kind, python_type in (("bool", bool), ("int", int), ("float", float),
                                  ("text", str)):
            if annotation is python_type:
                return kind, ()
        return "yaml", ()
    for kind, python_type in (("bool", bool), ("int", int), ("float", float), ("text", str)):
        if type(default) is python_type:
            return kind, ()
    return "yaml", ()
