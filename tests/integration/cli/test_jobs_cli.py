"""The job commands as a user types them, and the app's local-worker start-up."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobs_helpers import LRLAB, WorkerProcess, wait_for

from lrlab.core.errors import LrlabError
from lrlab.jobs import supervisor as local
from lrlab.store import Store

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def store(lrlab_home: Path) -> Iterator[Store]:
    with Store() as s:  # the default URL under the test's LRLAB_HOME
        yield s


def lrlab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LRLAB, *args], capture_output=True, text=True, timeout=120)


def test_submit_show_jobs_cancel_delete(store: Store, tmp_path: Path) -> None:
    config = tmp_path / "job.yaml"
    config.write_text("steps: 4\nlr: 0.1\n")
    done = lrlab("submit", "selftest", "--config", str(config), "--set", "steps=3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().isdigit()  # only the id: `id=$(lrlab submit ...)` works
    job_id = int(done.stdout)
    assert store.get(job_id).config == {
        "steps": 3,
        "lr": 0.1,
        "step_seconds": 0.0,
        "fail_at_step": None,
    }
    assert "no live worker" in done.stderr
    as_json = lrlab("submit", "selftest", "--json")
    assert json.loads(as_json.stdout) == {"id": job_id + 1, "kind": "selftest", "status": "queued"}
    store.delete(job_id + 1)

    listing = lrlab("jobs")
    assert listing.returncode == 0
    header, row = listing.stdout.splitlines()[:2]
    assert header.split()[:4] == ["ID", "KIND", "STATUS", "PROGRESS"]
    assert row.split()[:4] == [str(job_id), "selftest", "queued", "0%"]

    shown = lrlab("show", str(job_id))
    assert shown.stdout.startswith(f"job {job_id} (selftest): queued, 0%")

    cancelled = lrlab("cancel", str(job_id))
    assert cancelled.stdout.strip() == f"job {job_id} cancelled"
    assert store.get(job_id).status == "cancelled"
    assert lrlab("jobs", "--status", "queued").stdout.strip() == "no jobs"

    assert lrlab("delete", str(job_id)).returncode == 0
    missing = lrlab("show", str(job_id))
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        f"lrlab: error: job {job_id}: no such job in {store.display_url}"
    )


def test_bad_submissions_are_refused_before_anything_is_queued(store: Store) -> None:
    for args, message in [
        (["--set", "steps=0"], "selftest steps: expected an integer in [1, 1000000], got 0"),
        (["--config", "/no/such.yaml"], "--config: cannot read /no/such.yaml"),
        (["--set", "speed=3"], "selftest config: unknown field(s) speed"),
    ]:
        refused = lrlab("submit", "selftest", *args)
        assert refused.returncode == 2
        assert refused.stderr.startswith(f"lrlab: error: {message}")
        assert len(refused.stderr.strip().splitlines()) == 1
    assert store.list_jobs() == []


def test_a_worker_runs_what_submit_queued_and_show_reports_it(
    store: Store, lrlab_home: Path
) -> None:
    job_id = int(lrlab("submit", "selftest", "--set", "steps=5").stdout.split()[0])
    run = subprocess.run([*LRLAB, "worker", "--once"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert f"job {job_id}: succeeded" in run.stderr
    shown = lrlab("show", str(job_id)).stdout
    assert f"job {job_id} (selftest): succeeded, 100%" in shown
    assert "last step 4: loss=" in shown
    assert "metrics   10 values stored" in shown
    assert "result    steps_done=5, stopped=False" in shown


def test_the_app_starts_one_local_worker_and_it_passes_the_check(store: Store) -> None:
    try:
        first = local.ensure_local_worker()
        again = local.ensure_local_worker()
        assert first.started_pid is not None
        assert again.started_pid == first.started_pid  # started once, not per call
        status = wait_for(
            lambda: (s := local.ensure_local_worker()).workers and not s.starting and s,
            "the local worker to register",
        )
        assert [w.pid for w in status.workers] == [first.started_pid]
        assert status.workers[0].device.startswith("CPU (")
        niceness = int(Path(f"/proc/{first.started_pid}/stat").read_text().split()[18])
        assert niceness >= local.LOCAL_WORKER_NICENESS  # the pages keep CPU priority
        assert "started by this app" in status.summary()
        assert local.check_workers(store).startswith("ok: worker ")
        assert store.list_jobs() == []  # the check cleans up after itself
    finally:
        local.stop_local_workers()
    wait_for(lambda: not store.live_workers(), "the local worker to stop")


def test_no_local_worker_when_workers_run_elsewhere(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LRLAB_LOCAL_WORKER", "0")  # e.g. the compose app service
    status = local.ensure_local_worker()
    assert status.started_pid is None and not status.starting and status.workers == []
    assert status.summary() == "No live worker"
    assert store.url not in local._supervisors


def test_check_without_a_worker_says_how_to_start_one(store: Store) -> None:
    with pytest.raises(LrlabError, match=r"no live worker .* start one with `lrlab worker`"):
        local.check_workers(store)


def test_a_worker_started_for_a_process_exits_when_that_process_ends(
    store: Store, lrlab_home: Path
) -> None:
    owner = subprocess.Popen(["sleep", "600"])
    worker = WorkerProcess(
        store.url, lrlab_home, lrlab_home / "w.log", "--exit-with", str(owner.pid)
    )
    wait_for(store.live_workers, "the worker to register")
    owner.kill()
    owner.wait()
    assert worker.process.wait(timeout=60) == 0
    assert f"process {owner.pid} ended" in worker.log()
    assert store.live_workers() == []
    assert not os.path.exists(f"/proc/{worker.pid}")


def test_a_local_worker_that_keeps_dying_is_restarted_with_back_off(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(local.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(local.sys, "executable", "/bin/false")  # a worker that cannot start
    supervisor = local.LocalWorkerSupervisor(store.url)
    delays = []
    try:
        supervisor.tick()  # first start
        for _ in range(8):
            supervisor.process.wait(timeout=60)
            clock[0] += 0.5  # it died young
            supervisor.tick()
            assert supervisor.process is None  # not restarted at once
            status = supervisor.status()
            assert status.workers == [] and not status.starting
            assert status.failure.startswith("the local worker exited with code 1 at ")
            delays.append(status.retry_in_s)
            assert status.summary().endswith(f"restarting in {status.retry_in_s:.0f} s")
            clock[0] += status.retry_in_s
            supervisor.tick()  # due: restarted
            assert supervisor.process is not None
        assert delays == [1, 2, 4, 8, 16, 32, 60, 60]
        assert supervisor.status().restarts == 8
        assert supervisor.status().restart_note().startswith("Local worker restarted 8 times")
    finally:
        supervisor.stop()
