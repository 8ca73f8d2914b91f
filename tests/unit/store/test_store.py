"""The job store on a real SQLite file: queue, metrics cursor, cancel, delete, reaping."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import pytest

import lrlab.store as store_module
import lrlab.store.jobs as store_jobs
import lrlab.store.workers as store_workers
from lrlab.cli.jobs import apply_overrides
from lrlab.core.config_files import read_config_file
from lrlab.core.errors import LrlabError
from lrlab.core.reporting import MemoryReporter
from lrlab.jobs import kinds
from lrlab.jobs.kinds import selftest
from lrlab.store import MetricPoint, Store
from lrlab.store.reporter import StoreReporter


class FakeClock:
    """Stands in for the store's `time` module so heartbeat ages are exact, not slept."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def store(lrlab_home: Path) -> Store:
    with Store() as s:
        yield s


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    for part in (store_jobs, store_workers):  # the store's clock, wherever it is read
        monkeypatch.setattr(part, "time", fake)
    return fake


def points(step: int, **values: float) -> list[MetricPoint]:
    return [MetricPoint("step", step, key, value, 0.0) for key, value in values.items()]


def test_default_url_is_a_sqlite_file_under_lrlab_home(store: Store, lrlab_home: Path) -> None:
    assert store.url == f"sqlite:///{lrlab_home / 'lrlab.db'}"
    assert (lrlab_home / "lrlab.db").exists()


def test_lrlab_db_env_overrides_home(lrlab_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = lrlab_home / "other.db"
    monkeypatch.setenv("LRLAB_DB", f"sqlite:///{other}")
    with Store() as s:
        s.submit("selftest", {})
    assert other.exists() and not (lrlab_home / "lrlab.db").exists()


def test_sqlite_runs_in_wal_mode(store: Store) -> None:
    with store._read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("not a url", "cannot parse"),
        ("sqlite://", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
        ("mysql://u@h/db", "not supported"),
        ("sqlite:////no/such/folder/lrlab.db", "does not exist"),
    ],
)
def test_bad_database_urls_are_refused_clearly(lrlab_home: Path, url: str, fragment: str) -> None:
    with pytest.raises(LrlabError, match=fragment):
        Store(url)


def test_lrlab_home_that_cannot_be_created_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("LRLAB_HOME", str(blocker / "home"))
    monkeypatch.delenv("LRLAB_DB", raising=False)
    with pytest.raises(LrlabError, match="LRLAB_HOME: cannot create"):
        Store()


def test_submit_then_get_round_trips_the_config(store: Store) -> None:
    config = {"steps": 3, "nested": {"lr": 0.1, "list": [1, 2]}}
    job = store.get(store.submit("selftest", config))
    assert (job.kind, job.status, job.config, job.progress) == ("selftest", "queued", config, 0.0)
    assert job.worker is None and job.started is None and not job.is_finished


def test_unknown_kind_and_unknown_id_are_refused(store: Store) -> None:
    """The kinds are lrlab.jobs.kinds' to know (the store holds no domain): a submit through
    them refuses an unknown kind; the store itself refuses only a name its column cannot hold."""
    with pytest.raises(LrlabError, match="job kind: expected one of find, train, check"):
        kinds.submit(store, "fit", {})
    with pytest.raises(LrlabError, match="job kind: expected a name of 1 to 16 characters"):
        store.submit("x" * 17, {})
    with pytest.raises(LrlabError, match="job 42: no such job"):
        store.get(42)
    with pytest.raises(LrlabError, match="job 42: no such job"):
        store.request_cancel(42)
    with pytest.raises(LrlabError, match="job 42: no such job"):
        store.append_metrics(42, points(0, loss=1.0))


def test_claim_takes_oldest_first_and_each_job_once(store: Store) -> None:
    ids = [store.submit("selftest", {"i": i}) for i in range(3)]
    claimed = [store.claim("w1"), store.claim("w2"), store.claim("w1"), store.claim("w2")]
    assert [j.id for j in claimed[:3]] == ids
    assert claimed[3] is None
    assert [j.worker for j in claimed[:3]] == ["w1", "w2", "w1"]
    assert all(store.get(i).status == "running" for i in ids)


def test_concurrent_claims_from_threads_never_share_a_job(lrlab_home: Path) -> None:
    with Store() as s:
        ids = {s.submit("selftest", {}) for _ in range(60)}
    taken: dict[str, list[int]] = {}

    def drain(name: str) -> None:
        with Store() as mine:
            got = taken.setdefault(name, [])
            while (job := mine.claim(name)) is not None:
                got.append(job.id)

    threads = [threading.Thread(target=drain, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    all_taken = [i for got in taken.values() for i in got]
    assert sorted(all_taken) == sorted(ids)  # every job once, none twice


def test_metrics_cursor_returns_each_row_once_in_order(store: Store) -> None:
    job_id = store.submit("selftest", {})
    assert store.append_metrics(job_id, points(0, loss=2.0, lr=0.1)) == 2
    first = store.metrics_since(job_id)
    assert [(m.seq, m.step, m.key, m.value) for m in first] == [
        (1, 0, "loss", 2.0),
        (2, 0, "lr", 0.1),
    ]
    cursor = first[-1].seq
    assert store.metrics_since(job_id, cursor) == []
    assert store.append_metrics(job_id, points(1, loss=1.5)) == 3
    store.append_metrics(job_id, [MetricPoint("epoch", 0, "val_top1", 0.5, 0.0)])
    new = store.metrics_since(job_id, cursor)
    assert [(m.seq, m.scope, m.key) for m in new] == [(3, "step", "loss"), (4, "epoch", "val_top1")]
    assert [m.seq for m in store.metrics_since(job_id, 1, limit=2)] == [2, 3]
    assert store.get(job_id).last_seq == 4


def test_metric_cursors_are_per_job(store: Store) -> None:
    a, b = store.submit("selftest", {}), store.submit("selftest", {})
    store.append_metrics(a, points(0, loss=1.0))
    store.append_metrics(b, points(0, loss=9.0, lr=0.1))
    assert [m.value for m in store.metrics_since(a)] == [1.0]
    assert [m.seq for m in store.metrics_since(b)] == [1, 2]


def test_non_finite_values_survive_or_become_nan(store: Store) -> None:
    job_id = store.submit("selftest", {})
    store.append_metrics(job_id, points(0, a=math.nan, b=math.inf, c=-1.0))
    values = {m.key: m.value for m in store.metrics_since(job_id)}
    assert math.isnan(values["a"]) and values["b"] == math.inf and values["c"] == -1.0
    claimed = store.claim("w")
    assert claimed is not None
    store.finish(job_id, "succeeded", result={"loss": math.nan, "curve": [1.0, math.inf]})
    assert store.get(job_id).result == {"loss": None, "curve": [1.0, None]}


def test_progress_is_clamped_and_carries_a_message(store: Store) -> None:
    job_id = store.submit("selftest", {})
    store.set_progress(job_id, 1.7, "almost")
    job = store.get(job_id)
    assert (job.progress, job.message) == (1.0, "almost")


def test_heartbeat_lease_is_only_the_claiming_workers(store: Store) -> None:
    job_id = store.submit("selftest", {})
    store.claim("w1")
    assert store.heartbeat(job_id, "w1") == (True, False)
    assert store.heartbeat(job_id, "w2") == (False, False)
    assert store.request_cancel(job_id) == "running"
    assert store.heartbeat(job_id, "w1") == (True, True)
    assert store.finish(job_id, "cancelled", worker_id="w1")
    assert store.heartbeat(job_id, "w1") == (False, False)


def test_cancel_of_a_queued_job_is_immediate_and_it_is_never_claimed(store: Store) -> None:
    job_id = store.submit("selftest", {})
    assert store.request_cancel(job_id) == "cancelled"
    assert store.get(job_id).status == "cancelled"
    assert store.claim("w") is None
    assert store.request_cancel(job_id) == "cancelled"  # idempotent


def test_finish_only_ends_a_running_job_of_that_worker(store: Store) -> None:
    job_id = store.submit("selftest", {})
    assert not store.finish(job_id, "succeeded")  # still queued
    store.claim("w1")
    assert not store.finish(job_id, "succeeded", worker_id="w2")
    assert store.finish(job_id, "succeeded", result={"x": 1}, worker_id="w1")
    assert not store.finish(job_id, "failed", error="late")
    job = store.get(job_id)
    assert (job.status, job.result, job.error, job.progress) == ("succeeded", {"x": 1}, None, 1.0)
    with pytest.raises(LrlabError, match="job status"):
        store.finish(job_id, "running")


def test_delete_removes_job_and_metrics_and_ids_are_not_reused(store: Store) -> None:
    old = store.submit("selftest", {})
    store.append_metrics(old, points(0, loss=1.0))
    store.delete(old)
    with pytest.raises(LrlabError, match="no such job"):
        store.get(old)
    assert store.metrics_since(old) == []
    assert store.submit("selftest", {}) > old


def test_a_running_job_cannot_be_deleted(store: Store) -> None:
    job_id = store.submit("selftest", {})
    store.claim("w")
    with pytest.raises(LrlabError, match="cancel it"):
        store.delete(job_id)


def test_list_jobs_newest_first_with_filters(store: Store) -> None:
    ids = [store.submit("selftest", {}) for _ in range(4)]
    store.claim("w")
    assert [j.id for j in store.list_jobs()] == ids[::-1]
    assert [j.id for j in store.list_jobs(2)] == ids[:1:-1]
    assert [j.id for j in store.list_jobs(status="running")] == ids[:1]
    assert store.list_jobs(kind="train") == []
    with pytest.raises(LrlabError, match="job status"):
        store.list_jobs(status="done")


def test_fail_stale_reaps_only_silent_running_jobs_and_keeps_metrics(
    store: Store, clock: FakeClock
) -> None:
    silent, alive, queued = (store.submit("selftest", {}) for _ in range(3))
    store.claim("dead-worker")
    store.claim("live-worker")
    store.append_metrics(silent, points(0, loss=1.0, lr=0.1))
    clock.now += 20
    store.heartbeat(alive, "live-worker")
    clock.now += 15  # silent: 35 s without heartbeat; alive: 15 s
    assert store.fail_stale(30.0) == [silent]
    dead = store.get(silent)
    assert dead.status == "failed"
    assert dead.error == (
        "worker dead-worker stopped heartbeating (presumed dead) at "
        f"{store_module.format_time(1_000_000.0)}"
    )
    assert len(store.metrics_since(silent)) == 2
    assert store.get(alive).status == "running" and store.get(queued).status == "queued"
    assert store.fail_stale(30.0) == []
    assert not store.finish(silent, "succeeded", worker_id="dead-worker")  # too late


def test_live_workers_ignore_stopped_and_silent_ones(store: Store, clock: FakeClock) -> None:
    a = store.register_worker("CPU (2 threads)")
    b = store.register_worker("GPU Test")
    c = store.register_worker("CPU")
    store.worker_heartbeat(c, "stopped")
    clock.now += 40
    store.worker_heartbeat(b, "busy", job_id=7)
    live = store.live_workers(max_age_s=30)
    assert [(w.id, w.device, w.status, w.job_id) for w in live] == [(b, "GPU Test", "busy", 7)]
    assert a != b and a.count("-") >= 2


def test_store_reporter_writes_steps_epochs_and_progress(store: Store) -> None:
    job_id = store.submit("selftest", {})
    stop = threading.Event()
    with StoreReporter(store, job_id, stop) as reporter:
        reporter.step(0, {"loss": 2.0, "lr": 0.01})
        reporter.step(1, {"loss": 1.0, "lr": 0.02})
        reporter.epoch(0, {"val_top1": 0.75})
        reporter.progress(0.5, "half way")
        assert not reporter.should_stop()
        stop.set()
        assert reporter.should_stop()
    rows = [(m.scope, m.step, m.key, m.value) for m in store.metrics_since(job_id)]
    assert rows == [
        ("step", 0, "loss", 2.0),
        ("step", 0, "lr", 0.01),
        ("step", 1, "loss", 1.0),
        ("step", 1, "lr", 0.02),
        ("epoch", 0, "val_top1", 0.75),
    ]
    assert (store.get(job_id).progress, store.get(job_id).message) == (0.5, "half way")


def test_store_reporter_flushes_while_the_run_is_still_going(store: Store) -> None:
    job_id = store.submit("selftest", {})
    with StoreReporter(store, job_id, flush_interval_s=0.05) as reporter:
        reporter.step(0, {"loss": 1.0})
        seen = threading.Event()
        for _ in range(200):  # liveness, not timing: give up only after 10 s
            if store.metrics_since(job_id):
                seen.set()
                break
            seen.wait(0.05)
        assert seen.is_set()


def test_selftest_fits_the_line_like_least_squares_gradient_descent() -> None:
    xs = np.arange(16) / 8 - 1.0
    ys = 2 * xs + 1
    reporter = MemoryReporter()
    result = selftest.run_from_config({"steps": 400, "lr": 0.2}, reporter)
    assert reporter.series("loss")[0] == pytest.approx(np.mean(ys**2))
    w, b = 0.0, 0.0  # the same descent, vectorised, as the reference
    for _ in range(400):
        err = w * xs + b - ys
        w, b = w - 0.2 * 2 * np.mean(err * xs), b - 0.2 * 2 * np.mean(err)
    assert (result["w"], result["b"]) == (pytest.approx(w), pytest.approx(b))
    assert (w, b) == (pytest.approx(2.0, abs=1e-3), pytest.approx(1.0, abs=1e-3))
    assert result["steps_done"] == 400 and not result["stopped"]


def test_selftest_honours_stop_and_reports_failure() -> None:
    reporter = MemoryReporter(stop_after_steps=3)
    result = selftest.run_from_config({"steps": 50}, reporter)
    assert result["steps_done"] == 3 and result["stopped"]
    with pytest.raises(selftest.SelfTestError, match="failure requested at step 2"):
        selftest.run_from_config({"fail_at_step": 2}, MemoryReporter())


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"steps": 0}, "steps"),
        ({"steps": True}, "steps"),
        ({"lr": 2}, "lr"),
        ({"step_seconds": -1}, "step_seconds"),
        ({"colour": "red"}, "unknown field"),
    ],
)
def test_runner_validation_refuses_bad_configs(config: dict, fragment: str) -> None:
    with pytest.raises(LrlabError, match=fragment):
        kinds.validate("selftest", config)


def test_runner_validation_fills_defaults_and_knows_the_kinds() -> None:
    assert kinds.validate("selftest", {"steps": 3}) == {**selftest.DEFAULTS, "steps": 3}
    with pytest.raises(LrlabError, match="expected one of find, train, check, selftest"):
        kinds.validate("fit", {})


def test_config_files_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text("model: small_cnn\noptimizer:\n  name: sgd\n  lr: 0.1\n")
    config = apply_overrides(
        read_config_file(path), ["optimizer.lr=0.5", "num_points=20", "tags=[a, b]", "note="]
    )
    assert config == {
        "model": "small_cnn",
        "optimizer": {"name": "sgd", "lr": 0.5},
        "num_points": 20,
        "tags": ["a", "b"],
        "note": "",
    }
    with pytest.raises(LrlabError, match="KEY=VALUE"):
        apply_overrides({}, ["lr"])
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(LrlabError, match="must hold a mapping"):
        read_config_file(tmp_path / "list.json")
    with pytest.raises(LrlabError, match="cannot read"):
        read_config_file(tmp_path / "missing.yaml")


def test_store_reporter_writes_the_first_metric_without_waiting_for_its_interval(
    store: Store,
) -> None:
    """A page watching a job waits for its first point: it is written at once, not at the next
    flush (an interval of an hour here: only the first-point wake-up can write it)."""
    job_id = store.submit("selftest", {})
    with StoreReporter(store, job_id, flush_interval_s=3600.0) as reporter:
        reporter.step(0, {"loss": 1.0})
        seen = threading.Event()
        for _ in range(200):  # liveness: give up after 10 s
            if store.metrics_since(job_id):
                seen.set()
                break
            seen.wait(0.05)
        assert seen.is_set()
        reporter.step(1, {"loss": 0.5})  # later points wait for the interval (or the exit)
    assert len(store.metrics_since(job_id)) == 2


def test_work_done_elsewhere_is_recorded_as_succeeded_and_never_claimed(store: Store) -> None:
    job_id = store.record("find", {"imported": {"file": "lr.csv"}}, {"suggestions": {}})
    job = store.get(job_id)
    assert (job.status, job.progress, job.message) == ("succeeded", 1.0, "kept")
    assert job.started == job.finished == job.created and job.result == {"suggestions": {}}
    assert store.claim("w") is None  # nothing for a worker to run
    assert [j.id for j in store.list_jobs(None)] == [job_id]
