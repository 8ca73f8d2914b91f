"""Running one page under AppTest, as every page test does."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parents[2] / "app_pages"


def run_page(name: str, query: dict[str, str] | None = None) -> AppTest:
    """Run app_pages/<name> once with the given URL query; no exception may reach the page."""
    at = AppTest.from_file(str(PAGES / name), default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at
