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
    from lrlab.web.ui import shown_table

    row = {"best val top-1": 0.9889, "peak LR": 0.123456, "wall time (s)": 12.1111,
           "images/s": 1234.56, "final val loss": 0.123456, "status": "succeeded"}
    rows, config = shown_table([row])
    formats = {k: v["type_config"]["format"] for k, v in config.items()}
    assert formats == {"best val top-1": "%.2f %%", "peak LR": "%.3g", "wall time (s)": "%.1f",
                       "images/s": "%.0f", "final val loss": "%.4f"}
    assert rows[0]["best val top-1"] == pytest.approx(98.89)
    assert {k: formats[k] % v for k, v in rows[0].items() if k in formats} == {
        "best val top-1": "98.89 %", "peak LR": "0.123", "wall time (s)": "12.1",
        "images/s": "1235", "final val loss": "0.1235"}


def test_a_column_with_gaps_is_text_in_the_same_format_with_empty_cells() -> None:
    """Streamlit draws a missing number as a grey "None"; a column with gaps is shown as text
    in the quantity's format instead, the gaps empty, and text columns get empty cells too."""
    from lrlab.web.ui import shown_table

    rows, config = shown_table([{"final top-1": 0.5, "id": 1, "error": "boom"},
                                {"final top-1": None, "id": 2}])
    assert rows == [{"final top-1": "50.00 %", "id": 1, "error": "boom"},
                    {"final top-1": "", "id": 2, "error": ""}]
    assert config == {}
