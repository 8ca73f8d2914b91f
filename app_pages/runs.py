"""Runs: every job with its status and results; open one, compare several, cancel or delete."""

from __future__ import annotations

import streamlit as st

from lrlab.core.errors import LrlabError
from lrlab.core.tracking_targets import parse_target
from lrlab.jobs import kinds
from lrlab.tasks.setups import is_task
from lrlab.trackers import LOGGED_KINDS, export_run
from lrlab.web import comparison, ui
from lrlab.web.formats import status_line
from lrlab.web.plots import range_test_result_figure, training_figure

store = ui.store()
st.title("Runs")
st.caption("Every range test, LR check and training run, newest first. Select one to open "
           "it, several to compare them.")

kind_filter = st.segmented_control("Show", ["all", *kinds.listed()], default="all",
                                   key="runs.kind")
one_kind = None if kind_filter in (None, "all") else kind_filter
jobs = comparison.listed_jobs(store, one_kind)
if not jobs:
    st.info("No runs yet. Start one on the LR Finder or Training page.")
    st.stop()

table, formats = ui.shown_table(comparison.jobs_table(jobs, one_kind))
selection = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="multi-row",
                         key="runs.table", column_config=formats)
picked = [jobs[i] for i in selection.selection.rows]
if picked:
    st.query_params["jobs"] = ",".join(str(j.id) for j in picked)
else:  # a reload or a shared link: the selection lives in the URL
    wanted = ui.jobs_in_url({j.id for j in jobs})
    picked = [j for j in jobs if j.id in wanted]
if not picked:
    st.query_params.pop("jobs", None)
    st.stop()
picked = [store.get(j.id) for j in picked]  # the table holds headlines; these need curves too

actions = st.columns([1, 1, 2, 2])  # wide enough at 1280 px for the export labels
if actions[0].button("Cancel", disabled=not any(not j.is_finished for j in picked),
                     help="Ask the worker to stop the selected running or queued jobs."):
    for job in picked:
        if not job.is_finished:
            store.request_cancel(job.id)
    st.rerun()
if actions[1].button("Delete", disabled=not all(j.is_finished for j in picked),
                     help="Delete the selected finished jobs and their metrics."):
    st.session_state["runs.confirm_delete"] = [j.id for j in picked]
exportable = len(picked) == 1 and picked[0].is_finished and picked[0].kind in LOGGED_KINDS
for column, tracker in zip(actions[2:], ui.TRACKER_TITLES.items(), strict=True):
    name, title = tracker
    if column.button(f"Export to {title}", disabled=not exportable, key=f"runs.export.{name}",
                     help=f"Write the selected finished job to {title} (its default place) as "
                          "live logging would have: `lrlab export-run ID --to " + name + "`"):
        try:
            written = export_run(store, picked[0].id, name)
        except LrlabError as exc:
            st.error(f"Not exported: {exc}")
        else:
            st.success(f"Job {', '.join(f'#{i}' for i in written)} written to {title} "
                       f"({parse_target(name).location()}).")
if st.session_state.get("runs.confirm_delete"):
    ids = st.session_state["runs.confirm_delete"]
    st.warning(f"Delete {len(ids)} run(s) and their metrics? This cannot be undone.")
    if st.button("Yes, delete", type="primary"):
        try:
            for job_id in ids:
                store.delete(job_id)
        except LrlabError as exc:
            st.error(str(exc))
        st.session_state.pop("runs.confirm_delete")
        st.rerun()

if len(picked) == 1:
    job = picked[0]
    st.subheader(comparison.run_label(job))
    page = kinds.kind_of(job.kind).page
    if page:  # a relative link: works under any base URL path
        st.markdown(f"[Open on its own page (live view)](./{page}?job={job.id})")
    st.markdown(f"**Status:** {status_line(job.status)} · {job.message or ''}")

follow = {job.id: ui.follower(job.id) for job in picked}
for job in picked:
    follow[job.id].poll(store)

trains = [j for j in picked if j.kind == "train"]
finds = [j for j in picked if j.kind == "find" and j.result]
if trains:
    series = [(comparison.run_label(j), follow[j.id].all_series()) for j in trains]
    st.plotly_chart(training_figure(series, tasks=any(is_task(j.config) for j in trains)),
                    key="runs.train_chart")
if finds:
    first, rest = finds[0], finds[1:]
    overlays = comparison.range_test_overlays(rest)
    st.plotly_chart(range_test_result_figure(first.result, overlays=overlays),
                    key="runs.find_chart")

st.markdown("**Results**")
st.dataframe(comparison.results_table(picked), hide_index=True)
for label, sentence, is_error in comparison.run_notes(picked):
    (st.error if is_error else st.caption)(f"**{label}:** {sentence}")
if len(picked) > 1:
    st.markdown("**Settings that differ**")
    diff = comparison.config_diff({comparison.run_label(j): j.config for j in picked})
    if diff:
        st.dataframe(diff, hide_index=True)
    else:
        st.caption("The selected runs have identical settings.")
else:
    with st.expander("Config"):
        st.json(picked[0].config)
