"""`lrlab app` (what `make run` starts) with no browser at all: it listens on loopback only, its
worker is there from the start, and a worker killed mid-job is replaced within seconds, its job
failed with the reason, all with no page open."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobs_helpers import LRLAB, wait_finished, wait_for

from lrlab.store import Store

pytestmark = pytest.mark.timeout(240)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a LISTEN socket on port, from /proc/net/tcp{,6} (hex, little-endian)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                if len(address) == 8:
                    found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1]))
                else:
                    found.add(address)
    return found


@pytest.fixture
def app(lrlab_home: Path) -> Iterator[tuple[str, int, Store]]:
    port = _free_port()
    env = {**os.environ, "LRLAB_HOME": str(lrlab_home)}
    with open(lrlab_home / "app.log", "wb") as log:
        proc = subprocess.Popen([*LRLAB, "app", "--port", str(port)], env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    store = Store()
    try:
        wait_for(lambda: proc.poll() is not None or _healthy(url), "the app to answer")
        assert proc.poll() is None, (lrlab_home / "app.log").read_text()
        yield url, port, store
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        store.close()


def test_the_app_listens_on_loopback_only(app: tuple[str, int, Store]) -> None:
    _, port, _ = app
    assert _listening_addresses(port) == {"127.0.0.1"}


def test_a_job_from_the_cli_runs_with_no_page_ever_opened(app: tuple[str, int, Store]) -> None:
    _, _, store = app
    job_id = store.submit("selftest", {"steps": 3})
    assert wait_finished(store, job_id).status == "succeeded"


def test_a_killed_worker_is_replaced_and_its_job_failed_with_the_reason(
    app: tuple[str, int, Store],
) -> None:
    _, _, store = app
    slow = store.submit("selftest", {"steps": 1000, "step_seconds": 0.05})
    wait_for(lambda: store.get(slow).status == "running", "the slow job to start")
    (worker,) = store.live_workers()
    os.kill(worker.pid, signal.SIGKILL)
    failed = wait_finished(store, slow)
    # the supervisor's verdict (immediate), not the reaper's (after the heartbeat timeout)
    assert failed.status == "failed" and "killed by SIGKILL" in failed.error
    replacement = wait_for(lambda: [w for w in store.live_workers() if w.pid != worker.pid],
                           "a new local worker")
    after = store.submit("selftest", {"steps": 3})
    assert wait_finished(store, after).status == "succeeded"
    assert store.get(after).worker == replacement[0].id
