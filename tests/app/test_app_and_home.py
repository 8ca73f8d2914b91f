"""The app's entry under AppTest: navigation lands on Home, which links every page, and the
sidebar reports the workers (here: none, since LRLAB_LOCAL_WORKER=0 keeps one from starting)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def test_home_links_every_page_and_the_sidebar_reports_workers(
    lrlab_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LRLAB_LOCAL_WORKER", "0")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "lrlab"
    links = [link.proto.label for link in at.get("page_link")]
    # in the order of work: find, check, train; then the Designer and Runs
    assert links == ["**LR Finder**", "**LR Check**", "**Training**", "**Schedule Designer**",
                     "**Runs**"]
    sidebar = [c.value for c in at.sidebar.caption]
    assert any("No live worker" in text and "lrlab worker" in text for text in sidebar)
