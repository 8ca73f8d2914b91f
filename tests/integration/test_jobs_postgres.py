"""The same store and worker on PostgreSQL (SKIP LOCKED claims, strict JSON, RETURNING).

Runs only when LRLAB_TEST_POSTGRES_URL names a reachable server, e.g.
postgresql+psycopg://lrlab@127.0.0.1:55432/lrlab_test; the test drops and recreates lrlab's tables
in that database. Skips cleanly otherwise.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobs_helpers import WorkerProcess, wait_finished, wait_for

from lrlab.errors import LrlabError
from lrlab.jobs.store import MetricPoint, Store, metadata

pytestmark = pytest.mark.timeout(240)
URL = os.environ.get("LRLAB_TEST_POSTGRES_URL", "")


@pytest.fixture
def store() -> Iterator[Store]:
    if not URL:
        pytest.skip("LRLAB_TEST_POSTGRES_URL is not set")
    pytest.importorskip("psycopg")
    try:
        s = Store(URL)
    except LrlabError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    with s._write() as conn:
        metadata.drop_all(conn)
    s.close()
    with Store(URL) as fresh:
        yield fresh


def test_queue_cursor_cancel_and_reaping_on_postgres(store: Store) -> None:
    a, b = store.submit("selftest", {"steps": 2}), store.submit("selftest", {"steps": 3})
    assert store.claim("w1").id == a
    assert store.append_metrics(a, [MetricPoint("step", 0, "loss", math.nan, 0.0)]) == 1
    assert store.append_metrics(a, [MetricPoint("step", 1, "loss", 0.5, 0.0)]) == 2
    assert [m.seq for m in store.metrics_since(a, 1)] == [2]
    assert math.isnan(store.metrics_since(a)[0].value)
    assert store.heartbeat(a, "w1") == (True, False)
    assert store.request_cancel(b) == "cancelled"
    assert store.claim("w2") is None
    assert store.finish(a, "succeeded", result={"loss": math.inf}, worker_id="w1")
    assert store.get(a).result == {"loss": None}
    c = store.submit("selftest", {})
    store.claim("w3")
    assert store.fail_stale(-1.0) == [c]
    assert "worker w3 stopped heartbeating" in store.get(c).error


def test_concurrent_claims_skip_locked_rows_and_never_share_a_job(store: Store) -> None:
    ids = {store.submit("selftest", {}) for _ in range(60)}
    taken: list[int] = []
    lock = threading.Lock()

    def drain(name: str) -> None:
        with Store(URL) as mine:
            while (job := mine.claim(name)) is not None:
                with lock:
                    taken.append(job.id)

    threads = [threading.Thread(target=drain, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == sorted(ids)


def test_a_worker_runs_a_job_from_postgres(store: Store, tmp_path: Path) -> None:
    worker = WorkerProcess(URL, tmp_path, tmp_path / "worker.log")
    try:
        job_id = store.submit("selftest", {"steps": 4})
        job = wait_finished(store, job_id)
        assert job.status == "succeeded", job.error
        assert len(store.metrics_since(job_id)) == 8
        wait_for(store.live_workers, "the worker to be listed")
    finally:
        assert worker.stop() == 0
