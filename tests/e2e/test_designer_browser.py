"""A person's path through the Schedule Designer in a real browser: warmup + cosine, download."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lrlab.schedules import Schedule
from lrlab.schedules.importers import parse_foreign

pytestmark = pytest.mark.e2e


def _set(page, rerun, label: str, value: str) -> None:
    box = page.get_by_role("spinbutton", name=label, exact=True)
    box.fill(value)
    rerun(page, lambda: box.press("Enter"))


def test_build_warmup_cosine_and_download_its_config(page, app_url: str, tmp_path: Path,
                                                    rerun) -> None:
    page.goto(f"{app_url}/designer")
    page.get_by_role("heading", name="Schedule Designer").wait_for()
    page.locator(".js-plotly-plot").first.wait_for()

    _set(page, rerun, "Base LR", "0.4")
    _set(page, rerun, "Total steps", "2000")

    page.get_by_text("Warmup and hold", exact=True).click()
    warmup = page.get_by_role("checkbox", name="Warmup", exact=True)
    rerun(page, lambda: warmup.check(force=True))
    _set(page, rerun, "Warmup steps", "150")

    with page.expect_download() as info:
        page.get_by_role("button", name="Download lrlab JSON").click()
    target = tmp_path / "schedule.json"
    info.value.save_as(target)

    config = json.loads(target.read_text())
    assert config["format"] == "lrlab.schedule/1"
    assert config["base_lr"] == pytest.approx(0.4)
    assert config["total_steps"] == 2000
    assert config["warmup"]["steps"] == 150
    assert config["main"]["kind"] == "cosine"
    lr = Schedule.from_dict(config).lr(np.arange(2000))
    assert lr[150] == pytest.approx(0.4) and lr[0] == 0.0

    # The same schedule for Hugging Face and Keras: labelled before download, and read back.
    for title, source, expect in (("Hugging Face transformers", "hf", "lr_scheduler_type="),
                                  ("Keras 3", "keras", '"class_name": "CosineDecay"')):
        _choose(page, rerun, "Export to", title)
        verdict = page.get_by_test_id("stAlertContentSuccess").filter(has_text="exact: equal")
        verdict.wait_for()
        with page.expect_download() as info:
            page.get_by_role("button", name=f"Download {title}").click()
        saved = tmp_path / info.value.suggested_filename
        info.value.save_as(saved)
        text = saved.read_text()
        assert expect in text and "lrlab measured it exact" in text
        back = Schedule.from_dict(parse_foreign(text, source, name=saved.name))
        np.testing.assert_allclose(back.lr(np.arange(2000)), lr, rtol=1e-12)

    page.screenshot(path=str(tmp_path / "designer.png"), full_page=True)


def _choose(page, rerun, label: str, option: str) -> None:
    """Pick an option of a Streamlit selectbox by its label."""
    page.get_by_role("combobox", name=label).click()
    rerun(page, lambda: page.get_by_role("option", name=option, exact=True).click())
