"""Export targets: a schedule in the form each training framework takes, and how exact it is.

Every target turns a `Schedule` into an `Export`: the text to copy or download, the structured
arguments that text is written from, and a measured `Exactness`. A target uses the framework's
own schedule where one matches (a closed form); otherwise its table form fed lrlab's value at
every step, labelled "via table". Nothing here imports the frameworks: each target module
mirrors what its framework computes, and the tests check the mirror against the real library.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace
from typing import Any

from lrlab.schedules.config import ScheduleError
from lrlab.schedules.schedule import Schedule
from lrlab.schedules.targets.exactness import EXACT, Exactness


@dataclass(frozen=True)
class Export:
    """A schedule as one target takes it."""

    target: str
    text: str
    filename: str
    mime: str
    exactness: Exactness
    momentum: str = ""  # how momentum travels, or why it cannot ("" when the schedule sets none)
    args: dict[str, Any] = field(default_factory=dict)  # what `text` is written from


@dataclass(frozen=True)
class Target:
    name: str
    title: str
    module: str  # lrlab.schedules.targets.<module> with `export(schedule) -> Export`
    plateau: bool = False  # can follow a metric step by step (ReduceLROnPlateau)


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("json", "lrlab JSON", "lrlab_file", plateau=True),
        Target("yaml", "lrlab YAML", "lrlab_file", plateau=True),
        Target("pytorch", "PyTorch code", "pytorch", plateau=True),
        Target("lightning", "PyTorch Lightning", "lightning", plateau=True),
        Target("hf", "Hugging Face transformers", "hf"),
        Target("timm", "timm", "timm_target"),
        Target("keras", "Keras 3", "keras"),
        Target("optax", "optax (JAX)", "optax"),
        Target("ignite", "PyTorch-Ignite", "ignite"),
        Target("csv", "CSV table (step, lr[, momentum])", "csv_table"),
    )
}


FORMS = ("auto", "native", "table")
FILE_FORMATS = ("code", "json", "yaml")  # code: the target's own language; json/yaml: a file
# its own tools read (hf: TrainingArguments fields; keras: a serialized schedule), where a
# target has one (`machine_form` in its module)


def export(schedule: Schedule, target: str, form: str = "auto",
           file_format: str = "code", optimizer: str | None = None) -> Export:
    """The schedule as `target` takes it; ScheduleError with the reason where it cannot.

    form "native" insists on the target's own schedule (approximate ones included), "table" on
    its table form; "auto" takes the native form when it is exact, else the table, and says
    how far the native form would have been off. `file_format` json or yaml writes the file
    the target's own tools read (Hugging Face's TrainingArguments fields), only where that
    file trains exactly this schedule. With the `optimizer` it drives, the note says when that
    optimizer carries its own step size (the schedule is then not the whole story)."""
    if target not in TARGETS:
        raise ScheduleError(f"--to: expected one of {', '.join(TARGETS)}, got {target!r}")
    if form not in FORMS:
        raise ScheduleError(f"--form: expected one of {', '.join(FORMS)}, got {form!r}")
    if file_format not in FILE_FORMATS:
        raise ScheduleError(f"--format: expected one of {', '.join(FILE_FORMATS)}, got "
                            f"{file_format!r}")
    spec = TARGETS[target]
    if schedule.kind == "plateau" and not spec.plateau:
        raise ScheduleError(
            f"export to {target}: a plateau schedule follows a validation metric step by step, "
            f"which {spec.title} has no place for; export it to pytorch or lightning "
            "(ReduceLROnPlateau), or pick a schedule of fixed shape")
    module = importlib.import_module(f"lrlab.schedules.targets.{spec.module}")
    result = _choose(schedule, target, form, spec, module)
    if file_format != "code":
        machine_form = getattr(module, "machine_form", None)
        if machine_form is None:
            raise ScheduleError(f"--format {file_format}: {spec.title} reads its schedule from "
                                "code, not from a file; use --format code")
        result = machine_form(result, file_format)
    plan = schedule.config.get("batch")
    if plan and spec.module != "lrlab_file":
        carried = ", ".join(f"×{f:g} from step {m}" for m, f in
                            zip(plan["milestones"], plan["factors"], strict=True))
        note = (f"The batch plan is not carried ({spec.title} schedules the LR only): change "
                f"the loader's batch yourself, {carried}. {result.exactness.note}").strip()
        result = replace(result, exactness=replace(result.exactness, note=note))
    if optimizer is not None:
        from lrlab.core.optimizer_table import optimizer_info

        said = optimizer_info(optimizer, "--optimizer").schedule_note
        if said:
            note = f"{said} {result.exactness.note}".strip()
            result = replace(result, exactness=replace(result.exactness, note=note))
    return result


def _choose(schedule: Schedule, target: str, form: str, spec: Target, module: Any) -> Export:
    """The native or the table form, as `export`'s docstring says."""
    native_form = getattr(module, "export_native", None)
    table_form = getattr(module, "export_table", None)
    if form == "table" and table_form is None:
        raise ScheduleError(f"--form table: {spec.title} export is already the schedule "
                            "itself; use --form auto")
    native = native_form(schedule, target) if native_form and form != "table" else None
    if form == "native" or table_form is None:
        if native is None:
            raise ScheduleError(
                f"export to {target} --form native: {spec.title} has no built-in schedule "
                f"equal to lrlab's {schedule.kind} with this warmup and hold; "
                "use --form auto or table (its table form, exact at every step)")
        return native
    if native is not None and (form == "auto" and native.exactness.label == EXACT):
        return native
    table = table_form(schedule, target)
    if native is None:
        return table
    off = native.exactness
    note = (f"{spec.title}'s built-in form would deviate up to {off.max_rel_dev:.3g} "
            f"(step {off.at_step}); --form native gives it. {table.exactness.note}").strip()
    return replace(table, exactness=replace(table.exactness, note=note))


def support_table(warmup: bool = False) -> str:
    """Markdown: each kind (its defaults, 1000 steps) x each framework, as `export` labels it.
    With `warmup`, a linear warmup from 0.1 x the peak over the first 100 steps."""
    from lrlab.schedules.spec import FORMAT, KINDS

    frameworks = [t for t in TARGETS if t not in ("json", "yaml", "csv")]
    rows = ["| kind | " + " | ".join(frameworks) + " |",
            "|---|" + "---|" * len(frameworks)]
    for kind in KINDS.values():
        if warmup and kind.own_warmup:
            continue
        config: dict[str, Any] = {"format": FORMAT, "base_lr": 0.1, "total_steps": 1000,
                                  "main": {"kind": kind.name}}
        if warmup:
            config["warmup"] = {"steps": 100, "start_factor": 0.1}
        schedule = Schedule.from_dict(config)
        cells = []
        for target in frameworks:
            try:
                cells.append(export(schedule, target).exactness.label)
            except ScheduleError:
                cells.append("not expressible")
        rows.append(f"| {kind.name} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"
