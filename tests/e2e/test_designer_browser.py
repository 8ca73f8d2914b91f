"""A person's path through the Schedule Designer in a real browser: warmup + cosine, download."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lrlab.schedules import Schedule

pytestmark = pytest.mark.e2e


def test_build_warmup_cosine_and_download_its_config(page, app_url: str, tmp_path: Path,
                                                    settle) -> None:
    page.goto(f"{app_url}/designer")
    page.get_by_role("heading", name="Schedule Designer").wait_for()
    page.locator(".js-plotly-plot").first.wait_for()

    page.get_by_role("spinbutton", name="Base LR", exact=True).fill("0.4")
    page.get_by_role("spinbutton", name="Base LR", exact=True).press("Enter")
    settle(page)
    page.get_by_role("spinbutton", name="Total steps", exact=True).fill("2000")
    page.get_by_role("spinbutton", name="Total steps", exact=True).press("Enter")
    settle(page)

    page.get_by_text("Warmup and hold").click()
    page.get_by_role("checkbox", name="Warmup", exact=True).check(force=True)
    settle(page)
    page.get_by_role("spinbutton", name="Warmup steps", exact=True).fill("150")
    page.get_by_role("spinbutton", name="Warmup steps", exact=True).press("Enter")
    settle(page)

    with page.expect_download() as info:
        page.get_by_role("button", name="Download JSON").click()
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

    page.screenshot(path=str(tmp_path / "designer.png"), full_page=True)
