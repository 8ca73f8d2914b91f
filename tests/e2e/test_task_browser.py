"""A registered task of your own in a real browser, against the app started as the README says
with the tabular example registered (LRLAB_TASKS, read by the app and its worker alike): picked
on the LR Finder with an argument set in its widget, range-tested, its advice checked on a
ladder ranked by the task's own metric, and the best LR trained, the run's cards and charts
named by that metric."""

from __future__ import annotations

import re

import pytest

from lrlab.store import Store

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

JOB_WAIT_MS = 120_000
TASK = "Breast-cancer MLP (tabular)"  # the example's declared title (examples/tabular.py)


def _fill(page, label: str, value: str) -> None:
    box = page.get_by_role("spinbutton", name=label, exact=True)
    box.fill(value)
    box.press("Tab")


def _job_id(page) -> str:
    page.wait_for_url(re.compile(r"job=\d+"))
    return re.search(r"job=(\d+)", page.url).group(1)


def _status(page, title: str, job_id: str, status: str = ".*"):
    return page.get_by_text(re.compile(rf"^{title} #{job_id} — .*{status}"))


def test_a_registered_task_through_find_check_and_train(page, app_url: str, rerun,
                                                         app_home) -> None:
    page.goto(f"{app_url}/finder")
    page.get_by_role("heading", name="LR Finder").wait_for()
    page.get_by_role("combobox", name="What to train").click()
    rerun(page, lambda: page.get_by_role("option", name=TASK, exact=True).click())
    page.get_by_text("A two-layer MLP tells malignant from benign").wait_for()
    _fill(page, "hidden", "32")  # the factory's argument, as its widget
    _fill(page, "Points", "30")
    page.get_by_role("button", name="Run range test").click()
    find_id = _job_id(page)
    _status(page, "Range test", find_id, "succeeded").wait_for(timeout=JOB_WAIT_MS)
    page.get_by_text("Schedule advice").wait_for()

    page.get_by_role("button", name="Check this advice (LR ladder)").click()
    page.get_by_role("heading", name="LR Check").wait_for()
    _fill(page, "Points", "3")
    page.get_by_role("button", name="Run the ladder").click()
    check_id = _job_id(page)
    _status(page, "LR check", check_id, "succeeded").wait_for(timeout=3 * JOB_WAIT_MS)
    page.get_by_test_id("stAlertContainer").filter(has_text="val_accuracy").wait_for()

    page.get_by_role("button", name=re.compile(r"^Train with the best LR")).click()
    page.get_by_role("heading", name="Training").wait_for()
    page.get_by_text(f"Setup from range test #{find_id} and LR check #{check_id}.").wait_for()
    page.get_by_text(re.compile(r"^This run trains this schedule: \d+ updates")).wait_for()
    assert page.get_by_role("spinbutton", name="hidden", exact=True).input_value() == "32"
    page.get_by_role("button", name="Start training").click()
    run_id = _job_id(page)
    _status(page, "Run", run_id, "succeeded").wait_for(timeout=JOB_WAIT_MS)
    page.get_by_test_id("stMetric").filter(has_text="Best val_accuracy").wait_for()
    page.locator(".annotation-text", has_text=re.compile(r"^val_accuracy$")).first.wait_for()

    with Store(f"sqlite:///{app_home / 'lrlab.db'}") as store:
        run = store.get(int(run_id))
    assert run.config["task"] == {"spec": "examples.tabular:build", "args": {"hidden": 32}}
    assert run.config["origin"] == {"range_test": int(find_id), "check": int(check_id)}
    assert run.result["summary"]["objective"] == "val_accuracy"
