"""A person's path through the live pages in a real browser, against the app started as the README
says (its own local worker included): a range test on digits grows live and ends with suggestions
and a verdict, a reload keeps the job, a long test is cancelled, a 1-epoch training run streams
its metrics (watched from a second browser session too), the Runs page opens a job by its link,
and a stale link gets a sentence, not a traceback.

Each test waits for its own job only and names it by the id the app gave it, so the tests pass in
any order and on any machine speed. Locators are scoped to one element kind (a metric, an alert,
the job's status line) so that text appearing twice on a page cannot make them ambiguous.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lrlab.store import Store

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

JOB_WAIT_MS = 120_000  # a job may queue behind another test's on the single local worker


def _fill(page, label: str, value: str) -> None:
    """Type into a number field and leave it (Tab commits the value)."""
    box = page.get_by_role("spinbutton", name=label, exact=True)
    box.fill(value)
    box.press("Tab")


def _start_range_test(page, app_url: str, fields: dict[str, str]) -> str:
    """Open the LR Finder, fill the fields (label -> value), run the test; its job id."""
    page.goto(f"{app_url}/finder")
    page.get_by_role("heading", name="LR Finder").wait_for()
    for label, value in fields.items():
        _fill(page, label, value)
    page.get_by_role("button", name="Run range test").click()
    return _submitted_job(page)


def _submitted_job(page) -> str:
    page.wait_for_url(re.compile(r"job=\d+"))
    return re.search(r"job=(\d+)", page.url).group(1)


def _status(page, title: str, job_id: str, status: str = ".*"):
    """The job's own status line, e.g. 'Range test #12 — ⏳ running' (not #120's)."""
    return page.get_by_text(re.compile(rf"^{title} #{job_id} — .*{status}"))


def _metric(page, label: str):
    return page.get_by_test_id("stMetric").filter(has_text=label)


def test_sidebar_names_the_local_worker_and_its_device(page, app_url: str) -> None:
    page.goto(app_url)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text(re.compile(r"CPU|GPU")).first.wait_for(timeout=JOB_WAIT_MS)


def test_range_test_grows_live_and_ends_with_suggestions(page, app_url: str) -> None:
    job_id = _start_range_test(page, app_url, {"Points": "30", "Batch size": "32"})
    _status(page, "Range test", job_id).wait_for()

    # the live chart appears while the test runs, or the result right away if it was quick
    page.locator(".js-plotly-plot").first.wait_for(timeout=JOB_WAIT_MS)
    _status(page, "Range test", job_id, "succeeded").wait_for(timeout=JOB_WAIT_MS)
    _metric(page, "Suggested LR").wait_for()
    alert = page.get_by_test_id("stAlertContainer").filter(
        has_text=re.compile(r"Trust: (high|medium|low)"))
    alert.wait_for()
    # drawn after the chart: wait for it rather than count what has arrived so far
    page.get_by_role("button", name="Open in Schedule Designer").first.wait_for()

    page.reload()  # the job lives in the URL: a reload shows the same finished test
    _status(page, "Range test", job_id, "succeeded").wait_for()
    _metric(page, "Suggested LR").wait_for(timeout=60_000)


def test_a_long_range_test_is_cancelled_from_the_page(page, app_url: str) -> None:
    # 10 seeds x 2000 points at batch 512 takes minutes even on a GPU: the cancel always lands
    # while it runs, whatever the machine. End LR 0.001 never diverges: only a cancel stops it.
    job_id = _start_range_test(page, app_url, {"Points": "2000", "Seeds": "10",
                                               "Batch size": "512", "End LR": "0.001"})
    _status(page, "Range test", job_id, "running").wait_for(timeout=JOB_WAIT_MS)
    page.get_by_role("button", name="Cancel", exact=True).click()
    _status(page, "Range test", job_id, "cancelled").wait_for(timeout=60_000)
    # the bar shows how far it got, not a full bar
    bar = page.get_by_test_id("stProgress").filter(has_text="cancelled at")
    bar.wait_for()
    assert not re.search(r"cancelled at 100%", bar.inner_text())


def test_a_one_epoch_training_run_streams_live_metrics(page, browser, app_url: str) -> None:
    page.goto(f"{app_url}/training")
    page.get_by_role("heading", name="Training").wait_for()
    _fill(page, "Epochs", "1")
    _fill(page, "Batch size", "64")
    page.get_by_role("button", name="Start training").click()
    job_id = _submitted_job(page)
    _status(page, "Run", job_id).wait_for()
    # the run's own chart (the form's schedule preview is a chart too), found by its legend,
    # which is drawn with the traces
    chart = page.locator(".js-plotly-plot").filter(has_text="training loss")
    chart.first.wait_for(timeout=JOB_WAIT_MS)
    # another browser session watches the same job through its URL
    other = browser.new_context(viewport={"width": 1400, "height": 1000})
    watcher = other.new_page()
    watcher.goto(page.url)
    _status(watcher, "Run", job_id).wait_for(timeout=30_000)
    watcher.locator(".js-plotly-plot").filter(has_text="training loss").first.wait_for(
        timeout=JOB_WAIT_MS)
    other.close()
    _status(page, "Run", job_id, "succeeded").wait_for(timeout=JOB_WAIT_MS)
    _metric(page, "Best val top-1").wait_for()
    page.get_by_role("button", name="Metrics (CSV)").wait_for()
    page.get_by_role("button", name="Model (checkpoint.pt)").wait_for()


def test_runs_page_opens_a_job_queued_from_the_cli(page, app_url: str, app_home: Path) -> None:
    env = {**os.environ, "LRLAB_HOME": str(app_home)}
    env.pop("LRLAB_DB", None)
    queued = subprocess.run(
        [sys.executable, "-m", "lrlab.cli", "submit", "find", "--set", "model=small_cnn",
         "--set", "dataset=digits", "--set", "num_points=10",
         "--set", "batch_size=32"],
        capture_output=True, text=True, env=env, timeout=120, check=True)
    job_id = queued.stdout.strip()
    # The Runs page shows a job as it is when the page is drawn: open it once the job is done.
    with Store(f"sqlite:///{app_home / 'lrlab.db'}") as store:
        deadline = time.monotonic() + JOB_WAIT_MS / 1000
        while not store.get(int(job_id)).is_finished:
            assert time.monotonic() < deadline, f"job {job_id} did not finish"
            time.sleep(0.2)  # condition-wait
        assert store.get(int(job_id)).status == "succeeded"
    page.goto(f"{app_url}/runs?jobs={job_id}")
    page.get_by_role("heading", name="Runs").wait_for()
    page.get_by_text(re.compile(r"Status:.*succeeded")).wait_for()
    link = page.get_by_role("link", name="Open on its own page (live view)")
    assert link.get_attribute("href").endswith(f"finder?job={job_id}")


@pytest.mark.parametrize("page_path", ["finder", "training"])
def test_a_stale_job_link_says_so_without_a_traceback(page, app_url: str, page_path: str) -> None:
    page.goto(f"{app_url}/{page_path}?job=999999")
    alert = page.get_by_test_id("stAlertContainer").filter(
        has_text="job 999999 does not exist; it may have been deleted")
    alert.wait_for()
    page.wait_for_url(lambda url: "job=" not in url)  # the dead link is dropped...
    page.wait_for_function("document.querySelector('[data-testid=stApp]')"
                           ".getAttribute('data-test-script-state') === 'notRunning'")
    alert.wait_for()  # ...and the sentence stays after the rerun, at the top, above the form
    heading_box, alert_box = page.get_by_role("heading", level=1).bounding_box(), \
        alert.bounding_box()
    assert alert_box["y"] < 400 and alert_box["y"] > heading_box["y"]
    assert page.get_by_test_id("stException").count() == 0
    assert "Traceback" not in page.content()


# What is cut off in the main area: an element past the window's right edge, a button or a text
# whose words overflow their box (shown as "Keep for co…"), a table wider than its frame.
CUT_OFF = """() => {
  const width = document.documentElement.clientWidth, out = [];
  const name = (el) => `${el.tagName}.${el.className} "${el.innerText || ''}"`.slice(0, 120);
  for (const el of document.querySelectorAll('[data-testid=stMain] *')) {
    const box = el.getBoundingClientRect(), style = getComputedStyle(el);
    if (box.width === 0 || style.visibility === 'hidden') continue;
    if (box.right > width + 1) out.push('past the edge: ' + name(el));
    const words = el.innerText && (el.tagName === 'BUTTON' || style.textOverflow === 'ellipsis');
    if (words && el.scrollWidth > el.clientWidth + 1) out.push('words cut: ' + name(el));
  }
  document.querySelectorAll('[data-testid=stMain] .dvn-scroller').forEach((grid, i) => {
    if (grid.scrollWidth > grid.clientWidth + 1) {
      out.push(`table ${i + 1} wider than its frame: ${grid.scrollWidth} > ${grid.clientWidth} px`);
    }
  });
  return out;
}"""


def _nothing_cut_off(page, url: str, ready: str) -> None:
    """Open url at 1280 px, wait for the text `ready`, and find nothing cut off there."""
    page.goto(url)
    page.get_by_text(ready).first.wait_for(timeout=60_000)
    page.wait_for_function("window.__lrlabRuns > 0 && document.querySelector('[data-testid=stApp]')"
                           ".getAttribute('data-test-script-state') === 'notRunning'"
                           " && !document.querySelector('[data-testid=stSkeleton]')")
    assert page.evaluate(CUT_OFF) == [], url


def test_the_whole_chain_find_check_train_and_back(page, app_url: str) -> None:
    """Range test -> check (3 points, 1 epoch) -> train with the best -> the run names both;
    then each page with its result at 1280 px, nothing cut off."""
    find_id = _start_range_test(page, app_url, {"Points": "30", "Batch size": "32",
                                                "Epochs": "2"})
    _status(page, "Range test", find_id, "succeeded").wait_for(timeout=JOB_WAIT_MS)

    page.get_by_role("button", name="Check this advice (LR ladder)").click()
    page.get_by_role("heading", name="LR Check").wait_for()
    page.get_by_text(f"Range test #{find_id}").wait_for()
    _fill(page, "Points", "3")
    _fill(page, "Epochs per point", "1")
    page.get_by_role("button", name="Run the ladder").click()
    check_id = _submitted_job(page)
    _status(page, "LR check", check_id, "succeeded").wait_for(timeout=3 * JOB_WAIT_MS)
    page.get_by_test_id("stAlertContainer").filter(has_text="of 3 points").wait_for()

    page.get_by_role("button", name=re.compile(r"^Train with the best LR")).click()
    page.get_by_role("heading", name="Training").wait_for()
    page.get_by_text(f"Setup from range test #{find_id} and LR check #{check_id}.").wait_for()
    page.get_by_role("button", name="Start training").click()
    run_id = _submitted_job(page)
    _status(page, "Run", run_id).wait_for(timeout=JOB_WAIT_MS)
    page.reload()  # the run's origin is stored with it, not only in this session
    _status(page, "Run", run_id).wait_for(timeout=60_000)
    page.get_by_role("button", name=f"From LR check #{check_id}").wait_for()
    page.get_by_role("button", name=f"From range test #{find_id}").click()
    _status(page, "Range test", find_id, "succeeded").wait_for(timeout=60_000)

    page.set_viewport_size({"width": 1280, "height": 900})
    _nothing_cut_off(page, f"{app_url}/finder?job={find_id}", "Schedule advice")
    _nothing_cut_off(page, f"{app_url}/check?job={check_id}", "of 3 points")
    _nothing_cut_off(page, f"{app_url}/training", "Start training")
    _nothing_cut_off(page, f"{app_url}/runs?jobs={find_id},{check_id},{run_id}", "Results")
    _nothing_cut_off(page, f"{app_url}/designer", "Schedule Designer")


@pytest.mark.parametrize(("path", "heading", "field", "button", "kind"), [
    ("finder", "LR Finder", "Points", "Run range test", "find"),
    ("training", "Training", "Epochs", "Start training", "train"),
])
def test_enter_in_a_field_starts_nothing(page, app_url: str, app_home: Path, path: str,
                                         heading: str, field: str, button: str,
                                         kind: str) -> None:
    """Pressing Enter while editing a field queues no job; only the button does, with the value
    typed. (A form submitted on Enter once queued a range test while a width was being typed.)"""
    with Store(f"sqlite:///{app_home / 'lrlab.db'}") as store:
        before = {j.id for j in store.list_jobs(None)}
        page.goto(f"{app_url}/{path}")
        page.get_by_role("heading", name=heading).wait_for()
        box = page.get_by_role("spinbutton", name=field, exact=True)
        box.fill("7")
        box.press("Enter")
        page.get_by_role("button", name=button).click()
        job_id = int(_submitted_job(page))
        new = [j for j in store.list_jobs(None) if j.id not in before and j.kind == kind]
        assert [j.id for j in new] == [job_id]  # one job, the button's
        config = store.get(job_id).config
        value = config.get("num_points") if kind == "find" else config["epochs"]
        assert value == 7
        store.request_cancel(job_id)
