"""LR Finder: run a range test on a worker and watch it live, or analyse another tool's curve."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from lrlab.core import options
from lrlab.core.errors import LrlabError
from lrlab.finder.advice import explain
from lrlab.finder.curves import parse_curve
from lrlab.finder.importers import analyze_imported, imported_config, is_imported
from lrlab.finder.job import finder_setup
from lrlab.store import Job
from lrlab.tasks.setups import is_task
from lrlab.web import comparison, designer, task_setup, ui
from lrlab.web.monitor import JobFollower
from lrlab.web.plots import range_test_figure, range_test_result_figure

state = st.session_state
store = ui.store()

st.title("LR Finder")
st.caption("Sweep the LR up over a short run, see where the loss falls fastest, and get a "
           "suggestion with a measure of how far to trust it.")
job = ui.job_in_url("find")  # first, so a stale link's message is at the top of the page


def open_in_designer(config: dict) -> None:
    """Button callback: load a suggested schedule into the Schedule Designer's form."""
    designer.load_into_session(state, config)
    state[designer.ADVICE_KEY] = config


def train_with_setup(job: Job) -> None:
    """Button callback: the Training page's form filled with this test's setup, its schedule
    the 1cycle advice (sized to the setup's run: for a task, with the batches per epoch the
    test counted, so the page previews exactly what will run)."""
    setup = finder_setup(job.config)
    if is_task(setup):
        batches = (job.result.get("planned_run") or {}).get("batches_per_epoch")
        setup = {**setup, "batches_per_epoch": setup["batches_per_epoch"] or batches}
    task_setup.fill_training(state, setup, {"range_test": job.id},
                             (job.result.get("advice") or {}).get("onecycle"))


def show_result(result: dict, key: str, pick_overlays: Callable[[], list] = list,
                settled: bool = True) -> None:
    """Suggestions, consensus, verdict, warnings and advice of one analysed curve: the answer
    first, then the curve it came from (with the curves `pick_overlays` asks for). `settled`:
    see ui.live_job."""
    suggestions = result.get("suggestions") or {}
    trust = result.get("trust") or {}
    consensus = suggestions.get("consensus")
    cols = st.columns([1, 3])
    cols[0].metric("Suggested LR", f"{consensus:.3g}" if consensus else "—",
                   help="Consensus of all methods (weighted median in log10 LR).")
    level = trust.get("level", "low")
    verdict = trust.get("verdict", "")
    {"high": cols[1].success, "medium": cols[1].warning}.get(level, cols[1].error)(
        f"**Trust: {level}.** {verdict}")
    for warning in trust.get("warnings") or []:
        st.warning(warning)
    overlays = pick_overlays()
    st.plotly_chart(range_test_result_figure(result, overlays=overlays), key=f"{key}.chart")
    methods, formats = ui.shown_table([{"method": name, "suggested LR": value}
                                       for name, value in suggestions.items()
                                       if name != "consensus"])
    st.dataframe(methods, hide_index=True, column_config=formats)
    advice = result.get("advice") or {}
    if advice:
        st.markdown("**Schedule advice** — ready-made schedules built from this curve, their "
                    "peaks marked ▲ on it (why each peaks where it does: the range-test guide, "
                    "docs/range-test.md).")
        explained = explain(result)
        for i, (name, config) in enumerate(advice.items()):
            row = st.columns([3, 1])
            main = config.get("main", {})
            row[0].markdown(f"`{name}` — {main.get('kind')}, base LR "
                            f"{config.get('base_lr', 0):.3g}, {config.get('total_steps')} steps")
            row[0].caption(explained[name]["why"])
            if explained[name]["warning"]:
                row[0].warning(explained[name]["warning"])
            ui.page_button(row[1], "Open in Schedule Designer", "app_pages/schedule_designer.py",
                           key=f"{key}.advice.{i}", disabled=not settled,
                           on_click=open_in_designer, args=(config,))


def pick_overlays(job: Job) -> list:
    """Earlier range tests to draw beside this one's curve, as the user picks them."""
    earlier = [j for j in comparison.listed_jobs(store, "find", limit=50)
               if j.id != job.id and j.status == "succeeded"]
    chosen = st.multiselect("Overlay earlier tests", earlier, format_func=comparison.run_label)
    return comparison.range_test_overlays([store.get(j.id) for j in chosen])


def draw_live_curve(job: Job, follower: JobFollower) -> None:
    """The curve so far, drawn from the start (empty at first) on the sweep's LR span, so the
    chart is ready when the first points come."""
    if job.is_finished:
        return  # the result below takes over
    lrs, loss = follower.series("lr")[1], follower.series("loss")[1]
    if not len(lrs):
        st.caption("Waiting for the worker's first points…")
    span = (job.config["start_lr"], job.config["end_lr"])
    st.plotly_chart(range_test_figure(lrs, loss, lr_range=span), key="finder.live_chart")


def draw_outcome(job: Job, _follower: JobFollower, settled: bool) -> None:
    """The ended test: its suggestions and advice, with the next steps; or why it stopped."""
    if job.status != "succeeded" or not job.result:
        st.error(job.error or f"The range test was {job.status}.")
        return
    if is_imported(job.config):
        st.caption(f"An imported curve: {job.config['imported']['file']}. "
                   f"{job.result['import']['note'].capitalize()}.")
    show_result(job.result, f"finder.{job.id}", lambda: pick_overlays(job), settled)
    if job.result.get("advice"):
        c = st.columns(2)
        if not is_imported(job.config):  # a curve from elsewhere has no setup to train
            ui.page_button(c[0], "Train with this setup", "app_pages/training.py",
                           key="finder.train", disabled=not settled, type="primary",
                           on_click=train_with_setup, args=(job,),
                           help="The Training page with this setup and the 1cycle advice")
        ui.page_button(c[1], "Check this advice (LR ladder)", "app_pages/check.py",
                       key="finder.check", disabled=not settled, query_params={"find": str(job.id)},
                       help="Short runs at LRs around the advice, on the LR Check page"
                       + (" (you give the setup there)" if is_imported(job.config) else ""))


run_tab, upload_tab = st.tabs(["Run a range test", "Analyse a curve from another tool"])

with run_tab:
    # One setup form with the Training page (lrlab.web.ui.setup_*, lrlab.web.task_setup): the
    # range test sweeps the network, loss and optimizer groups the run will train.
    entry = task_setup.pick_task("finder")
    put = ui.setup_header("finder") if entry is None else {}
    with st.form("finder.form", enter_to_submit=False):  # only the button starts a job
        if entry is None:
            put.update(ui.setup_fields("finder", ui.LANDSCAPE))
            st.caption("Epochs are the planned run's: the advice is sized to them.")
        else:
            args = task_setup.arg_fields("finder", entry)
            put.update(task_setup.task_fields("finder", task_setup.FIND_FIELDS))
            st.caption("Epochs (or updates) are the planned run's: the advice is sized to them. "
                       "The batch size is the task's loader's.")
        sweep = {}
        c = st.columns(5)
        for column, (name, key) in zip(c, (("start_lr", "finder.start"), ("end_lr", "finder.end"),
                                           ("num_points", "finder.points"),
                                           ("seeds", "finder.seeds"), ("mode", "finder.mode")),
                                       strict=True):
            sweep[name] = ui.option_widget(column, name, key)
        submitted = st.form_submit_button("Run range test", type="primary")
    if submitted:
        try:
            setup = (options.config_from_values(put) if entry is None
                     else task_setup.task_config(entry, args, put))
            job_id = ui.submit("find", {"setup": setup, **sweep})
        except LrlabError as exc:
            st.error(f"Not started: {ui.in_page_words(str(exc))}")
        else:
            st.query_params["job"] = str(job_id)
            job = store.get(job_id)

    if job is not None:
        ui.live_job(job, "Range test", "finder", draw_live_curve, draw_outcome)

with upload_tab:
    upload = st.file_uploader(
        "Curve file: torch-lr-finder history, fastai recorder, Lightning results, an lrlab "
        "result, or any CSV/JSON with lr and loss columns",
        type=["csv", "json", "txt"], key="finder.upload")
    c = st.columns(4)
    up_source = ui.option_widget(c[3], "source", "finder.up_source")
    up_optimizer = ui.option_widget(c[0], "optimizer.name", "finder.up_opt",
                                    label="Optimizer used")
    up_batch = ui.option_widget(c[1], "imported.batch_size", "finder.up_batch")
    up_steps = ui.option_widget(c[2], "imported.total_steps", "finder.up_steps")
    if upload is not None:
        try:
            curve = parse_curve(upload.getvalue().decode("utf-8", errors="replace"), upload.name)
            result = analyze_imported(curve, optimizer=up_optimizer, batch_size=int(up_batch),
                                      total_steps=int(up_steps), source=up_source)
        except LrlabError as exc:
            st.error(f"Could not analyse {upload.name}: {ui.in_page_words(str(exc))}")
        else:
            st.caption(f"{len(curve.lrs)} points read from {curve.source}: "
                       f"{result['import']['note']}.")
            show_result(result, "finder.upload")
            config = imported_config(upload.name, result, optimizer=up_optimizer,
                                     batch_size=int(up_batch), total_steps=int(up_steps))
            kept = state.get("finder.kept") or {}
            if st.button("Keep in Runs", key="finder.keep", disabled=kept.get("config") == config,
                         help="Store this analysis as a range test: listed in Runs, compared "
                              "with others, and checked on the LR Check page"):
                kept = {"config": config, "job": store.record("find", config, result)}
                state["finder.kept"] = kept
                st.rerun()  # the button greys out: this reading is kept
            if kept.get("config") == config:
                st.success(f"Kept as range test #{kept['job']}: "
                           f"[open it](./finder?job={kept['job']}) to check its advice.")
