"""Streamlit glue shared by the pages: the cached store, the worker status, the job in the URL.

Only wiring lives here; what a page shows is computed by library functions that are tested
without a browser.
"""

from __future__ import annotations

import streamlit as st

from lrlab.jobs.local import WorkerStatus, ensure_local_worker
from lrlab.jobs.store import Store, resolve_db_url
from lrlab.monitor import JobFollower

STATUS_ICONS = {"queued": "🕒", "running": "⏳", "succeeded": "✅", "failed": "❌",
                "cancelled": "⏹️"}


WORKER_PANEL_REFRESH_S = 3.0


@st.cache_resource(show_spinner=False)
def _store(url: str) -> Store:
    return Store(url)


def store() -> Store:
    """One Store per server process and database URL (LRLAB_DB, else the SQLite file)."""
    return _store(resolve_db_url(None))


def worker_status() -> WorkerStatus:
    """Live workers; starts a local one (once per server) when there is none."""
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


def job_in_url(param: str = "job") -> int | None:
    """The job id a page shows, from the URL, so a reload or a shared link shows the same job."""
    raw = st.query_params.get(param)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def jobs_in_url(param: str = "jobs") -> list[int]:
    """Several job ids from the URL (`?jobs=3,5`), so a comparison can be shared as a link."""
    raw = st.query_params.get(param, "")
    return [int(p) for p in raw.split(",") if p.strip().isdigit()]


def follower(job_id: int) -> JobFollower:
    """This session's follower of a job (its cursor and the metrics seen so far)."""
    key = f"follower.{job_id}"
    if key not in st.session_state:
        st.session_state[key] = JobFollower(job_id)
    return st.session_state[key]


def status_line(status: str) -> str:
    return f"{STATUS_ICONS.get(status, '')} {status}"
