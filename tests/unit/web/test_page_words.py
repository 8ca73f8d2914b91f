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
