"""The Schedule Designer's logic, kept out of the page so it is unit-tested without a browser.

The page stores its widgets in a flat mapping (`form`) whose keys are defined here; this module
turns that mapping into a `lrlab.schedule/1` config and back (for import), evaluates previews
cheaply however long the schedule is, and computes the summary figures shown beside the plot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lrlab.core.errors import LrlabError
from lrlab.core.options import FIELDS, Field
from lrlab.schedules import Schedule, parse_schedule
from lrlab.schedules.batch_plan import equivalent_batch_plan, plan_summary
from lrlab.schedules.noise_scale import averaging_window, decay_per_step, noise_scale
from lrlab.schedules.spec import FORMAT, KINDS, SETTINGS
from lrlab.web.formats import formatted

PREVIEW_POINTS = 4000
# The Designer keeps its form in the session under this prefix, so other pages can fill it (LR
# Finder advice) or read it (Training) through the functions below.
FORM_PREFIX = "d."

STEPS_DIRECT = "Total steps"
STEPS_FROM_EPOCHS = "Epochs × steps per epoch"
STEPS_FROM_DATASET = "Epochs × dataset size / batch size"
STEPS_MODES = (STEPS_DIRECT, STEPS_FROM_EPOCHS, STEPS_FROM_DATASET)


def _as(name: str, source: str, **shown: Any) -> tuple[str, Field]:
    """An option declared in lrlab.core.options, under the Designer form's key `name` (and,
    where the panel needs it, the symbol it is known by in a formula)."""
    return name, replace(FIELDS[source], name=name, **shown)


# How the Designer sizes a schedule when its length is given in epochs.
LENGTH_FIELDS: dict[str, Field] = dict((
    _as("epochs", "epochs"),
    _as("steps_per_epoch", "designer.steps_per_epoch"),
    _as("dataset_size", "designer.dataset_size"),
    _as("batch_size", "batch_size"),
    _as("drop_last", "designer.drop_last"),
))

# The noise-scale panel: the run the schedules are for, and the optimizer's decay.
NOISE_FIELDS: dict[str, Field] = dict((
    _as("noise.dataset_size", "designer.dataset_size", label="Training examples N"),
    _as("noise.batch_size", "batch_size", label="Batch B"),
    _as("noise.momentum", "optimizer.momentum", label="Momentum m",
        help="used where the schedule sets none"),
    _as("noise.optimizer", "optimizer.name", label="Optimizer",
        help="how weight decay enters each update"),
    _as("noise.weight_decay", "optimizer.weight_decay", label="Weight decay λ"),
))

DEFAULT_FORM: dict[str, Any] = {
    "kind": "cosine",
    "steps_mode": STEPS_DIRECT,
    "warmup.on": False,
    "scaling.on": False,
    "momentum.on": False,
    **{name: f.default for name, f in {**SETTINGS, **LENGTH_FIELDS, **NOISE_FIELDS}.items()},
}


def load_into_session(session: MutableMapping[str, Any], config: Mapping[str, Any]) -> None:
    """Fill the Designer's form in a session from a schedule config (advice, an import)."""
    for key, value in form_from_config(config).items():
        session[FORM_PREFIX + key] = value


def form_from_session(session: Mapping[str, Any]) -> dict[str, Any]:
    """The Designer's form in this session (defaults where untouched)."""
    return {**default_form(), **{k[len(FORM_PREFIX):]: v for k, v in session.items()
                                 if isinstance(k, str) and k.startswith(FORM_PREFIX)}}


def schedule_from_session(session: Mapping[str, Any]) -> dict[str, Any]:
    """The schedule the Designer's form in this session describes."""
    return Schedule.from_dict(config_from_form(form_from_session(session))).to_dict()


ADVICE_KEY = "training.schedule"  # the LR Finder advice last opened, kept for Training


def train_with_designer(session: MutableMapping[str, Any]) -> None:
    """The Training page's schedule: this Designer form's, its length taken from the run
    (stretched: every step-valued field in proportion)."""
    session["training.schedule_source"] = "designer"
    session["training.schedule_fit"] = "stretch"
# Where a training run's schedule comes from, as the Training page offers it.
SCHEDULE_SOURCES = {
    "tricks": "Warmup + cosine (from the tricks)",
    "designer": "Schedule Designer (current form)",
    "advice": "LR Finder advice",
    "file": "Upload a file",
}
# A task has no tricks to build a schedule from: without one its LR stays at the optimizer's.
TASK_SCHEDULE_SOURCES = {"constant": "Constant at the LR", **{
    k: v for k, v in SCHEDULE_SOURCES.items() if k != "tricks"}}


def source_key(task: bool) -> str:
    """The Training page's widget key for where the schedule comes from (one per form: their
    choices differ)."""
    return "training.t.schedule_source" if task else "training.schedule_source"


def chosen_schedule(
    source: str, session: Mapping[str, Any], upload: tuple[str, str] | None = None
) -> dict[str, Any] | None:
    """The schedule a training run uses, by source; None lets the tricks build the paper's (a
    task's LR then stays at the optimizer's). `upload` is (file name, text) for the "file"
    source."""
    if source == "designer":
        return schedule_from_session(session)
    if source == "advice":
        if ADVICE_KEY not in session:
            raise LrlabError("schedule: no LR Finder advice chosen yet (open one from the "
                             "LR Finder page first)")
        return dict(session[ADVICE_KEY])
    if source == "file":
        if upload is None:
            raise LrlabError("schedule: upload a schedule file or pick another source")
        name, text = upload
        return parse_schedule(text, source=name).to_dict()
    return None


def field_key(kind: str, field: Field) -> str:
    """Widget key of a kind's parameter; per kind, so switching kinds keeps what was typed."""
    return f"main.{kind}.{field.name}"


def default_form() -> dict[str, Any]:
    """Every widget's starting value, kind parameters included (from the kind table)."""
    form = dict(DEFAULT_FORM)
    for kind in KINDS.values():
        for f in kind.fields:
            form[field_key(kind.name, f)] = _to_widget(f, f.default)
    return form


def steps_per_epoch(dataset_size: int, batch_size: int, drop_last: bool = False) -> int:
    """Optimizer steps in one pass over the data (a last partial batch counts unless dropped)."""
    LENGTH_FIELDS["dataset_size"].check(dataset_size)
    LENGTH_FIELDS["batch_size"].check(batch_size)
    steps = dataset_size // batch_size if drop_last else math.ceil(dataset_size / batch_size)
    if steps < 1:
        raise LrlabError(
            f"batch_size: {batch_size} is larger than the dataset ({dataset_size}) with drop_last"
        )
    return steps


def form_steps_per_epoch(form: Mapping[str, Any]) -> int | None:
    """Steps per epoch implied by the form, or None when the user set total steps directly."""
    mode = form["steps_mode"]
    if mode == STEPS_FROM_EPOCHS:
        return int(form["steps_per_epoch"])
    if mode == STEPS_FROM_DATASET:
        return steps_per_epoch(int(form["dataset_size"]), int(form["batch_size"]),
                               bool(form["drop_last"]))
    return None


def form_total_steps(form: Mapping[str, Any]) -> int:
    per_epoch = form_steps_per_epoch(form)
    if per_epoch is None:
        return int(form["total_steps"])
    return int(form["epochs"]) * per_epoch


def parse_number_list(text: str, field: str, *, integer: bool) -> list[int] | list[float]:
    """'500, 750' -> [500, 750]; the message names the field and the piece that is wrong."""
    pieces = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    if not pieces:
        raise LrlabError(f"{field}: expected a comma-separated list of numbers, got nothing")
    values: list[Any] = []
    for piece in pieces:
        try:
            value = float(piece)
        except ValueError:
            raise LrlabError(f"{field}: {piece!r} is not a number") from None
        if integer:
            if not value.is_integer():
                raise LrlabError(f"{field}: expected whole numbers of steps, got {piece!r}")
            value = int(value)
        values.append(value)
    return values


def _to_widget(f: Field, value: Any) -> Any:
    if f.kind in ("int_list", "float_list"):
        return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return value


def _from_widget(f: Field, kind: str, value: Any) -> Any:
    if f.kind == "int_list":
        return parse_number_list(str(value), f"main.{f.name}", integer=True)
    if f.kind == "float_list":
        return parse_number_list(str(value), f"main.{f.name}", integer=False)
    if f.kind == "int":
        return None if f.optional and value in (None, 0) else int(value)
    if f.kind == "float":
        return float(value)
    return value


def config_from_form(form: Mapping[str, Any]) -> dict[str, Any]:
    """The `lrlab.schedule/1` config the form describes (validated later by Schedule.from_dict)."""
    kind = KINDS[form["kind"]]
    main: dict[str, Any] = {"kind": kind.name}
    for f in kind.fields:
        main[f.name] = _from_widget(f, kind.name, form[field_key(kind.name, f)])
    config: dict[str, Any] = {
        "format": FORMAT,
        "base_lr": float(form["base_lr"]),
        "total_steps": form_total_steps(form),
    }
    if form["warmup.on"] and not kind.own_warmup:
        config["warmup"] = {
            "steps": int(form["warmup.steps"]),
            "start_factor": float(form["warmup.start_factor"]),
            "shape": form["warmup.shape"],
        }
    if int(form["hold_steps"]) and not kind.own_warmup:
        config["hold_steps"] = int(form["hold_steps"])
    config["main"] = main
    if form["scaling.on"]:
        config["scaling"] = {
            "rule": form["scaling.rule"],
            "reference_batch": int(form["scaling.reference_batch"]),
            "batch": int(form["scaling.batch"]),
        }
    if form["momentum.on"] and not kind.cycles_momentum:
        config["momentum"] = {"value": float(form["momentum.value"])}
    return config


def form_from_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Widget values that reproduce an imported config (the inverse of `config_from_form`)."""
    schedule = Schedule.from_dict(config)  # validates, fills defaults
    full = schedule.to_dict()
    kind = KINDS[full["main"]["kind"]]
    form: dict[str, Any] = {
        "base_lr": full["base_lr"],
        "kind": kind.name,
        "steps_mode": STEPS_DIRECT,
        "total_steps": full["total_steps"],
        "hold_steps": full.get("hold_steps", 0),
    }
    for f in kind.fields:
        form[field_key(kind.name, f)] = _to_widget(f, full["main"][f.name])
    warmup = full.get("warmup")
    form["warmup.on"] = bool(warmup)
    if warmup:
        form.update({"warmup.steps": warmup["steps"], "warmup.start_factor": warmup["start_factor"],
                     "warmup.shape": warmup["shape"]})
    scaling = full.get("scaling")
    form["scaling.on"] = bool(scaling)
    if scaling:
        form.update({"scaling.rule": scaling["rule"],
                     "scaling.reference_batch": scaling["reference_batch"],
                     "scaling.batch": scaling["batch"]})
    momentum = full.get("momentum")
    form["momentum.on"] = bool(momentum)
    if momentum:
        form["momentum.value"] = momentum["value"]
    return form


def example_plateau_metric(n: int, seed: int = 0) -> np.ndarray:
    """An illustrative validation loss (decays, then plateaus, with noise) to preview `plateau`.

    The designer labels it as an example; users can upload their own metric series instead.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64)
    scale = max(n / 5.0, 1.0)
    return 0.3 + 2.0 * np.exp(-t / scale) + 0.02 * rng.standard_normal(n)


def extreme_preserving_indices(values: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of at most ~max_points samples that keep every peak, trough and jump visible.

    Splits the series into buckets and keeps each bucket's first, last, minimum and maximum, so a
    restart (a jump between two neighbours) and the extremes of every cycle survive decimation.
    """
    n = len(values)
    if n <= max_points:
        return np.arange(n)
    buckets = max(max_points // 4, 1)
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    starts, ends = edges[:-1], edges[1:] - 1
    width = int(np.max(ends - starts + 1))
    # Pad every bucket to the same width so argmin/argmax run vectorised over all buckets.
    offsets = np.minimum(starts[:, None] + np.arange(width)[None, :], ends[:, None])
    block = values[offsets]
    keep = np.concatenate([
        starts, ends,
        offsets[np.arange(buckets), np.argmin(block, axis=1)],
        offsets[np.arange(buckets), np.argmax(block, axis=1)],
    ])
    return np.unique(keep)


@dataclass(frozen=True)
class Preview:
    """What the plot needs of one schedule: a decimated curve and its summary figures."""

    name: str
    steps: np.ndarray
    lr: np.ndarray
    momentum: np.ndarray | None
    summary: dict[str, float]
    base_lr: float = 1.0  # the effective base LR: ηₜ = lr / base_lr
    batch: int | None = None  # the batch its scaling block is for, if it has one
    batch_factor: np.ndarray | None = None  # its batch plan's factor at each plotted step
    batches_before: np.ndarray | None = None  # Σ of the factor over the steps before each one


def preview(schedule: Schedule, name: str, *, metrics: Sequence[float] | None = None,
            max_points: int = PREVIEW_POINTS) -> Preview:
    """Evaluate every step once (vectorised), summarise, then decimate for plotting."""
    steps = np.arange(schedule.total_steps)
    lr = schedule.lr(steps, metrics=None if metrics is None else np.asarray(metrics))
    momentum = schedule.momentum(steps)
    factor = schedule.batch_factor(steps)
    before = np.concatenate([[0.0], np.cumsum(factor)[:-1]])
    keep = extreme_preserving_indices(lr, max_points)
    return Preview(
        name=name,
        steps=steps[keep],
        lr=lr[keep],
        momentum=None if momentum is None else momentum[keep],
        summary=summarize(schedule, lr),
        base_lr=schedule.effective_base_lr,
        batch=(schedule.config.get("scaling") or {}).get("batch"),
        batch_factor=factor[keep],
        batches_before=before[keep],
    )


def summarize(schedule: Schedule, lr: np.ndarray) -> dict[str, float]:
    """Peak and final LR, steps in warmup and the area under the LR curve (Σ lr over all steps).

    Warmup is read off the curve (steps before the first peak), so 1cycle's and CLR's built-in
    rise count too. The area is what two schedules of different shapes trade against each other.
    """
    peak_step = int(np.argmax(lr))
    return {
        "peak_lr": float(lr[peak_step]),
        "final_lr": float(lr[-1]),
        "warmup_steps": peak_step,
        "area": float(np.sum(lr)),
        "mean_lr": float(np.mean(lr)),
        "total_steps": int(schedule.total_steps),
    }


SUMMARY_LABELS = {"peak_lr": "peak LR", "final_lr": "final LR", "mean_lr": "mean LR",
                  "area": "area (Σ LR)", "warmup_steps": "steps in warmup",
                  "total_steps": "total steps"}


def summary_table(previews: Sequence[Preview]) -> list[dict[str, str]]:
    """The schedules side by side: one row per summary figure, one column per schedule, so the
    table stays as narrow as the plot however many figures there are."""
    names: list[str] = []
    for p in previews:
        names.append(unique_name(p.name, names))
    return [{"figure": label, **{name: formatted(label, p.summary[key])
                                 for name, p in zip(names, previews, strict=True)}}
            for key, label in SUMMARY_LABELS.items()]


@dataclass(frozen=True)
class NoiseCurves:
    """Per plotted step of one schedule: the epochs of data seen before it (its x), noise scale,
    momentum window and decay per update."""

    epochs: np.ndarray
    noise: np.ndarray
    window: np.ndarray
    decay: np.ndarray


def noise_curves(p: Preview, form: Mapping[str, Any]) -> NoiseCurves:
    """The noise-scale panel's curves for one schedule, with the panel's N, B, m, optimizer
    and λ from `form`; momentum from the schedule where it sets one, and the batch from its
    scaling block where it has one (so a scaled schedule is compared at its own batch)."""
    momentum = p.momentum if p.momentum is not None else np.full(
        p.lr.shape, float(form["noise.momentum"]))
    n = int(form["noise.dataset_size"])
    batch = p.batch or int(form["noise.batch_size"])
    factor = p.batch_factor if p.batch_factor is not None else np.ones(p.lr.shape)
    before = p.batches_before if p.batches_before is not None else p.steps.astype(float)
    return NoiseCurves(
        epochs=batch * before / n,
        noise=noise_scale(p.lr, n, np.maximum(1, np.round(batch * factor)), momentum),
        window=averaging_window(momentum),
        decay=decay_per_step(p.lr, form["noise.optimizer"], float(form["noise.weight_decay"]),
                             p.base_lr),
    )


def noise_rows(previews: Sequence[Preview], curves: Sequence[NoiseCurves]
               ) -> list[dict[str, Any]]:
    """The noise panel's table: g at the peak, on average and at the end, per schedule."""
    return [{"schedule": p.name, "g at the peak": float(c.noise.max()),
             "mean g": float(c.noise.mean()), "final g": float(c.noise[-1])}
            for p, c in zip(previews, curves, strict=True)]


def batch_plan_of(schedule: Schedule, form: Mapping[str, Any],
                  max_batch: int | None = None) -> tuple[Schedule, str]:
    """The Designer's "equivalent batch schedule": a step or multistep decay as batch increases
    with the same noise scale, for the noise panel's N and B; and a line on the updates saved."""
    n, batch = int(form["noise.dataset_size"]), int(form["noise.batch_size"])
    plan = equivalent_batch_plan(schedule, n, batch, max_batch)
    return plan, plan_summary(schedule, plan, batch)


def name_after_kind(session: MutableMapping[str, Any]) -> None:
    """A kind change names the schedule after the new kind (a name typed for the old kind
    would mislabel it when kept)."""
    session[FORM_PREFIX + "name"] = session[FORM_PREFIX + "kind"]


def unique_name(name: str, taken: Sequence[str]) -> str:
    """`name`, or `name (2)`, `name (3)`, ... so kept schedules stay distinguishable."""
    candidate, suffix = name, 2
    while candidate in taken:
        candidate, suffix = f"{name} ({suffix})", suffix + 1
    return candidate
