"""Messages in a page's own words: the library names fields by their config keys and the CLI by
its flags; a page shows the labels its widgets carry."""

from __future__ import annotations

import pytest

from lrlab.web.ui import in_page_words


@pytest.mark.parametrize(("message", "shown"), [
    ("end_lr: expected a number above start_lr=1, got 0.5",
     "End LR: expected a number above Start LR=1, got 0.5"),
    ("setup.nproc: a range test runs in one process",
     "Processes: a range test runs in one process"),
    ("optimizer.momentum: expected a number in [0, 1), got 2",
     "Momentum / β1: expected a number in [0, 1), got 2"),
    ("schedule: 10 steps but the run makes 55; choose --schedule-fit stretch or keep",
     "schedule: 10 steps but the run makes 55; choose “If the schedule's length differs” stretch "
     "or keep"),
    ("the ranks ended without a result", "the ranks ended without a result"),
])
def test_field_keys_and_flags_become_labels(message: str, shown: str) -> None:
    assert in_page_words(message) == shown


def test_each_quantity_has_one_format_in_every_table() -> None:
    """Top-1 as a percent and an LR to three digits wherever a table shows them, so the Runs
    results no longer read 0.9889 where the run list reads 98.89 %."""
    from lrlab.web.ui import number_formats

    formats = {k: v["type_config"]["format"] for k, v in number_formats(
        ["best val top-1", "final top-1", "best LR", "peak LR", "consensus LR", "wall time (s)",
         "images/s", "final val loss", "status", "run"]).items()}
    assert formats == {"best val top-1": "percent", "final top-1": "percent", "best LR": "%.3g",
                       "peak LR": "%.3g", "consensus LR": "%.3g", "wall time (s)": "%.1f",
                       "images/s": "%.0f", "final val loss": "%.4f"}
