"""Training: a short run on a worker, of the built-in image classification with the Bag of
Tricks or of a registered task, with live charts, cancel and downloads."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from lrlab.core import options
from lrlab.core.artifacts import read_bytes, run_url
from lrlab.core.errors import LrlabError
from lrlab.core.optimizer_table import OPTIMIZERS
from lrlab.jobs import kinds
from lrlab.schedules import Schedule
from lrlab.schedules.fit import describe_planned
from lrlab.store import Job
from lrlab.tasks.catalog import TaskEntry
from lrlab.tasks.image.builders import check_before_queueing
from lrlab.tasks.image.checkpoint import FILENAME as CHECKPOINT
from lrlab.tasks.image.planned_run import planned_schedule
from lrlab.tasks.task_config import is_task, known_plan
from lrlab.training.task_run import WEIGHTS
from lrlab.web import designer, monitor, task_setup, ui
from lrlab.web.monitor import JobFollower
from lrlab.web.pages import script_of
from lrlab.web.plots import schedule_figure, training_figure

state = st.session_state
# A run's origin names the jobs its setup came from, by key: that job kind's label and page.
ORIGIN_KINDS = {"range_test": kinds.kind_of("find"), "check": kinds.kind_of("check")}

st.title("Training")
st.caption("A short run to check an LR and schedule: the built-in image classification with "
           "the tricks of He et al. (2019), or a registered task of your own. Runs on the "
           "worker; charts update live and the run is kept on the Runs page.")
job = ui.job_in_url("train")  # first, so a stale link's message is at the top of the page

origin = state.get("training.origin")
if origin:
    st.caption("Setup from " + " and ".join(f"{ORIGIN_KINDS[k].short} #{v}"
                                            for k, v in origin.items() if v is not None) + ".")


def image_form() -> dict | None:
    """The built-in image classification's setup, schedule and tricks; the config to run
    (None while it cannot run), its schedule drawn exactly as the run will step through it."""
    # Plain widgets, not a form: the model's size and the schedule below follow every change,
    # and only the button starts a run (Enter in a field starts nothing).
    put = ui.setup_header("training")
    source, put["schedule_fit"], upload = schedule_row(task=False)
    # A given schedule carries its own peak, warmup and decay: the tricks' fields for them do
    # not apply, and are shown locked rather than with numbers the run would ignore.
    locked = ui.SCHEDULE_ONLY if source != "tricks" else ()
    why = f"set by the schedule ({designer.SCHEDULE_SOURCES[source]})"
    put.update(ui.setup_fields("training", ("batch_size", "epochs", "limit", "augment",
                                            "optimizer.name", "optimizer.lr",
                                            "optimizer.momentum", "optimizer.weight_decay",
                                            "optimizer.nesterov", "seed", "precision"),
                               locked=locked, why=why))
    st.markdown("**Tricks** (paper defaults)")
    put.update(ui.setup_fields("training", (
        "tricks.linear_scaling", "tricks.warmup_epochs", "tricks.zero_gamma",
        "tricks.no_bias_decay", "tricks.cosine", "tricks.label_smoothing", "tricks.mixup"),
        locked=locked, why=why))
    teacher = ui.option_widget(st, "tricks.distillation.teacher", "training.teacher")
    try:
        config = options.config_from_values(
            {**put, "schedule": designer.chosen_schedule(source, state, upload()),
             "tricks.distillation": {"teacher": teacher} if teacher else None})
        config["origin"] = state.get("training.origin")
        schedule, fit = planned_schedule(kinds.validate("train", config))
    except LrlabError as exc:
        st.warning(f"Not ready: {ui.in_page_words(str(exc))}")
        return None
    draw_planned(schedule, fit)
    return config


def task_form(entry: TaskEntry) -> dict | None:
    """A registered task's arguments, optimizer, schedule and run; the config to run (None
    while it cannot run), its schedule drawn as the run will step through it once the
    task's updates are known."""
    args = task_setup.arg_fields("training", entry)
    source, fit_mode, upload = schedule_row(task=True)
    put = task_setup.task_fields(
        "training", task_setup.TRAIN_FIELDS,
        locked=() if source == "constant" else ("optimizer.lr",),
        why=f"set by the schedule ({designer.TASK_SCHEDULE_SOURCES[source]})")
    try:
        config = task_setup.task_config(entry, args, {**put, "schedule_fit": fit_mode})
        config["schedule"] = designer.chosen_schedule(source, state, upload())
        config["origin"] = state.get("training.origin")
        plan = known_plan(kinds.validate("train", config))
    except LrlabError as exc:
        st.warning(f"Not ready: {ui.in_page_words(str(exc))}")
        return None
    if plan is None:
        st.caption("The worker counts the task's batches when it builds it, and fits the "
                   "schedule to them as “If the schedule's length differs” says; give "
                   "“Batches per epoch” or “Updates” to see the exact schedule here first.")
    else:
        draw_planned(*plan)
    return config


def schedule_row(task: bool) -> tuple[str, str, Callable[[], tuple[str, str] | None]]:
    """Where the schedule comes from, what to do when its length is not the run's (off when
    no schedule is given: the tricks' own, or a task's constant LR), and a function giving the
    uploaded file's (name, text) when it comes from a file."""
    sources = designer.TASK_SCHEDULE_SOURCES if task else designer.SCHEDULE_SOURCES
    st.markdown("**Schedule**")
    c = st.columns([3, 2])
    source = c[0].radio("Schedule from", list(sources), format_func=sources.get,
                        key=designer.source_key(task), horizontal=True,
                        label_visibility="collapsed")
    fit = ui.option_widget(c[1], "schedule_fit", "training.t.fit" if task else
                           "training.schedule_fit", disabled=source in ("tricks", "constant"))
    upload = (st.file_uploader("Schedule file", type=["json", "yaml", "yml"],
                               key="training.schedule_file") if source == "file" else None)
    return source, fit, lambda: (None if upload is None else (
        upload.name, upload.getvalue().decode("utf-8", errors="replace")))


def draw_planned(schedule: Schedule, fit: dict) -> None:
    st.caption(describe_planned(schedule, fit))
    st.plotly_chart(schedule_figure([designer.preview(schedule, "this run")]),
                    key="training.preview")


entry = task_setup.pick_task("training")
config = image_form() if entry is None else task_form(entry)
chosen = OPTIMIZERS.get(((config or {}).get("optimizer") or {}).get("name"))
if chosen is not None and chosen.schedule_note:
    st.caption(chosen.schedule_note)
log_to = ui.log_to_widget(st, "training.log_to")
if config is not None and log_to is not None:
    config = {**config, "log_to": log_to}

if st.button("Start training", type="primary", key="training.start",
             disabled=config is None or log_to is None):
    try:
        job_id = ui.submit("train", config,
                           check=check_before_queueing if entry is None else None)
    except LrlabError as exc:
        st.error(f"Not started: {ui.in_page_words(str(exc))}")
    else:
        st.query_params["job"] = str(job_id)
        job = ui.store().get(job_id)


def draw_metrics(job: Job, follower: JobFollower) -> None:
    if follower.step or follower.epoch:
        st.plotly_chart(training_figure([(f"#{job.id}", follower.all_series())],
                                        tasks=is_task(job.config)), key="training.chart")
    elif not job.is_finished:
        st.caption("Waiting for the worker's first metrics…")


def origin_links(job: Job) -> None:
    """Where the run's setup and LR came from: its range test and LR check, one click away."""
    came_from = {k: v for k, v in (job.config.get("origin") or {}).items() if v is not None}
    for column, (kind, job_id) in zip(st.columns(4), came_from.items(), strict=False):
        ui.page_button(column, f"From {ORIGIN_KINDS[kind].short} #{job_id}",
                       script_of(ORIGIN_KINDS[kind].page),
                       key=f"training.from.{kind}", query_params={"job": str(job_id)})


def draw_outcome(job: Job, follower: JobFollower, _settled: bool) -> None:
    """The ended run: its error if any, headline numbers and downloads."""
    if job.error:
        st.error(job.error)
    summary = (job.result or {}).get("summary") or {}
    if summary:
        for column, (label, text) in zip(st.columns(4), monitor.summary_cards(summary),
                                         strict=True):
            column.metric(label, text)
    c = st.columns(3)
    c[0].download_button("Metrics (CSV)", monitor.metrics_csv(follower),
                         file_name=f"run-{job.id}-metrics.csv", mime="text/csv",
                         on_click="ignore")
    c[1].download_button("Metrics (JSON)", monitor.metrics_json(follower),
                         file_name=f"run-{job.id}-metrics.json",
                         mime="application/json", on_click="ignore")
    if job.status == "succeeded":
        # Wherever the worker kept the run folder (older results: this host's runs/).
        folder = (job.result or {}).get("artifacts") or run_url(job.id)
        name = WEIGHTS if is_task(job.config) else CHECKPOINT  # a task's: its state_dict
        try:
            model = read_bytes(folder, name)
        except LrlabError as exc:
            c[2].caption(f"Model: {exc}")
        else:
            c[2].download_button(f"Model ({name})", model, file_name=f"run-{job.id}-{name}",
                                 mime="application/octet-stream", on_click="ignore")


if job is not None:
    origin_links(job)
    ui.live_job(job, "Run", "training", draw_metrics, draw_outcome)
