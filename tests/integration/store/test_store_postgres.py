"""The same store and worker on PostgreSQL (SKIP LOCKED claims, strict JSON, summary lists).

Runs when LRLAB_TEST_POSTGRES_URL names a reachable server, e.g.
postgresql+psycopg://lrlab@127.0.0.1:55432/lrlab_test. CI starts a throwaway cluster for it
(.ci/postgres); elsewhere the tests skip. They drop and recreate lrlab's tables, so they refuse a
database whose name does not say it is for tests.
"""

from __future__ import annotations

import collections
import math
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobs_helpers import WorkerProcess, wait_finished, wait_for
from sqlalchemy.engine import make_url

from lrlab.core.errors import LrlabError
from lrlab.jobs import kinds
from lrlab.store import MetricPoint, Store, metadata

pytestmark = pytest.mark.timeout(240)
URL = os.environ.get("LRLAB_TEST_POSTGRES_URL", "")


@pytest.fixture
def store() -> Iterator[Store]:
    if not URL:
        pytest.skip("LRLAB_TEST_POSTGRES_URL is not set")
    database = make_url(URL).database or ""
    if not (database.endswith("_test") or database.startswith("test_")):
        pytest.fail(f"LRLAB_TEST_POSTGRES_URL names database {database!r}: the tests drop its "
                    "tables, so it must be a test database (name ending in _test or starting "
                    "with test_)")
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


def test_workers_sharing_postgres_run_a_registered_tasks_runs(store: Store,
                                                              tmp_path: Path) -> None:
    """A task shipped on PYTHONPATH, registered with two workers by LRLAB_TASKS: its runs are
    split between them."""
    repo = Path(__file__).resolve().parents[3]
    env = {"PYTHONPATH": str(repo), "LRLAB_TASKS": "examples.tabular:build"}
    workers = [WorkerProcess(URL, tmp_path, tmp_path / f"t{i}.log", env=env) for i in range(2)]
    config = {"task": {"spec": "examples.tabular:build"}, "epochs": 1,
              "optimizer": {"name": "adam", "weight_decay": 0.0}}
    try:
        ids = [kinds.submit(store, "train", {**config, "seed": k}) for k in range(4)]
        for job_id in ids:
            job = wait_finished(store, job_id)
            assert job.status == "succeeded", job.error
            assert job.result["summary"]["objective"] == "val_accuracy"
    finally:
        assert [w.stop() for w in workers] == [0, 0]


def test_three_workers_sharing_the_database_run_each_job_exactly_once(
    store: Store, tmp_path: Path
) -> None:
    ids = [store.submit("selftest", {"steps": 2}) for _ in range(30)]
    workers = [WorkerProcess(URL, tmp_path, tmp_path / f"w{i}.log") for i in range(3)]
    try:
        for job_id in ids:
            assert wait_finished(store, job_id).status == "succeeded"
    finally:
        codes = [w.stop() for w in workers]
    assert codes == [0, 0, 0]
    starts = collections.Counter(
        int(m) for w in workers for m in re.findall(r"job (\d+) \(selftest\): started", w.log())
    )
    assert sorted(starts) == ids and set(starts.values()) == {1}
    assert all(len(store.metrics_since(i)) == 4 for i in ids)


def test_lists_read_headlines_in_the_database_and_a_dead_worker_fails_its_job(
    store: Store,
) -> None:
    train = store.submit("train", {"model": "small_cnn"})
    store.claim("w1")
    store.finish(train, "succeeded", result={"summary": {"best_val_top1": 0.97},
                                             "epochs": [{"val_top1": 0.97}]})
    find = store.submit("find", {"model": "small_cnn"})
    store.claim("w1")
    store.finish(find, "succeeded", result={"suggestions": {"consensus": 0.02},
                                            "trust": {"level": "high"}, "lr": [1.0]})
    selftest = store.submit("selftest", {})
    listed = store.list_jobs(headlines=kinds.headline_paths(), exclude_kinds=("selftest",))
    assert [(j.id, j.result) for j in listed] == [
        (find, {"suggestions": {"consensus": 0.02}, "trust": {"level": "high"}}),
        (train, {"summary": {"best_val_top1": 0.97}})]
    worker = store.register_worker("CPU", host="h", pid=4242)
    assert store.claim(worker).id == selftest
    assert store.mark_worker_dead("h", 4242, "killed by SIGKILL") == [selftest]
    assert store.get(selftest).status == "failed"
    assert store.get(selftest).error == "killed by SIGKILL"
    assert store.live_workers() == []
