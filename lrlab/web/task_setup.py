"""The setup form for a registered task, beside the built-in image classification: which task,
its arguments as widgets (lrlab.tasks.catalog), and the task form's options.

A page offers registered tasks only, picked from a list: nothing typed into a page names code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from lrlab.core import options
from lrlab.tasks.catalog import TaskArg, TaskEntry, registered_tasks, where_registered
from lrlab.tasks.task_config import is_task
from lrlab.tasks.train_format import FORMAT
from lrlab.web import designer, ui

IMAGE = ""  # the picker's choice for the built-in image classification
IMAGE_TITLE = "Image classification (built-in models and sets)"

# The task form's options (lrlab.tasks.task_config), each widget's key the page's prefix,
# ".t." and a short name.
TASK_KEYS = {
    "optimizer.name": "opt", "optimizer.lr": "lr", "optimizer.momentum": "momentum",
    "optimizer.weight_decay": "wd", "optimizer.nesterov": "nesterov", "epochs": "epochs",
    "max_steps": "max_steps", "batches_per_epoch": "batches",
    "accumulation_steps": "accumulation", "grad_clip": "clip", "eval_every": "eval_every",
    "precision": "precision", "seed": "seed", "schedule_fit": "fit",
}
# What a range test of a task sweeps over (the LR is swept, so not asked for) ...
FIND_FIELDS = ("optimizer.name", "optimizer.momentum", "optimizer.weight_decay",
               "optimizer.nesterov", "epochs", "max_steps", "batches_per_epoch",
               "accumulation_steps", "precision", "seed")
# ... and what a training run of one adds.
TRAIN_FIELDS = ("optimizer.name", "optimizer.lr", "optimizer.momentum", "optimizer.weight_decay",
                "optimizer.nesterov", "epochs", "max_steps", "batches_per_epoch",
                "accumulation_steps", "grad_clip", "eval_every", "precision", "seed")


@st.cache_resource(show_spinner=False)
def offered_tasks() -> tuple[TaskEntry, ...]:
    """The registered tasks, read once per server (a new entry point or LRLAB_TASKS needs a
    restart of the app and its worker alike)."""
    return tuple(registered_tasks())


def offered(spec: str) -> TaskEntry | None:
    """The registered task a spec names, if this app can offer it (its module imports)."""
    return next((e for e in offered_tasks() if e.spec == spec and e.problem is None), None)


def not_offered(setup: Mapping[str, Any]) -> str | None:
    """Why this app's workers cannot run a setup's task (a range test measured in a notebook
    on a task nobody registered), with what to do instead; None when they can."""
    if not is_task(setup) or offered(setup["task"]["spec"]) is not None:
        return None
    return (f"Task `{setup['task']['spec']}` is not registered with this app, so its workers "
            "will not run it. Check the advice where the task lives, with `lrlab.check(...)` "
            f"in Python or `lrlab check --from` in a shell; or {where_registered()}.")


def fill_training(session: Any, setup: Mapping[str, Any], origin: Mapping[str, Any],
                  schedule: Mapping[str, Any] | None) -> None:
    """Open the Training page on a setup (a range test's, a ladder's best point): its form,
    image or task, filled from it, its origin, and `schedule` as the advice to train (else
    the form's own: the tricks' or a task's constant LR)."""
    task = is_task(setup)
    if task:
        load_task_setup(session, "training", setup)
    else:
        session["training.task"] = IMAGE
        ui.load_setup(session, "training", setup)
    session["training.origin"] = dict(origin)
    if schedule is not None:
        session[designer.ADVICE_KEY] = dict(schedule)
    session[designer.source_key(task)] = ("advice" if schedule is not None else
                                          "constant" if task else "tricks")


def pick_task(prefix: str) -> TaskEntry | None:
    """"What to train": the built-in image classification or a registered task (None for the
    former). A setup loaded from a job whose task is no longer registered falls back to the
    image classification, with a sentence saying so."""
    entries = {e.spec: e for e in offered_tasks() if e.problem is None}
    key = f"{prefix}.task"
    chosen = st.session_state.get(key, IMAGE)
    if chosen not in entries and chosen != IMAGE:
        st.warning(f"Task {chosen!r} is not registered with this app: {where_registered()}.")
        st.session_state[key] = IMAGE
    spec = st.selectbox("What to train", [IMAGE, *entries], key=key,
                        format_func=lambda s: entries[s].title if s else IMAGE_TITLE,
                        help="Registered tasks: " + where_registered())
    for broken in (e for e in offered_tasks() if e.problem is not None):
        st.caption(f":orange[Registered but not offered:] {broken.problem}")
    if not spec:
        return None
    entry = entries[spec]
    st.caption(f"{entry.description} · `{entry.spec}`")
    return entry


def arg_fields(prefix: str, entry: TaskEntry, per_row: int = 4) -> dict[str, Any]:
    """A widget per argument of the task's factory, laid out `per_row` to a row; {name:
    value} as the widgets hold them (TaskEntry.check_args reads them)."""
    if not entry.args:
        st.caption("This task's factory takes no arguments.")
        return {}
    values = {}
    for i, arg in enumerate(entry.args):
        if i % per_row == 0:
            row = st.columns(per_row)
        values[arg.name] = _arg_widget(row[i % per_row], arg, _arg_key(prefix, entry, arg.name))
    return values


def _arg_key(prefix: str, entry: TaskEntry, name: str) -> str:
    return f"{prefix}.args.{entry.spec}.{name}"  # per task: switching keeps what was typed


def _arg_widget(container: Any, arg: TaskArg, key: str) -> Any:
    """The widget an argument's kind implies, at its default unless the session holds one."""
    held = key in st.session_state
    default = None if arg.required else arg.default
    help_text = arg.help or None
    label = arg.name + ("" if not arg.required else " (required)")
    if arg.kind == "choice":
        choices = list(arg.choices)
        index = {} if held else {"index": choices.index(default) if default in choices
                                 else None}
        return container.selectbox(label, choices, key=key, help=help_text, **index)
    if arg.kind == "bool":
        return container.toggle(label, key=key, help=help_text,
                                **({} if held else {"value": bool(default)}))
    if arg.kind in ("int", "float"):
        number = int if arg.kind == "int" else float
        bounds = {"min_value": None if arg.low is None else number(arg.low),
                  "max_value": None if arg.high is None else number(arg.high)}
        value = {} if held else {"value": None if default is None else number(default)}
        extra = {"step": 1} if arg.kind == "int" else {"format": "%g"}
        return container.number_input(label, key=key, help=help_text, **bounds, **value,
                                      **extra)
    text = "" if default is None else (default if arg.kind == "text" else _as_yaml(default))
    kind_help = "" if arg.kind == "text" else " Read as YAML (a number, true, a list...)."
    return container.text_input(label, key=key, help=(arg.help + kind_help).strip() or None,
                                **({} if held else {"value": text}))


def _as_yaml(value: Any) -> str:
    import yaml

    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def task_fields(prefix: str, names: Sequence[str], locked: Sequence[str] = (),
                why: str = "") -> dict[str, Any]:
    """The task form's options as widgets (their declarations in lrlab.core.options); {option:
    value}."""
    return ui.option_grid([(name, f"{prefix}.t.{TASK_KEYS[name]}") for name in names],
                          locked=locked, why=why)


def task_config(entry: TaskEntry, args: Mapping[str, Any],
                values: Mapping[str, Any]) -> dict[str, Any]:
    """The ``lrlab.train/4`` task config of a form: the task with its checked arguments, and the
    options' values. Raises LrlabError naming a bad argument."""
    return {"format": FORMAT, "task": {"spec": entry.spec, "args": entry.check_args(args)},
            **options.config_from_values(dict(values))}


def load_task_setup(session: Any, prefix: str, setup: Mapping[str, Any]) -> None:
    """Fill a page's task form from a task setup (a range test's, a ladder's best point):
    the task, every argument (the unnamed at their defaults) and every option."""
    spec = setup["task"]["spec"]
    session[f"{prefix}.task"] = spec
    entry = offered(spec)
    if entry is not None:
        given = setup["task"].get("args") or {}
        for arg in entry.args:
            value = given.get(arg.name, None if arg.required else arg.default)
            if arg.kind == "yaml" and not isinstance(value, str):
                value = "" if value is None else _as_yaml(value)
            session[_arg_key(prefix, entry, arg.name)] = value
    for name, short in TASK_KEYS.items():
        value: Any = setup
        for part in name.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is not None or options.FIELDS[name].optional:
            session[f"{prefix}.t.{short}"] = value
