"""LR Check: short training runs at a ladder of LRs around a range test's advice, run as
parallel jobs, with every method's suggestion marked and a verdict on the advice."""

from __future__ import annotations

import streamlit as st

from lrlab import lr_check
from lrlab.core import options
from lrlab.core.errors import LrlabError
from lrlab.finder.importers import is_imported
from lrlab.finder.job import finder_setup
from lrlab.jobs import kinds
from lrlab.store import Job
from lrlab.web import task_setup, ui
from lrlab.web.monitor import JobFollower
from lrlab.web.plots import ladder_figure

state = st.session_state
store = ui.store()

st.title("LR Check")
st.caption("Every finder reads a number off a loss curve; this trains at it. The setup is "
           "trained for a short budget at peak LRs around the advice, one job per point, so "
           "several workers run them side by side.")
job = ui.job_in_url("check")  # a ladder; first, so a stale link's message is at the top
found = None if job is not None else ui.job_in_url("find", "find")  # the range test to check


def imported_setup(imported: dict) -> dict:
    """The setup to check an imported curve's advice on, asked for here: the curve brings no
    setup of its own. Its optimizer (and for the image classification its batch size) come
    filled in, since the advised LRs were read with them. Raises LrlabError naming a bad task
    argument."""
    st.caption(f"This range test is an imported curve ({imported['file']}): say what to train "
               "its advice on.")
    entry = task_setup.pick_task("check.setup")
    optimizer = imported.get("optimizer") or "sgd"
    if entry is not None:
        state.setdefault("check.setup.t.opt", optimizer)
        args = task_setup.arg_fields("check.setup", entry)
        put = task_setup.task_fields("check.setup", task_setup.FIND_FIELDS)
        return task_setup.task_config(entry, args, put)
    state.setdefault("check.setup.opt", optimizer)
    if imported.get("batch_size"):
        state.setdefault("check.setup.batch", imported["batch_size"])
    put = ui.setup_header("check.setup")
    put.update(ui.setup_fields("check.setup", ui.LANDSCAPE))
    return options.config_from_values(put)


def adopt(ladder_job: Job, baseline: str | None = None) -> None:
    """Button callback: the Training page with the ladder's setup at its best peak LR, or
    trained by one of its LR-free baselines."""
    config = lr_check.best_training_config(ladder_job.config, ladder_job.result, baseline)
    task_setup.fill_training(state, config, {"range_test": ladder_job.config.get("range_test"),
                                             "check": ladder_job.id}, config["schedule"])


def draw_points(current: Job, _follower: JobFollower) -> None:
    rows = lr_check.rows_of(store, current.config, current.result)
    extra = lr_check.baseline_rows_of(store, current.config, current.result)
    st.plotly_chart(ladder_figure(rows, current.config.get("suggestions") or {}, extra),
                    key="check.chart")
    st.dataframe(
        lr_check.shown_rows([*rows, *extra]), hide_index=True,
        column_config={
            "progress": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0),
            "seed spread": st.column_config.TextColumn(
                help="best minus worst seed's final figure"),
        })


def draw_outcome(current: Job, _follower: JobFollower, settled: bool) -> None:
    """The ended ladder's verdict on the advice and the next steps; or why it stopped."""
    result = current.result or {}
    if not result:
        st.error(current.error or f"The ladder was {current.status}.")
        return
    # green only for a best point that is clear; "cannot tell" (and a failed ladder) in amber
    clear = current.status == "succeeded" and lr_check.can_tell(result)
    (st.success if clear else st.warning)(result["verdict"])
    if result.get("range_test") is not None:
        ui.page_button(st, f"Open range test #{result['range_test']}", "app_pages/lr_finder.py",
                       key="check.range_test", disabled=not settled,
                       query_params={"job": str(result["range_test"])})
    if result.get("best"):
        ui.page_button(st, f"Train with the best LR ({result['best']['lr']:.3g})",
                       "app_pages/training.py", key="check.adopt", disabled=not settled,
                       type="primary", on_click=adopt, args=(current,))
    finished = [b for b in result.get("baselines") or () if b["status"] == "succeeded"]
    for column, b in zip(st.columns(max(1, len(finished))), finished, strict=False):
        ui.page_button(column, f"Train with {b['title']}", "app_pages/training.py",
                       key=f"check.adopt.{b['baseline']}", disabled=not settled,
                       on_click=adopt, args=(current, b["baseline"]))


if job is None:
    if found is None:
        st.info("Open a finished range test on the LR Finder page and choose “Check this "
                "advice”, or pick one here.")
        tests = [j for j in store.list_jobs(50, kind="find", status="succeeded",
                                                  headlines=kinds.headline_paths())]
        if tests:
            from lrlab.web.comparison import run_label

            picked = st.selectbox("Range test", tests, format_func=run_label, index=None,
                                  key="check.pick")
            if picked is not None:
                st.query_params["find"] = str(picked.id)
                st.rerun()
    elif found.status != "succeeded" or not (found.result or {}).get("advice"):
        st.warning(f"Range test #{found.id} has no advice to check ({found.status}).")
    else:
        # Plain widgets, not a form: the budget below follows every change, and only the
        # button starts the ladder (Enter in a field starts nothing).
        st.markdown(f"**Range test #{found.id}**: suggested LR "
                    f"{found.result['suggestions'].get('consensus') or 0:.3g}; the ladder "
                    "trains its advised schedule at each peak LR.")
        try:
            setup = (imported_setup(found.config["imported"]) if is_imported(found.config)
                     else finder_setup(found.config))
        except LrlabError as exc:
            setup = None
            st.error(f"Not ready: {ui.in_page_words(str(exc))}")
        blocked = None if setup is None else task_setup.not_offered(setup)
        if blocked:
            st.info(blocked)
        c = st.columns(6)
        advice = c[0].selectbox("Advice", list(found.result["advice"]), key="check.advice")
        put = {name.split(".")[1]: ui.option_widget(column, name, f"check.{name[6:]}")
               for column, name in zip(c[1:], ("check.points", "check.span", "check.epochs",
                                               "check.fraction", "check.seeds"), strict=True)}
        put["baselines"] = ui.option_widget(st, "check.baselines", "check.baselines")
        log_to = ui.log_to_widget(st, "check.log_to")
        if setup is not None and log_to is not None:
            setup = {**setup, "log_to": log_to}  # the ladder and each of its points
        config = None
        if setup is not None and not blocked and log_to is not None:
            try:
                config = lr_check.with_budget(lr_check.from_range_test(
                    found.result, setup=setup, advice=advice, job=found.id), put)
                st.caption("Budget: " + lr_check.describe_budget(
                    lr_check.validate_config(config), lr_check.pace_of(found.result)))
            except LrlabError as exc:
                config = None
                st.error(f"Not ready: {ui.in_page_words(str(exc))}")
        if st.button("Run the ladder", type="primary", key="check.run",
                     disabled=config is None):
            try:
                job_id = ui.submit("check", config)
            except LrlabError as exc:
                st.error(f"Not started: {ui.in_page_words(str(exc))}")
            else:
                del st.query_params["find"]
                st.query_params["job"] = str(job_id)
                st.rerun()

if job is not None:
    # the page's view ends the ladder as soon as its last point has
    ui.live_job(job, "LR check", "check", draw_points, draw_outcome,
                refresh=lambda current: kinds.refresh(store, current))
