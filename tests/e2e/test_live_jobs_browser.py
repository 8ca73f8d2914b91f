"""A person's path through the live pages in a real browser, against the app started as the README
says (its own local worker included): a range test on digits grows live and ends with suggestions
and a verdict, a reload keeps the job, a long test is cancelled, a 1-epoch training run streams
its metrics (watched from a second browser session too), and the Runs page lists and opens them.

The tests share one app and run in file order (each job queues behind the previous one on the
single local worker, so a test waits for its own job only).
"""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

JOB_WAIT_MS = 120_000  # a cold worker imports torch and spawns a child before the first step


def _fill(page, label: str, value: str) -> None:
    """Type into a form's number field. Not Enter: in a Streamlit form, Enter submits it."""
    box = page.get_by_role("spinbutton", name=label, exact=True)
    box.fill(value)
    box.press("Tab")


def test_sidebar_names_the_local_worker_and_its_device(page, app_url: str) -> None:
    page.goto(app_url)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text(re.compile(r"CPU|GPU")).first.wait_for(timeout=JOB_WAIT_MS)


def test_range_test_grows_live_and_ends_with_suggestions(page, app_url: str) -> None:
    page.goto(f"{app_url}/finder")
    page.get_by_role("heading", name="LR Finder").wait_for()
    _fill(page, "Points", "30")
    _fill(page, "Batch size", "32")
    page.get_by_role("button", name="Run range test").click()
    page.wait_for_url(re.compile(r"job=\d+"))
    job_id = re.search(r"job=(\d+)", page.url).group(1)
    page.get_by_text(f"Range test #{job_id}").wait_for()

    # the live chart appears while the test runs, or the result right away if it was quick
    page.locator(".js-plotly-plot").first.wait_for(timeout=JOB_WAIT_MS)
    page.get_by_text("Suggested LR").wait_for(timeout=JOB_WAIT_MS)
    page.get_by_text(re.compile(r"Trust: (high|medium|low)")).wait_for()
    assert page.get_by_role("button", name="Open in Schedule Designer").count() >= 1

    page.reload()  # the job lives in the URL: a reload shows the same finished test
    page.get_by_text(f"Range test #{job_id}").wait_for()
    page.get_by_text("Suggested LR").wait_for(timeout=60_000)


def test_a_long_range_test_is_cancelled_from_the_page(page, app_url: str) -> None:
    page.goto(f"{app_url}/finder")
    page.get_by_role("heading", name="LR Finder").wait_for()
    _fill(page, "Points", "2000")
    _fill(page, "End LR", "0.001")  # never diverges: only a cancel stops it early
    page.get_by_role("button", name="Run range test").click()
    page.wait_for_url(re.compile(r"job=\d+"))
    job_id = re.search(r"job=(\d+)", page.url).group(1)
    page.get_by_text(re.compile(rf"Range test #{job_id} — .*running")).wait_for(
        timeout=JOB_WAIT_MS)
    page.get_by_role("button", name="Cancel").click()
    page.get_by_text(re.compile(rf"Range test #{job_id} — .*cancelled")).wait_for(
        timeout=60_000)


def test_a_one_epoch_training_run_streams_live_metrics(page, browser, app_url: str) -> None:
    page.goto(f"{app_url}/training")
    page.get_by_role("heading", name="Training").wait_for()
    _fill(page, "Epochs", "1")
    _fill(page, "Batch size", "64")
    page.get_by_role("button", name="Start training").click()
    page.wait_for_url(re.compile(r"job=\d+"))
    job_id = re.search(r"job=(\d+)", page.url).group(1)
    page.get_by_text(re.compile(rf"Run #{job_id} — ")).wait_for()
    chart = page.locator(".js-plotly-plot").first
    chart.wait_for(timeout=JOB_WAIT_MS)
    assert chart.get_by_text("training loss").count() >= 1
    # another browser session watches the same job through its URL
    other = browser.new_context(viewport={"width": 1400, "height": 1000})
    watcher = other.new_page()
    watcher.goto(page.url)
    watcher.get_by_text(re.compile(rf"Run #{job_id} — ")).wait_for(timeout=30_000)
    watcher.locator(".js-plotly-plot").first.wait_for(timeout=JOB_WAIT_MS)
    other.close()
    page.get_by_text("Best val top-1").wait_for(timeout=JOB_WAIT_MS)
    page.get_by_text(re.compile(rf"Run #{job_id} — .*succeeded")).wait_for()
    page.get_by_role("button", name="Metrics (CSV)").wait_for()
    page.get_by_role("button", name="Model (checkpoint.pt)").wait_for()


def test_runs_page_lists_the_jobs_and_opens_one(page, app_url: str) -> None:
    page.goto(f"{app_url}/runs")
    page.get_by_role("heading", name="Runs").wait_for()
    table = page.get_by_test_id("stDataFrame")
    table.wait_for()
    page.goto(f"{app_url}/runs?jobs=1")
    page.get_by_text(re.compile(r"Status:.*succeeded")).wait_for(timeout=60_000)
    page.get_by_role("link", name="Open on its own page (live view)").wait_for()
