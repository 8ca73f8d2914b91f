"""Streamlit glue shared by the pages: the cached store, the worker status, the job in the URL,
and submitting a job from a page.

Only wiring lives here; what a page shows is computed by library functions that are tested
without a browser.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from lrlab.core import options
from lrlab.core.errors import LrlabError
from lrlab.core.paths import allowed_data_dirs, confine_path, host_paths
from lrlab.jobs import kinds
from lrlab.jobs.supervisor import WorkerStatus, ensure_local_worker
from lrlab.store import Job, Store, shared_store
from lrlab.web.formats import formatted, quantity_format, status_line
from lrlab.web.monitor import (
    FIRST_METRIC_WAIT_S,
    LIVE_POLL_S,
    JobFollower,
    job_from_link,
    jobs_from_link,
    progress_line,
)
from lrlab.web.serve import serves_others

WORKER_PANEL_REFRESH_S = 3.0


def store() -> Store:
    """The server's one Store for its database (LRLAB_DB, else the SQLite file), shared with the
    worker supervisor."""
    return shared_store(None)


def worker_status() -> WorkerStatus:
    """Live workers, and this server's own supervised worker (started if not yet)."""
    return ensure_local_worker(None)


def sidebar_worker_status() -> None:
    """The sidebar's worker panel; it refreshes itself, so "starting" turns into the worker's
    device (or a dead worker into a warning) without the user touching the page."""
    with st.sidebar:
        _worker_panel()


@st.fragment(run_every=WORKER_PANEL_REFRESH_S)
def _worker_panel() -> None:
    status = worker_status()
    st.markdown("**Workers**")
    if status.workers:
        for w in status.workers:
            state = f"running job {w.job_id}" if w.status == "busy" else w.status
            local = " · started by this app" if w.pid == status.started_pid else ""
            st.caption(f":green[●] {w.device} — {state}{local}")
    elif status.starting:
        st.caption(":orange[●] Starting a local worker…")
    else:
        st.caption(f":red[●] {status.summary()}. Jobs wait in the queue until `lrlab worker` "
                   "runs against this store.")
    note = status.restart_note()
    if note:
        st.caption(f":orange[↻] {note}")


def serving_others() -> bool:
    """Whether this server listens beyond loopback (then pages' host paths are confined)."""
    return serves_others(st.get_option("server.address"))


def submit(kind: str, config: dict[str, Any],
           check: Callable[[dict[str, Any]], None] | None = None) -> int:
    """Validate and queue a job from a page. When the app serves others, host paths in the
    config must lie under LRLAB_DATA_DIRS (see lrlab.core.paths), checked before anything touches
    the disk (even "does not exist" would tell a visitor what the host holds). `check` gets
    the validated config last, for refusals that read the data (a schedule's length)."""
    if serving_others():
        allowed = allowed_data_dirs()
        for field, path in host_paths(config).items():
            confine_path(field, path, allowed)
    validated = kinds.validate(kind, config)
    if check is not None:
        check(validated)
    job_id = kinds.submit(store(), kind, validated)
    # a job that reports metrics, with a worker idle to take it: its page waits for the first
    if not kinds.kind_of(kind).is_group and any(
            w.status == "idle" for w in store().live_workers()):
        st.session_state[_JUST_SUBMITTED] = job_id
    return job_id


_JUST_SUBMITTED = "ui.just_submitted"  # the job this session's last submit queued (live_job)


def job_in_url(kind: str, param: str = "job") -> Job | None:
    """The job a page shows, from the URL, so a reload or a shared link shows the same job. A
    stale or mistyped link is answered with a sentence and dropped from the URL."""
    job, problem = job_from_link(store(), st.query_params.get(param), kind)
    if problem:
        st.warning(problem)
        del st.query_params[param]
    return job


def jobs_in_url(known: set[int], param: str = "jobs") -> list[int]:
    """Several job ids from the URL (`?jobs=3,5`), so a comparison can be shared as a link."""
    ids, problem = jobs_from_link(st.query_params.get(param), known)
    if problem:
        st.warning(problem)
    return ids


def live_job(job: Job, title: str, key: str, draw: Callable[[Job, JobFollower], None],
             outcome: Callable[[Job, JobFollower, bool], None],
             refresh: Callable[[Job], Job] | None = None) -> None:
    """A job's view: its title and status, progress, a Cancel button and what `draw` adds (a
    chart), refreshed every LIVE_POLL_S while it runs; once it has ended, what
    `outcome(job, follower, settled)` shows (its result or error). `refresh` brings a job whose
    state the page derives up to date each tick (a ladder ends with its points).

    The tick that sees the end draws the outcome itself, so the answer comes with that tick. Only
    the next tick, having drawn the same again, reruns the whole page to stop the polling: a
    rerun started at once would drop the first drawing if it had not yet left for the browser
    (Streamlit clears the outgoing queue when a run starts), and the page would wait for the
    full rerun instead. Those two ticks pass settled=False: the outcome's page_buttons wait for
    the page's own run, because a page switch from a tick can meet the next tick's rerun, and
    Streamlit then runs the old page's fragment on the new page and leaves it blank."""
    seen = follower(job.id)
    # the run that submitted the job waits for its first point, and the tick that finds it due
    # to end before the next waits for its end (lrlab.web.monitor); other ticks do not
    hold = [FIRST_METRIC_WAIT_S] if st.session_state.pop(_JUST_SUBMITTED, None) == job.id else []
    shown = f"{key}.shown.{job.id}"  # this session has seen the outcome drawn by a tick

    @st.fragment(run_every=None if job.is_finished else LIVE_POLL_S)
    def live() -> None:
        current = seen.poll(store(), wait_s=hold.pop() if hold else 0.0,
                            end_within_s=LIVE_POLL_S)
        if refresh is not None:
            current = refresh(current)
        st.subheader(f"{title} #{current.id} — {status_line(current.status)}")
        st.progress(*progress_line(current))
        if not current.is_finished and st.button("Cancel", key=f"{key}.cancel"):
            store().request_cancel(current.id)
        draw(current, seen)
        if not current.is_finished:
            return
        outcome(current, seen, job.is_finished)  # whole first: a click reruns this
        if not job.is_finished and st.session_state.get(shown):
            st.rerun()  # the page, which then draws this job as ended and polls no more
        st.session_state[shown] = True

    live()


def page_button(container: Any, label: str, page: str, *, key: str,
                query_params: dict[str, str] | None = None, **button: Any) -> None:
    """A button that opens another page (`button`: disabled, on_click, args, help, type...). In a
    job's result, disabled until the view has settled (see live_job)."""
    if container.button(label, key=key, **button):
        st.switch_page(page, query_params=query_params)


def follower(job_id: int) -> JobFollower:
    """This session's follower of a job (its cursor and the metrics seen so far)."""
    key = f"follower.{job_id}"
    if key not in st.session_state:
        st.session_state[key] = JobFollower(job_id)
    return st.session_state[key]


def option_widget(container: Any, name: str, key: str, **overrides: Any) -> Any:
    """The widget for an option, drawn from its one declaration (label, default, limits, help,
    choices); `overrides` changes what a page needs otherwise (a range test's smaller batch)."""
    field = options.FIELDS[name]
    default = overrides.pop("default", field.default)
    if key in st.session_state:  # filled from a config (load_setup): the session holds it
        default = _FROM_STATE
    return field_widget(container, field, key, default=default, **overrides)


_FROM_STATE = object()


def field_widget(container: Any, field: options.Field, key: str, default: Any = _FROM_STATE,
                 **overrides: Any) -> Any:
    """The widget a declared field implies. Without `default` the value is the session's under
    `key` (pages that fill their form from a config, like the Designer)."""
    label = overrides.pop("label", field.label)
    help_text = overrides.pop("help", field.help or None)
    value = {} if default is _FROM_STATE else {"value": default}
    if field.kind == "choice":
        choices = list(field.choices)
        index = {} if default is _FROM_STATE else {"index": choices.index(default)}
        return container.selectbox(label, choices, key=key, help=help_text, **index, **overrides)
    if field.kind == "choices":
        chosen = {} if default is _FROM_STATE else {"default": list(default)}
        return container.multiselect(label, list(field.choices), key=key, help=help_text,
                                     **chosen, **overrides)
    if field.kind == "bool":
        return container.toggle(label, key=key, help=help_text, **value, **overrides)
    if field.kind in ("int_list", "float_list"):
        return container.text_input(label, key=key, help=f"{field.help} Comma-separated.",
                                    **value, **overrides)
    if field.kind == "text":
        if value:
            value["value"] = value["value"] or ""
        return container.text_input(label, key=key, help=help_text, **value, **overrides)
    number = int if field.kind == "int" else float
    # An open bound has no widget equivalent: the box leaves it out and the check refuses it.
    kwargs = {"min_value": None if field.low is None or field.low_open else number(field.low),
              "max_value": None if field.high is None or field.high_open else number(field.high),
              "key": key, "help": help_text, **value}
    if field.format:
        kwargs["format"] = field.format
    if field.step is not None:
        kwargs["step"] = number(field.step)
    return container.number_input(label, **{**kwargs, **overrides})


TRACKER_TITLES = {"tensorboard": "TensorBoard", "mlflow": "MLflow"}


def log_to_widget(container: Any, key: str) -> list[str] | None:
    """Where a job is logged besides the store: a choice of TensorBoard and MLflow at their
    default places (and whatever LRLAB_LOG_TO names, chosen to start with); None, with a
    sentence, when LRLAB_LOG_TO cannot be read."""
    from lrlab.core.tracking_targets import default_targets, parse_target

    try:
        defaults = default_targets()
    except LrlabError as exc:
        container.warning(f"Log to: {exc}")
        return None
    choices = list(dict.fromkeys([*defaults, *TRACKER_TITLES]))

    def title(text: str) -> str:
        target = parse_target(text)
        return TRACKER_TITLES[target.tracker] + ("" if target.where is None else " (LRLAB_LOG_TO)")

    chosen = container.multiselect(
        "Log to", choices, default=defaults, key=key, format_func=title,
        help="Also log the job, live, where you look at your other runs; the store keeps "
             "everything either way")
    for text in chosen:
        container.caption(f"{title(text)}: {parse_target(text).location()}")
    return chosen


def option_grid(fields: Sequence[tuple[str, str]], per_row: int = 4,
                locked: Sequence[str] = (), why: str = "") -> dict[str, Any]:
    """Widgets for (option, key) pairs laid out `per_row` to a row; {option: value}. The
    `locked` options are drawn disabled, with `why` as their help."""
    values = {}
    for i, (name, key) in enumerate(fields):
        if i % per_row == 0:
            row = st.columns(per_row)
        extra = {"disabled": True, "help": why} if name in locked else {}
        values[name] = option_widget(row[i % per_row], name, key, **extra)
    return values


# The setup (what shapes the loss landscape), one form for the LR Finder and Training pages:
# each option's widget key is the page's prefix and a short name.
SETUP_KEYS = {
    "model": "model", "variant": "variant", "norm": "norm", "width": "width",
    "dataset": "dataset", "data_root": "root", "limit": "limit", "batch_size": "batch",
    "epochs": "epochs",
    "seed": "seed", "precision": "precision", "augment": "augment", "optimizer.name": "opt",
    "optimizer.lr": "lr", "optimizer.momentum": "momentum", "optimizer.weight_decay": "wd",
    "optimizer.nesterov": "nesterov", "tricks.linear_scaling": "linear_scaling",
    "tricks.warmup_epochs": "warmup", "tricks.zero_gamma": "zero_gamma",
    "tricks.no_bias_decay": "no_bias_decay", "tricks.cosine": "cosine",
    "tricks.label_smoothing": "label_smoothing", "tricks.mixup": "mixup",
}
# What changes the loss landscape (and so a range test); the rest shapes only the schedule.
LANDSCAPE = ("batch_size", "epochs", "limit", "augment", "optimizer.name", "optimizer.momentum",
             "optimizer.weight_decay", "optimizer.nesterov", "tricks.zero_gamma",
             "tricks.no_bias_decay", "tricks.label_smoothing", "tricks.mixup", "seed",
             "precision")
SCHEDULE_ONLY = ("optimizer.lr", "tricks.linear_scaling", "tricks.warmup_epochs",
                 "tricks.cosine")


@st.cache_data(show_spinner=False, max_entries=64)
def _model_line(model: str, dataset: str, variant: str, width: int | None) -> str:
    from lrlab.tasks.image.models import describe_for_dataset

    return describe_for_dataset(model, dataset, variant=variant, width=width)


# Fields that shape only the ResNets (He et al.'s variants, Fixup without BatchNorm).
RESNET_ONLY = ("variant", "norm")


def setup_header(prefix: str) -> dict[str, Any]:
    """What is trained (model, variant, norm, width, data), outside the page's form so the
    model's size updates as it is chosen; {option: value}."""
    from lrlab.tasks.image.data import DATASETS

    put = {}
    c = st.columns([3, 2, 3, 2, 4, 4])  # wide enough at 1280 px for "Normalisation"
    for column, name in zip(c[:4], ("model", "variant", "norm", "width"), strict=True):
        extra: dict[str, Any] = {"placeholder": "default"} if name == "width" else {}
        if name in RESNET_ONLY:  # off, not hidden, for a model they do not apply to
            extra["disabled"] = not put["model"].startswith("resnet")
        put[name] = option_widget(column, name, f"{prefix}.{SETUP_KEYS[name]}", **extra)
    put["dataset"] = option_widget(c[4], "dataset", f"{prefix}.dataset",
                                   format_func=lambda name: DATASETS[name].title)
    put["data_root"] = option_widget(c[5], "data_root", f"{prefix}.root",
                                     label="Data folder (sets that need one)")
    st.caption(_model_line(put["model"], put["dataset"], put["variant"], put["width"]))
    return put


def setup_fields(prefix: str, names: Sequence[str] = LANDSCAPE + SCHEDULE_ONLY,
                 locked: Sequence[str] = (), why: str = "") -> dict[str, Any]:
    """The rest of the setup, in rows of four; {option: value} (`locked`: see option_grid)."""
    return option_grid([(name, f"{prefix}.{SETUP_KEYS[name]}") for name in names],
                       locked=locked, why=why)


def load_setup(session: Any, prefix: str, setup: dict[str, Any]) -> None:
    """Fill a page's setup form from a setup (a range test's, for "Train with this setup")."""
    for name, short in SETUP_KEYS.items():
        value: Any = setup
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        session[f"{prefix}.{short}"] = "" if value is None and name == "data_root" else value


_FIELD_AT_START = re.compile(r"^(?:setup\.)?([A-Za-z_][\w.]*)(?=: )")
_FIELD_WITH_VALUE = re.compile(r"(?<![\w.])([A-Za-z_][\w.]*)(?==)")
_FLAG = re.compile(r"(?<![\w-])--([a-z][\w-]*)")


def in_page_words(message: str) -> str:
    """A library message in the words a page shows: the field it names at its start, and any
    `field=value` it quotes, by the field's label ("end_lr: expected a number above
    start_lr=1" -> "End LR: expected a number above Start LR=1"), and a command-line flag it
    suggests by the field's label in quotes. The CLI keeps flag names."""
    def label(match: re.Match[str]) -> str:
        name = match.group(1)
        field = options.FIELDS.get(name) or options.FIELDS.get(f"check.{name}")
        return field.label if field is not None else match.group(0)

    def flag(match: re.Match[str]) -> str:
        field = next((f for f in options.FIELDS.values() if f.flag == match.group(0)), None)
        return f"“{field.label}”" if field is not None else match.group(0)

    return _FLAG.sub(flag, _FIELD_WITH_VALUE.sub(label, _FIELD_AT_START.sub(label, message,
                                                                              count=1)))


def shown_table(rows: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """`rows` as st.dataframe should show them, and their column_config: each quantity in its
    one format (lrlab.web.formats). A column with a figure in every row stays numeric, so it
    sorts by value; one with gaps becomes text in the same format with the gaps empty, since
    Streamlit draws a missing value as "None"."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    shown = [dict(row) for row in rows]
    config: dict[str, Any] = {}
    for column in columns:
        values = [row.get(column) for row in rows]
        numeric = any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        fmt = quantity_format(column)
        if numeric and fmt is not None and None not in values:
            for row, value in zip(shown, values, strict=True):
                row[column] = value * fmt[1]
            config[column] = st.column_config.NumberColumn(format=fmt[0])
        elif None in values:
            for row, value in zip(shown, values, strict=True):
                row[column] = formatted(column, value)
    return shown, config
