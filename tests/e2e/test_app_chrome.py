"""What the app shows around its pages, in a real browser: Home in the order of work, and none of
Streamlit's developer chrome (its Deploy button) for the people who use lrlab."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_home_lists_the_pages_in_the_order_of_work_and_no_deploy_button(page,
                                                                         app_url: str) -> None:
    page.goto(app_url)
    page.get_by_role("heading", name="lrlab").wait_for()
    page.get_by_test_id("stPageLink").first.wait_for()
    links = page.get_by_test_id("stPageLink").all_inner_texts()  # "icon\n\nTitle"
    assert [text.split("\n")[-1].strip() for text in links] == [
        "LR Finder", "LR Check", "Training", "Schedule Designer", "Runs"]
    page.get_by_test_id("stToolbar").wait_for(state="attached")
    assert page.get_by_role("button", name="Deploy").count() == 0
    assert page.get_by_test_id("stAppDeployButton").count() == 0
