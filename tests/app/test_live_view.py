"""The live job view (lrlab.web.ui.live_job): its outcome, once drawn by a polling tick, keeps its
page buttons disabled until the page's own run has drawn the ended job.

Why: a page switch clicked in that tick can meet the next tick's rerun, and Streamlit 1.67 then
runs the old page's fragment against the new page and leaves it blank (seen in CI: the LR Check
page empty after "Check this advice")."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from lrlab.jobs import kinds
from lrlab.store import Store


def _live_view() -> None:
    """The view of the job in the URL; `stale` hands it over as the page read it while it ran."""
    import dataclasses

    import streamlit as st

    from lrlab.web import ui

    job = ui.store().get(int(st.query_params["job"]))
    if st.query_params.get("stale"):
        job = dataclasses.replace(job, status="running", finished=None)

    def outcome(current, _follower, settled: bool) -> None:
        st.caption(f"outcome of a {current.status} job, settled={settled}")
        ui.page_button(st, "Next page", "app_pages/check.py", key="next", disabled=not settled)

    ui.live_job(job, "Range test", "view", lambda current, follower: None, outcome)


def _ended_job(store: Store) -> int:
    job_id = store.submit("find", kinds.validate("find", {"model": "small_cnn",
                                                            "dataset": "digits"}))
    store.claim("w")
    store.finish(job_id, "succeeded", result={"suggestions": {}})
    return job_id


@pytest.mark.parametrize(("stale", "settled"), [(True, False), (False, True)])
def test_page_buttons_wait_until_the_page_has_drawn_the_ended_job(
        store: Store, stale: bool, settled: bool) -> None:
    at = AppTest.from_function(_live_view, default_timeout=60)
    at.query_params["job"] = str(_ended_job(store))
    if stale:
        at.query_params["stale"] = "1"
    at.run()
    assert not at.exception, at.exception
    assert [c.value for c in at.caption] == \
        [f"outcome of a succeeded job, settled={settled}"]
    assert at.button(key="next").disabled is not settled
