"""A fresh SQLite store opened by several openers at once (the app and its worker, a notebook
and a page): every one of them opens it, none is told the database is locked."""

from __future__ import annotations

import threading
from pathlib import Path

from lrlab.store import Store


def test_a_fresh_store_opened_at_once_by_four(tmp_path: Path) -> None:
    errors: list[str] = []
    for round_ in range(30):  # without the retry, about one round in six failed
        url = f"sqlite:///{tmp_path / f'jobs-{round_}.db'}"

        def open_it(url: str = url) -> None:
            try:
                with Store(url) as store:
                    store.list_jobs(1)
            except Exception as exc:  # what the test looks for
                errors.append(repr(exc))

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
